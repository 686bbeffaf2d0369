"""Who may start a data session, for which project: the checks every enclave spawner runs first.

``SessionPolicy`` is mixed into the local ``EnclaveSpawner`` and the Kubernetes
``EnclaveKubeSpawner`` alike, so both refuse the same things with the same messages: a user who
is not a researcher, an agreement not accepted, a project that is unknown, not theirs, expired
or unapproved. Refusals are ``SpawnException``s (403): the user sees the message, never a 500.
"""

import pwd
from html import escape

from jupyterhub.spawner import SpawnException

from enclave.errors import EnclaveError
from enclave.hub.authenticator import RESEARCHERS
from enclave.hub.context import enclave_context


def refuse(message: str, reason: str, html: str | None = None) -> SpawnException:
    return SpawnException(message, reason=reason, status_code=403, message_html=html)


class SessionPolicy:
    """Mixin for a ``Spawner``: the spawn form and the checks before ``start``."""

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

    def check_may_start(self):
        """Return ``(context, project)`` or raise the refusal the user should see."""
        ctx = enclave_context(self.config)
        name = self.user.name
        if RESEARCHERS not in {g.name for g in self.user.groups}:
            raise refuse(
                "Only researchers get data sessions; reviewers and data stewards work in the "
                "review service.",
                reason="not-researcher",
            )
        if not ctx.acceptances.has_accepted(name, ctx.agreement.version):
            raise refuse(
                "Accept the current data-use agreement (/hub/agreement) before starting a session.",
                reason="agreement",
                html='Accept the current <a href="/hub/agreement">data-use agreement</a> '
                "before starting a session.",
            )
        try:
            project = ctx.projects.check_user_can_use(name, self.user_options.get("project", ""))
        except EnclaveError as e:
            raise refuse(str(e), reason="project") from None
        return ctx, project

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
            action="spawn",
            project=project.name,
            details={"institutions": list(project.institutions)},
        )
