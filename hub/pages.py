"""The hub's own pages: the data-use agreement (``/hub/agreement``) with its confirmation.

The start page (JupyterHub's home page, ``templates/hub/home.html``), refusals and error pages
are templates fed by ``start_page.StartPage``; the administrators' pages are ``admin_pages.py``.
"""

from jupyterhub.handlers import BaseHandler
from tornado import web

from enclave.hub.context import enclave_context


class AgreementHandler(BaseHandler):
    """Show the agreement; record its acceptance (user, version, time) on POST, then confirm."""

    def _context(self):
        return enclave_context(self.settings["config"])

    async def _render(self, confirmed: bool = False):
        ctx = self._context()
        agreement = ctx.agreement
        html = await self.render_template(
            "agreement.html",
            agreement=agreement,
            accepted_at=ctx.acceptances.accepted_at(self.current_user.name, agreement.version),
            confirmed=confirmed,
        )
        self.finish(html)

    @web.authenticated
    async def get(self):
        await self._render()

    @web.authenticated
    async def post(self):
        ctx = self._context()
        if self.get_body_argument("accept", "") != "yes":
            raise web.HTTPError(
                400, "Tick the box to confirm that you have read the agreement, then accept it."
            )
        if self.get_body_argument("version", "") != ctx.agreement.version:
            raise web.HTTPError(
                409,
                "The agreement changed while you were reading it; read the new version and "
                "accept that one.",
            )
        ctx.acceptances.accept(self.current_user.name, ctx.agreement.version)
        await self._render(confirmed=True)
