"""Hub pages of the enclave: the data-use agreement (``/hub/agreement``)."""

from jupyterhub.handlers import BaseHandler
from tornado import web

from enclave.hub.context import enclave_context


class AgreementHandler(BaseHandler):
    """Show the agreement; record its acceptance (user, version, time) on POST."""

    def _context(self):
        return enclave_context(self.settings["config"])

    @web.authenticated
    async def get(self):
        ctx = self._context()
        user = self.current_user
        html = await self.render_template(
            "agreement.html",
            agreement_text=ctx.agreement.text,
            agreement_version=ctx.agreement.version,
            accepted=ctx.acceptances.has_accepted(user.name, ctx.agreement.version),
        )
        self.finish(html)

    @web.authenticated
    async def post(self):
        ctx = self._context()
        if self.get_body_argument("accept", "") != "yes":
            raise web.HTTPError(400, "Tick the box to accept the data-use agreement.")
        if self.get_body_argument("version", "") != ctx.agreement.version:
            raise web.HTTPError(
                409, "The agreement changed while you were reading it; read it again."
            )
        ctx.acceptances.accept(self.current_user.name, ctx.agreement.version)
        self.redirect(self.hub.base_url + "spawn")
