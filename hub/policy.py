"""Who may have a data session, for which project: the rules every enclave spawner enforces.

``SessionPolicy`` is mixed into the local ``EnclaveSpawner`` and the Kubernetes
``EnclaveKubeSpawner`` alike, so both apply one set of rules, in one place, at two moments:
``check_may_start`` before anything starts, and ``poll()`` while the session runs, which ends it
as soon as a rule no longer holds. The rules (``check_may_run``): the user is a researcher, has
accepted the current data-use agreement, and may use the session's project (known, theirs,
approved, not expired). Refusals are ``SpawnException``s (403): the user sees the message, never
a 500. A check that cannot be made (the state database fails) ends the session: it fails closed.

The project a session is for is kept in the spawner's state (``session_project``), so a hub
restart finds it; a running session whose project is not known is ended. So are the scopes the
project's owners had approved when it started (``session_access``): once any of them is
withdrawn or narrowed, the session could still read what is no longer approved (its extract, a
connection opened before), so it ends, and the next one starts on what is approved then. A
session whose state has no such record (started before this rule) is ended too.

``poll()`` also asks the sign-on provider about the user when their auth is older than
``Authenticator.auth_refresh_age`` (``EnclaveAuthenticator.confirm``): a user it revoked loses
the session at once, and changed groups (no longer ``researchers``) end it through the rules.
A provider that cannot be asked ends the session only once the user has gone unconfirmed for
twice the refresh age: a short outage of the provider does not cost everyone their kernels.
"""

import asyncio
import json
import pwd
import time
from html import escape

from jupyterhub.spawner import SpawnException
from traitlets import HasTraits, Unicode

from enclave.audit.actions import AuditAction
from enclave.consortium import consortium
from enclave.errors import EnclaveError
from enclave.hub.context import enclave_context
from enclave.projects import Project, access_within


def refuse(message: str, reason: str, html: str | None = None) -> SpawnException:
    return SpawnException(message, reason=reason, status_code=403, message_html=html)


class SessionPolicy(HasTraits):
    """Mixin for a ``Spawner`` (before it in the bases): the spawn form, the rules a session
    must meet to start and to go on, and the project kept in the spawner's state."""

    session_project = Unicode(
        None,
        allow_none=True,
        help="The project the running session is for (set at start, kept in the state).",
    )

    session_access = Unicode(
        None,
        allow_none=True,
        help="JSON of the scopes approved when the running session started (kept in the state).",
    )

    # -- the spawn form --------------------------------------------------------------------------
    def project_form(self, spawner) -> str:
        """The spawn form: the user's active projects, or what they must do first."""
        ctx = enclave_context(self.config)
        name = self.user.name
        if not ctx.acceptances.has_accepted(name, ctx.agreement.version):
            return (
                '<p class="alert alert-warning">Before any access to data you must read and '
                'accept the <a href="/hub/agreement">data-use agreement</a>.</p>'
            )
        projects = ctx.projects.active_projects_for(name)
        if not projects:
            return (
                '<p class="alert alert-warning">You have no active approved project. Ask an '
                "administrator to add you to one.</p>"
            )
        options = "".join(
            f'<option value="{escape(p.name)}">{escape(p.name)} — {escape(p.purpose)} '
            f"(until {p.expires})</option>"
            for p in projects
        )
        return (
            '<label for="enclave-project">Project</label>'
            f'<select id="enclave-project" name="project" class="form-control">{options}</select>'
        )

    def options_from_form(self, formdata):
        return {"project": (formdata.get("project") or [""])[0]}

    # -- the rules -------------------------------------------------------------------------------
    def check_may_run(self, ctx, project_name: str) -> Project:
        """The rules a session must meet, to start and at every poll: return its project or
        raise the refusal the user should see."""
        name = self.user.name
        if consortium(self.config).researchers_group not in {g.name for g in self.user.groups}:
            raise refuse(
                "Only researchers get data sessions; reviewers and data stewards work in the "
                "review service.",
                reason="not-researcher",
            )
        version = ctx.agreement.version
        if not ctx.acceptances.has_accepted(name, version):
            raise refuse(
                f"Accept the current data-use agreement (version {version}, /hub/agreement) "
                "before starting a session.",
                reason="agreement",
                html='Accept the current <a href="/hub/agreement">data-use agreement</a> '
                "before starting a session.",
            )
        try:
            return ctx.projects.check_user_can_use(name, project_name)
        except EnclaveError as e:
            raise refuse(str(e), reason="project") from None

    def check_may_start(self):
        """Return ``(context, project)`` for the project the user chose, or raise the refusal;
        the project is then the session's (``session_project``)."""
        ctx = enclave_context(self.config)
        project = self.check_may_run(ctx, self.user_options.get("project", ""))
        self.session_project = project.name
        self.session_access = json.dumps(project.scopes, sort_keys=True)
        return ctx, project

    async def reason_to_end(self, ctx) -> str | None:
        """Why the running session must end now, or None while every rule holds. Spawners
        extend it with their own reasons (the local one: statements no longer recorded)."""
        revoked = await self.sign_on_reason_to_end()
        if revoked:
            return revoked
        try:
            project = self.check_may_run(ctx, self.session_project or "")
        except SpawnException as e:
            return e.message
        return self.access_changed(project)

    def access_changed(self, project: Project) -> str | None:
        """Why the session must end because its project's approvals changed, or None."""
        from enclave.warehouse.grant import catalog

        started = json.loads(self.session_access) if self.session_access else None
        if started is None:
            return f"project {project.name!r}: the approvals this session started with are unknown."
        if access_within(started, project.scopes, catalog()):
            return None
        gone = sorted(set(started) - set(project.scopes)) or sorted(started)
        return (
            f"project {project.name!r}: an approval of {', '.join(gone)} was withdrawn or "
            "narrowed; start a new session to work with what is approved now."
        )

    async def sign_on_reason_to_end(self) -> str | None:
        """Ask the provider about the user if their auth is due a refresh (see the module)."""
        authenticator = getattr(self, "authenticator", None)
        if not hasattr(authenticator, "confirm") or not authenticator.auth_refresh_age:
            return None
        user, now = self.user, time.monotonic()
        if user._auth_refreshed and now - user._auth_refreshed < authenticator.auth_refresh_age:
            return None
        confirmation = await authenticator.confirm(user)
        if confirmation.revoked:
            return confirmation.revoked
        if confirmation.auth_model is None:  # the provider could not be asked
            if not confirmation.within_grace:
                return "the sign-on provider could not confirm your access for too long"
        else:
            model = confirmation.auth_model
            if authenticator.manage_groups and model.get("groups") is not None:
                user.sync_groups(model["groups"])
            if "auth_state" in model:
                await user.save_auth_state(model["auth_state"])
        user._auth_refreshed = now  # asked again after auth_refresh_age
        return None

    _stopping = False

    async def poll(self):
        """The session's status; also ends a running session as soon as ``reason_to_end``
        gives a reason (within ``Spawner.poll_interval``)."""
        status = await super().poll()
        if status is not None or self._stopping:
            return status
        try:
            reason = await self.reason_to_end(enclave_context(self.config))
        except Exception as e:  # a check that cannot be made fails closed
            self.log.error(
                "Session policy check for %s failed: %s", self.user.name, type(e).__name__
            )
            reason = f"the session policy could not be checked ({type(e).__name__})"
        if reason is None:
            return None
        self.log.warning("Stopping %s's session: %s", self.user.name, reason)
        await self.stop(now=True)
        self._keep_why_it_ended(reason)
        return 1

    def _keep_why_it_ended(self, reason: str) -> None:
        """Keep the reason where JupyterHub keeps a failed start's: its pages (the start page,
        /user/NAME/ which an open JupyterLab reaches) then tell the user why."""
        ended = asyncio.get_running_loop().create_future()
        ended.set_exception(refuse(f"Your session was ended: {reason}.", reason="ended"))
        ended.exception()  # read: no "never retrieved" warning when it is replaced
        self._spawn_future = ended

    async def stop(self, now=False):
        self._stopping = True  # a spawner's stop() may poll: no policy check from there
        try:
            await super().stop(now=now)
        finally:
            self._stopping = False

    # -- state -----------------------------------------------------------------------------------
    def get_state(self):
        state = super().get_state()
        if self.session_project:
            state["enclave_project"] = self.session_project
        if self.session_access:
            state["enclave_access"] = self.session_access
        return state

    def load_state(self, state):
        super().load_state(state)
        self.session_project = state.get("enclave_project")
        self.session_access = state.get("enclave_access")

    def clear_state(self):
        super().clear_state()
        self.session_project = None
        self.session_access = None

    # -- shared helpers --------------------------------------------------------------------------
    def unix_account(self) -> pwd.struct_passwd:
        """The researcher's account, created deliberately by an administrator beforehand."""
        try:
            return pwd.getpwnam(self.user.name)
        except KeyError:
            raise refuse(
                f"There is no Unix account for {self.user.name!r} on this enclave yet; ask an "
                "administrator to run `enclave project add-member`.",
                reason="no-account",
            ) from None

    def record_spawn(self, ctx, project) -> None:
        ctx.audit.append(
            actor=self.user.name,
            action=AuditAction.SPAWN,
            project=project.name,
            details={"institutions": list(project.institutions)},
        )
