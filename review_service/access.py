"""Data-access requests in the review service: researchers ask, each institution's steward
decides, and may withdraw later.

The rules and the records are the core's (``enclave.projects``: who may decide, the moves as
data, one audit event each in the change's transaction); this module puts the web's actor in
front of them and does what a decision means beyond the registry: the project's warehouse
access is rebuilt inside the decision's transaction (``grant``), and a withdrawal sends the
project's open or approved requests that used the institution's data back to their
researchers in that same transaction (``ReviewWorkflow.return_for_withdrawal``). Running
sessions of the project end at the hub's next poll (``hub.policy``), which sees the change.
"""

from datetime import date

from enclave.errors import EnclaveError
from enclave.projects import (
    ALL,
    AccessStatus,
    NotTheirSteward,
    Project,
    check_scope,
    expand,
)
from enclave.review_service.errors import BadSubmission, NotFound, PermissionDenied
from enclave.review_service.identity import Actor


def _refusal(e: EnclaveError):
    return PermissionDenied(str(e)) if isinstance(e, NotTheirSteward) else BadSubmission(str(e))


class AccessRequests:
    def __init__(self, workflow, catalog: dict, grant=None):
        """``workflow``: the ReviewWorkflow (its registry, its return of requests);
        ``catalog``: table -> columns of the warehouse; ``grant(project, scopes) -> access``."""
        self.workflow = workflow
        self.projects = workflow.projects
        self.catalog = catalog
        self.grant = grant

    # -- reading -------------------------------------------------------------------------------
    def visible(self, actor: Actor) -> list[Project]:
        """Administrators and reviewers see every project; a steward those that asked their
        institution; a researcher those they asked for or are a member of."""
        projects = self.projects.all()
        if actor.is_admin or actor.is_reviewer:
            return projects
        return [p for p in projects if self.may_see(actor, p)]

    @staticmethod
    def may_see(actor: Actor, project: Project) -> bool:
        asked = {a.institution for a in project.access}
        return bool(
            actor.is_admin
            or actor.is_reviewer
            or set(actor.stewards) & asked
            or actor.name == project.requested_by
            or actor.name in project.members
        )

    def get(self, actor: Actor, name: str) -> Project:
        project = self.projects.get(name)
        if project is None or not self.may_see(actor, project):
            raise NotFound(f"project {name[:40]!r}: no such data-access request for you.")
        return project

    def waiting_for(self, actor: Actor) -> list[tuple[Project, str]]:
        """(project, institution) pairs whose decision waits for this steward."""
        return [
            (p, a.institution)
            for p in self.visible(actor)
            if not p.is_expired
            for a in p.access
            if a.institution in actor.stewards and a.status == AccessStatus.PENDING
        ]

    def columns_of(self, scope) -> dict[str, list[str]]:
        """Every table of ``scope`` with its columns in the warehouse's order."""
        tables = expand(scope, self.catalog)
        return {t: [c for c in self.catalog[t] if c in cols] for t, cols in tables.items()}

    # -- changes ---------------------------------------------------------------------------------
    def request(
        self,
        actor: Actor,
        name: str,
        *,
        purpose: str,
        expires: date,
        members,
        scopes: dict,
    ) -> Project:
        if not (actor.can_submit or actor.is_admin):
            raise PermissionDenied(f"{actor.name} may not request data access.")
        members = set(members)
        if actor.can_submit:  # a researcher asks for a project they work on
            members.add(actor.name)
        try:
            return self.projects.request(
                name,
                purpose=purpose,
                expires=expires,
                members=sorted(members),
                scopes=scopes,
                actor=actor.name,
                catalog=self.catalog,
            )
        except EnclaveError as e:
            raise _refusal(e) from None

    def decide(
        self,
        actor: Actor,
        name: str,
        institution: str,
        decision: str,
        *,
        scope=None,
        comment: str = "",
    ) -> Project:
        self.get(actor, name)
        try:
            return self.projects.decide(
                name,
                institution,
                decision,
                actor=actor.name,
                stewards=actor.stewards,
                catalog=self.catalog,
                scope=scope,
                comment=comment,
                grant=self.grant,
            )
        except EnclaveError as e:
            raise _refusal(e) from None

    def withdraw(self, actor: Actor, name: str, institution: str, comment: str) -> list[str]:
        """Withdraw ``institution``'s approval; returns the requests sent back."""
        self.get(actor, name)
        returned: list[str] = []

        def send_back(conn, project):
            returned.extend(
                self.workflow.return_for_withdrawal(conn, name, institution, actor.name, comment)
            )

        try:
            self.projects.withdraw(
                name,
                institution,
                actor=actor.name,
                stewards=actor.stewards,
                comment=comment,
                grant=self.grant,
                then=send_back,
            )
        except EnclaveError as e:
            raise _refusal(e) from None
        return returned

    def remove_member(self, actor: Actor, name: str, user: str) -> Project:
        self.get(actor, name)
        try:
            return self.projects.remove_member(
                name, user, actor=actor.name, stewards=None if actor.is_admin else actor.stewards
            )
        except EnclaveError as e:
            raise _refusal(e) from None

    def scope_from(self, asked, chosen_tables, chosen_columns) -> dict:
        """A narrower scope from a form: ``chosen_tables`` of ``asked``, and of each the
        ``chosen_columns[table]`` (the key columns always go with a table)."""
        from enclave.warehouse.grant import KEY_COLUMNS

        asked_columns = self.columns_of(asked)
        scope = {}
        for table in chosen_tables:
            if table not in asked_columns:
                raise BadSubmission(
                    f"tables: {table[:40]!r} was not asked for; choose among those."
                )
            columns = set(chosen_columns.get(table, ())) | set(KEY_COLUMNS)
            columns &= set(asked_columns[table])
            scope[table] = None if columns == set(self.catalog[table]) else sorted(columns)
        if not scope:
            raise BadSubmission("tables: choose at least one table to approve, or decline.")
        try:
            scope = check_scope(scope, self.catalog, "tables")
        except EnclaveError as e:
            raise BadSubmission(str(e)) from None
        if asked == ALL and scope == dict.fromkeys(self.catalog):
            return ALL  # everything asked for, everything chosen
        return scope
