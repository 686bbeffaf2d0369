"""The administrators' pages inside the hub (``/hub/enclave-admin/...``), admin role only.

- ``projects``: create a project, add and remove members, record an approval as an
  administrator's override (with the institution's decision it records), expire; every change goes
  through the project registry (``admin.py``, shared with ``enclave project ...``), which writes
  its audit event with the administrator as actor in the same transaction.
- ``agreements``: each hub user's roles and whether they accepted the current agreement.
- ``audit``: the audit trail, newest first, filtered by user, project, request or action, and
  the chain verified on request.
Anyone else gets the hub's 403 page with the way back.
"""

import asyncio
import functools

from jupyterhub import orm
from jupyterhub.handlers import BaseHandler
from tornado import web
from tornado.httputil import url_concat

from enclave.consortium import consortium
from enclave.errors import EnclaveError
from enclave.hub import admin
from enclave.hub.authenticator import is_admin
from enclave.hub.context import enclave_context

AUDIT_PAGE = 100


def admin_only(method):
    @web.authenticated
    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        if not is_admin(self.current_user, consortium(self.settings["config"])):
            raise web.HTTPError(403, "These pages are for the enclave's administrators.")
        return await method(self, *args, **kwargs)

    return wrapper


class AdminPage(BaseHandler):
    template = ""

    @property
    def ctx(self):
        return enclave_context(self.settings["config"])

    async def show(self, status: int = 200, **values):
        self.set_status(status)
        self.finish(await self.render_template(self.template, **values))


class ProjectsPage(AdminPage):
    template = "enclave_admin_projects.html"

    async def _show_projects(self, message: str = "", error: str = "", status: int = 200):
        from enclave.closure import closed_projects

        await self.show(
            status,
            projects=self.ctx.projects.all(),
            closures=closed_projects(self.ctx.projects.engine),  # closed | closing
            institutions=consortium(self.settings["config"]).codes,
            message=message,
            error=error,
        )

    @admin_only
    async def get(self):
        await self._show_projects()

    @admin_only
    async def post(self):
        action = self.get_body_argument("action", "")
        name = self.get_body_argument("project", "").strip()
        actor = self.current_user.name
        registry = self.ctx.projects
        try:
            if action == "create":
                expires = admin.parse_expiry(self.get_body_argument("expires", ""), "Expires")
                purpose = self.get_body_argument("purpose", "")
                registry.create(name, purpose=purpose, expires=expires, actor=actor)
                message = f"Created project {name}; it is usable once an institution approves it."
            elif action == "add-member":
                user = self.get_body_argument("user", "").strip()
                await asyncio.to_thread(admin.add_member, registry, name, user, actor=actor)
                message = f"{user} is now a member of {name}."
            elif action == "remove-member":
                user = self.get_body_argument("user", "").strip()
                registry.remove_member(name, user, actor=actor)
                message = f"{user} is no longer a member of {name}; their sessions end."
            elif action == "approve":
                institution = self.get_body_argument("institution", "")
                reason = self.get_body_argument("reason", "")
                config = self.settings["config"]
                await asyncio.to_thread(
                    admin.approve, registry, config, name, institution, actor=actor, reason=reason
                )
                message = (
                    f"Recorded {institution}'s approval of {name} as an administrator's override; "
                    "its data access is built and its steward sees it."
                )
            elif action == "expire":
                registry.expire(name, actor=actor)
                message = f"Project {name} is expired: its sessions end and none can start."
            else:
                raise EnclaveError(f"unknown action {action!r}; use the buttons on this page.")
        except EnclaveError as e:
            await self._show_projects(error=str(e), status=400)
            return
        await self._show_projects(message=message)


class AgreementsPage(AdminPage):
    template = "enclave_admin_agreements.html"

    @admin_only
    async def get(self):
        ctx = self.ctx
        latest = ctx.acceptances.latest()
        users = []
        for user in self.db.query(orm.User).order_by(orm.User.name):
            version, accepted_at = latest.get(user.name, (None, None))
            users.append(
                {
                    "name": user.name,
                    "groups": sorted(g.name for g in user.groups),
                    "current": version == ctx.agreement.version,
                    "version": version,
                    "accepted_at": accepted_at,
                }
            )
        await self.show(users=users, agreement=ctx.agreement)


class AuditPage(AdminPage):
    template = "enclave_admin_audit.html"

    @admin_only
    async def get(self):
        from enclave.audit import ChainBroken

        filters = {
            key: self.get_argument(key, "").strip() or None
            for key in ("user", "project", "request", "action")
        }
        before = self.get_argument("before", "")
        before = int(before) if before.isdigit() else None
        log = self.ctx.audit
        events = log.events(**filters)
        if before is not None:
            events = [e for e in events if e.seq < before]
        events = events[::-1][:AUDIT_PAGE]
        older = None
        if len(events) == AUDIT_PAGE:
            query = {k: v for k, v in filters.items() if v}
            older = url_concat("audit", {**query, "before": events[-1].seq})
        verified = broken = None
        if self.get_argument("verify", ""):
            try:
                verified = await asyncio.to_thread(log.verify)
            except ChainBroken as e:
                broken = e
        await self.show(
            events=events,
            filters=filters,
            older=older,
            verified=verified,
            broken=broken,
            head=log.head(),
        )
