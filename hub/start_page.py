"""What every hub page shows the signed-in user: the enclave's name, whom to ask, the start page.

``StartPage`` is reached in the hub's templates as ``enclave`` (``start_page`` is a
``JupyterHub.template_vars`` callable, called with the signed-in user for each page); it reads
the state database only when a page asks. Kept free of JupyterHub imports at module level, so
that loading ``jupyterhub_config.py`` (the CLI and the services do) stays quick.
"""

from dataclasses import dataclass
from functools import cached_property

from traitlets import Unicode
from traitlets.config import Configurable

# reasons the start page's own steps already explain: an old refusal of that kind is not repeated
EXPLAINED_BY_STEPS = {"agreement", "project", "not-researcher"}


class EnclavePages(Configurable):
    """What the hub's pages say about this enclave and whom to ask."""

    site_name = Unicode(
        "Consortium research enclave",
        help="""Name of this enclave, shown in every hub page's title and header.""",
    ).tag(config=True)

    contact_name = Unicode(
        "the enclave's administrators",
        help="""Whom researchers should ask when a step is refused (an account, a project,
        access to data), named on every refusal and error page.""",
    ).tag(config=True)

    contact_email = Unicode(
        "",
        help="""E-mail address of ``contact_name``; when set, refusal pages link to it.""",
    ).tag(config=True)

    access_request_url = Unicode(
        "",
        help="""Where a researcher without an active project asks for access (a request
        form). Empty: the start page names ``contact_name`` instead.""",
    ).tag(config=True)


@dataclass(frozen=True)
class Membership:
    name: str
    purpose: str
    status: str  # "active", "expired", "awaiting approval"
    expires: str
    institutions: tuple[str, ...]


class StartPage:
    """What the hub's pages show ``user``; every property reads state only when asked."""

    def __init__(self, config, user):
        self.config = config
        self.user = user

    @cached_property
    def settings(self) -> EnclavePages:
        return EnclavePages(config=self.config)

    @cached_property
    def _ctx(self):
        from enclave.hub.context import enclave_context

        return enclave_context(self.config)

    # -- who --------------------------------------------------------------------------------
    @cached_property
    def groups(self) -> set[str]:
        return {g.name for g in self.user.groups} if self.user else set()

    @cached_property
    def consortium(self):
        from enclave.consortium import consortium

        return consortium(self.config)

    @property
    def is_researcher(self) -> bool:
        return self.consortium.researchers_group in self.groups

    @property
    def is_reviewer(self) -> bool:
        return self.consortium.reviewers_group in self.groups

    @property
    def steward_of(self) -> list[str]:
        return sorted(self.consortium.steward_institutions(self.groups))

    @property
    def is_admin(self) -> bool:
        """In the consortium's administrators' group (``authenticator.is_admin``)."""
        from enclave.hub.authenticator import is_admin

        return is_admin(self.user, self.consortium)

    # -- step 1: the agreement --------------------------------------------------------------
    @property
    def agreement(self):
        return self._ctx.agreement

    @cached_property
    def agreement_accepted_at(self) -> str | None:
        return self._ctx.acceptances.accepted_at(self.user.name, self.agreement.version)

    # -- step 2: projects -------------------------------------------------------------------
    @cached_property
    def memberships(self) -> list[Membership]:
        return [
            Membership(
                p.name,
                p.purpose,
                p.status,
                # an administrator may have ended it before its planned expiry
                (p.expired_at or p.expires.isoformat())[:10],
                p.institutions,
            )
            for p in self._ctx.projects.all()
            if self.user.name in p.members
        ]

    @cached_property
    def closure_notices(self) -> dict[str, str]:
        """project -> the day after which its data is destroyed (its expiry's notice)."""
        from enclave.closure import closure_notices

        notices = closure_notices(self._ctx.projects.engine, self.user.name)
        return {n["project"]: n["destroy_after"][:10] for n in notices}

    @property
    def active_projects(self) -> list[Membership]:
        return [m for m in self.memberships if m.status == "active"]

    # -- step 3: the session ----------------------------------------------------------------
    @property
    def spawner(self):
        return self.user.spawner

    @property
    def session_project(self) -> str:
        return (self.spawner.user_options or {}).get("project", "")

    @property
    def last_refusal(self):
        """Why the last start failed, or None."""
        # JupyterHub keeps a failed spawn's exception (its own pages read it the same way)
        from enclave.hub.refusals import refusal_for

        return refusal_for(self.spawner._failed or None)

    @property
    def last_failure(self):
        """The last start's refusal, unless the start page's steps already explain it."""
        refusal = self.last_refusal
        return None if refusal is None or refusal.reason in EXPLAINED_BY_STEPS else refusal

    @property
    def may_start(self) -> bool:
        return self.is_researcher and bool(self.agreement_accepted_at and self.active_projects)

    def refusal(self, exception):
        from enclave.hub.refusals import refusal_for

        return refusal_for(exception)

    def refusal_of_reason(self, reason: str):
        from jupyterhub.spawner import SpawnException

        return self.refusal(SpawnException("", reason=reason))

    def spawn_refusal(self, exception):
        """An error page's refusal, when the error is a refused start."""
        from jupyterhub.spawner import SpawnException

        return self.refusal(exception) if isinstance(exception, SpawnException) else None


def start_page(user) -> StartPage:
    """``JupyterHub.template_vars`` entry: the ``enclave`` object of every hub page.

    It reads the running hub's whole configuration, not the ``c`` of the file that names it: a
    config file that loads this one with ``load_subconfig`` adds its settings afterwards.
    """
    from jupyterhub.app import JupyterHub

    return StartPage(JupyterHub.instance().config, user)
