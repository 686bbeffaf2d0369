"""The registry of projects: purpose, members, each institution's decision, expiry.

Data may be used only for uses its owner approved (the guiding principles). A project is a
data-access request: a purpose, members, an expiry, and for each institution named the tables
(and optionally columns) asked for. That institution's steward approves it, approves less
(fewer tables or columns), or declines it, and may withdraw an approval at any time; the
project reads exactly the scopes approved (``warehouse.grant``). A project is *active* while at
least one institution's approval stands and it has neither reached its expiry date nor been
expired by an administrator. The moves of one institution's row are data
(``ACCESS_TRANSITIONS``), each with its own audit event written in the same transaction.
Permission checks come in pairs, as in airlock: ``check_user_can_use`` raises a
``ProjectRefused`` naming the reason; ``user_can_use`` returns a bool.
"""

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

import sqlalchemy as sa

from enclave.audit import AuditLog
from enclave.audit.actions import AuditAction
from enclave.errors import EnclaveError
from enclave.tables import project_access, project_members, projects

PROJECT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,29}$")


class NotTheirSteward(EnclaveError):
    """Someone who is not the institution's steward tried to decide on the use of its data."""

    exit_code = 3


class ProjectRefused(EnclaveError):
    """A user may not work on a project now; the message says why and what to do."""

    exit_code = 3


# -- scopes: what a project may read of one institution's data ------------------------------------
# ALL: every table and column (an approval from before requests named tables); otherwise
# {table: [columns] | None}, None meaning every column of that table
ALL = "*"
Scope = str | dict[str, list[str] | None]
# a catalog: every warehouse table -> its columns (``warehouse.schema.catalog()``; the core
# cannot import the warehouse)
Catalog = Mapping[str, Iterable[str]]


def check_scope(scope, catalog: Catalog, field: str = "--tables") -> Scope:
    """``scope`` in its stored form (tables and columns sorted), or a one-line error naming the
    unknown table or column."""
    if scope == ALL:
        return ALL
    if not isinstance(scope, Mapping) or not scope:
        raise EnclaveError(f"{field}: name at least one table; use one of {', '.join(catalog)}.")
    clean = {}
    for table, columns in scope.items():
        if table not in catalog:
            raise EnclaveError(
                f"{field}: {str(table)[:40]!r} is not a warehouse table; use one of "
                f"{', '.join(catalog)}."
            )
        if columns is not None:
            known = list(catalog[table])
            unknown = [c for c in columns if c not in known]
            if unknown or not columns:
                raise EnclaveError(
                    f"{field}: {table}: "
                    + (
                        f"{str(unknown[0])[:40]!r} is not one of its columns"
                        if unknown
                        else "no columns"
                    )
                    + f"; use {', '.join(known)}."
                )
            columns = sorted(set(columns))
            if len(columns) == len(known):
                columns = None
        clean[table] = columns
    return dict(sorted(clean.items()))


def expand(scope: Scope, catalog: Catalog) -> dict[str, set[str]]:
    """Every table of ``scope`` with every column it covers."""
    tables = dict.fromkeys(catalog) if scope == ALL else scope
    return {t: set(catalog[t]) if cols is None else set(cols) for t, cols in tables.items()}


def scope_within(narrow: Scope, wide: Scope, catalog: Catalog) -> bool:
    """Whether ``narrow`` covers no table or column ``wide`` does not."""
    wide = expand(wide, catalog)
    return all(cols <= wide.get(t, set()) for t, cols in expand(narrow, catalog).items())


def describe_scope(scope: Scope) -> str:
    if scope == ALL:
        return "every table"
    return "; ".join(t if c is None else f"{t} ({', '.join(c)})" for t, c in scope.items())


def parse_tables(text: str, catalog: Catalog, field: str = "--tables") -> Scope:
    """``students,cc_awards:term+award_type`` (a table, or a table with ``:`` and its columns
    joined by ``+``), or ``*`` for everything, as a checked scope."""
    text = (text or "").strip()
    if text == ALL:
        return ALL
    scope = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        table, _, columns = part.partition(":")
        cols = [c.strip() for c in columns.split("+") if c.strip()] if columns else None
        scope[table.strip()] = cols
    return check_scope(scope, catalog, field)


# -- one institution's decision on a project, as data ----------------------------------------------
class AccessStatus(StrEnum):
    PENDING = "pending"  # asked for; its steward has not decided
    APPROVED = "approved"  # approved in full or narrower (``approved`` is the scope)
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"  # approved once, withdrawn by its steward


class AccessMove(StrEnum):
    APPROVE = "approve"  # the scope asked for
    APPROVE_NARROWER = "approve_narrower"  # fewer tables or columns
    DECLINE = "decline"
    WITHDRAW = "withdraw"
    OVERRIDE = "override"  # an administrator's approval in the steward's place (see README)
    ASK_AGAIN = "ask_again"  # the requester asks again after a decline or a withdrawal


S, M = AccessStatus, AccessMove
ACCESS_TRANSITIONS: dict[AccessStatus, dict[AccessMove, AccessStatus]] = {
    S.PENDING: {
        M.APPROVE: S.APPROVED,
        M.APPROVE_NARROWER: S.APPROVED,
        M.DECLINE: S.DECLINED,
        M.OVERRIDE: S.APPROVED,
    },
    S.APPROVED: {M.WITHDRAW: S.WITHDRAWN},
    S.DECLINED: {M.ASK_AGAIN: S.PENDING},
    S.WITHDRAWN: {M.ASK_AGAIN: S.PENDING},
}
ACCESS_AUDIT: dict[AccessMove, AuditAction] = {
    M.APPROVE: AuditAction.PROJECT_APPROVE,
    M.APPROVE_NARROWER: AuditAction.PROJECT_APPROVE_NARROWER,
    M.DECLINE: AuditAction.PROJECT_DECLINE,
    M.WITHDRAW: AuditAction.PROJECT_WITHDRAW,
    M.OVERRIDE: AuditAction.PROJECT_APPROVE_OVERRIDE,
    M.ASK_AGAIN: AuditAction.PROJECT_REQUEST_ACCESS,
}
del S, M


def next_access_status(current: str, move: AccessMove, project: str, institution: str):
    try:
        return ACCESS_TRANSITIONS[AccessStatus(current)][move]
    except KeyError:
        allowed = ", ".join(ACCESS_TRANSITIONS[AccessStatus(current)]) or "nothing"
        raise EnclaveError(
            f"project {project!r}: {institution}'s access is {current}; it cannot take "
            f"'{move.value}' (allowed: {allowed})."
        ) from None


@dataclass(frozen=True)
class Access:
    """One institution's row of a project's request."""

    institution: str
    status: str
    requested: Scope
    approved: Scope | None
    requested_by: str
    requested_at: str
    decided_by: str | None
    decided_at: str | None
    comment: str
    override: bool


def _scope_from(text: str | None) -> Scope | None:
    return None if text is None else json.loads(text)


def _scope_text(scope: Scope | None) -> str | None:
    return None if scope is None else json.dumps(scope, sort_keys=True)


@dataclass(frozen=True)
class Project:
    name: str
    purpose: str
    expires: date
    expired_at: str | None
    members: tuple[str, ...]
    institutions: tuple[str, ...]  # those whose approval stands
    warehouse_access: str | None
    access: tuple[Access, ...] = ()  # every institution named, whatever its steward decided
    requested_by: str | None = None

    @property
    def scopes(self) -> dict[str, Scope]:
        """Institution -> the scope its steward approved (what the project may read)."""
        return {a.institution: a.approved for a in self.access if a.status == AccessStatus.APPROVED}

    @property
    def scopes_ever_approved(self) -> dict[str, Scope]:
        """Institution -> the scope it approves or approved until it withdrew (what the
        project's members may have read of its data)."""
        return {
            a.institution: a.approved
            for a in self.access
            if a.status in (AccessStatus.APPROVED, AccessStatus.WITHDRAWN) and a.approved
        }

    def access_of(self, institution: str) -> Access | None:
        return next((a for a in self.access if a.institution == institution), None)

    @property
    def is_expired(self) -> bool:
        return self.expired_at is not None or self.expires <= datetime.now(UTC).date()

    @property
    def is_active(self) -> bool:
        return not self.is_expired and bool(self.institutions)

    @property
    def status(self) -> str:
        if self.is_expired:
            return "expired"
        return "active" if self.institutions else "awaiting approval"


def access_within(started: Mapping[str, Scope], now: Mapping[str, Scope], catalog: Catalog) -> bool:
    """Whether every scope a session ``started`` with is still approved ``now`` (a session
    that could read what is no longer approved must end)."""
    return all(i in now and scope_within(s, now[i], catalog) for i, s in started.items())


# conservative: valid as a Unix login, a JupyterHub name and part of a PostgreSQL role name
USERNAME = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")


def check_username(name: str) -> str:
    if not USERNAME.match(name):
        raise EnclaveError(
            f"user {name!r}: not a valid researcher name; use 1-31 lowercase letters, digits, "
            "'-' or '_', starting with a letter."
        )
    return name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def check_project_name(name: str) -> str:
    if not PROJECT_NAME.match(name or ""):
        raise EnclaveError(
            f"project {name!r}: not a valid project name; use 2-30 lowercase letters, digits or "
            "'_', starting with a letter."
        )
    return name


def check_institution(code: str, consortium=None) -> str:
    """``code``, a member of ``consortium`` (the deployment's ``Consortium``; the demo's
    without one), or a one-line refusal."""
    from enclave.consortium import demo

    (consortium or demo()).require([code], "--institution")
    return code


def check_steward(actor: str, stewards: Iterable[str], institution: str) -> None:
    """Only ``institution``'s own steward decides on or withdraws its data's use."""
    stewards = set(stewards)
    if institution not in stewards:
        of = f"a steward of {', '.join(sorted(stewards))}" if stewards else "not a steward"
        raise NotTheirSteward(
            f"{actor} is {of}; only {institution}'s stewards decide on the use of its data."
        )


def _row(project: str, institution: str):
    return project_access.update().where(
        project_access.c.project == project, project_access.c.institution == institution
    )


def _asked(project: str, institution: str, scope: Scope, actor: str) -> dict:
    return dict(
        project=project,
        institution=institution,
        status=AccessStatus.PENDING.value,
        requested=_scope_text(scope),
        approved=None,
        requested_by=actor,
        requested_at=_now(),
        decided_by=None,
        decided_at=None,
        comment="",
        override=False,
    )


class ProjectRegistry:
    """Projects in the enclave state database (``EnclaveState.db_url``)."""

    def __init__(self, engine: sa.Engine, consortium=None):
        self.engine = engine
        self.audit = AuditLog(engine)
        self.consortium = consortium  # whose members may approve (None: the demo's)

    # -- reading -------------------------------------------------------------------------------
    def get(self, name: str) -> Project | None:
        with self.engine.connect() as conn:
            return self._load(conn, name)

    def _load(self, conn, name: str) -> Project | None:
        row = conn.execute(sa.select(projects).where(projects.c.name == name)).first()
        if row is None:
            return None
        members = conn.execute(
            sa.select(project_members.c.user)
            .where(project_members.c.project == name)
            .order_by(project_members.c.user)
        ).scalars()
        access = tuple(
            Access(
                institution=a.institution,
                status=a.status,
                requested=_scope_from(a.requested),
                approved=_scope_from(a.approved),
                requested_by=a.requested_by,
                requested_at=a.requested_at,
                decided_by=a.decided_by,
                decided_at=a.decided_at,
                comment=a.comment,
                override=a.override,
            )
            for a in conn.execute(
                sa.select(project_access)
                .where(project_access.c.project == name)
                .order_by(project_access.c.institution)
            )
        )
        return Project(
            name=row.name,
            purpose=row.purpose,
            expires=row.expires,
            expired_at=row.expired_at,
            members=tuple(members),
            institutions=tuple(a.institution for a in access if a.status == AccessStatus.APPROVED),
            warehouse_access=row.warehouse_access,
            access=access,
            requested_by=row.requested_by,
        )

    def all(self) -> list[Project]:
        with self.engine.connect() as conn:
            names = conn.execute(sa.select(projects.c.name).order_by(projects.c.name)).scalars()
            return [self._load(conn, n) for n in list(names)]

    def active_projects_for(self, user: str) -> list[Project]:
        """``user``'s active projects (the spawn form): chosen in SQL, then loaded."""
        approved = sa.exists().where(
            project_access.c.project == projects.c.name,
            project_access.c.status == AccessStatus.APPROVED.value,
        )
        query = (
            sa.select(projects.c.name)
            .join(project_members, project_members.c.project == projects.c.name)
            .where(
                project_members.c.user == user,
                projects.c.expired_at.is_(None),
                projects.c.expires > datetime.now(UTC).date(),
                approved,
            )
            .order_by(projects.c.name)
        )
        with self.engine.connect() as conn:
            names = list(conn.execute(query).scalars())
            return [p for p in (self._load(conn, n) for n in names) if p.is_active]

    # -- permission pair -----------------------------------------------------------------------
    def check_user_can_use(self, user: str, name: str) -> Project:
        project = self.get(name) if name else None
        if project is None:
            raise ProjectRefused(
                f"project {name!r}: no such project; choose one of your approved projects."
            )
        if user not in project.members:
            raise ProjectRefused(
                f"project {name!r}: you are not a member of this project; ask an administrator "
                "to add you (enclave project add-member)."
            )
        if project.is_expired:
            raise ProjectRefused(
                f"project {name!r}: this project expired on "
                f"{project.expired_at or project.expires}; its data can no longer be used."
            )
        if not project.institutions:
            raise ProjectRefused(
                f"project {name!r}: no institution has approved this project (or every approval "
                "was withdrawn); data can be used only for uses its owners approved."
            )
        if not project.warehouse_access:
            raise ProjectRefused(
                f"project {name!r}: warehouse access has not been granted; ask an administrator "
                "to re-run the approval."
            )
        return project

    def user_can_use(self, user: str, name: str) -> bool:
        try:
            self.check_user_can_use(user, name)
        except ProjectRefused:
            return False
        return True

    # -- changes (each with its audit event, same transaction) ---------------------------------
    def create(
        self, name: str, *, purpose: str, expires: date, actor: str, requested_by: str | None = None
    ) -> Project:
        check_project_name(name)
        if not purpose or not purpose.strip():
            raise EnclaveError("--purpose: a project needs a stated purpose; describe it.")
        if expires <= datetime.now(UTC).date():
            raise EnclaveError(f"--expires {expires}: the expiry date must be in the future.")
        with self.engine.begin() as conn:
            if self._load(conn, name) is not None:
                raise EnclaveError(f"project {name!r}: already exists; pick another name.")
            conn.execute(
                projects.insert().values(
                    name=name,
                    purpose=purpose.strip(),
                    expires=expires,
                    created_by=actor,
                    created_at=_now(),
                    requested_by=requested_by,
                )
            )
            self.audit.record(
                conn,
                actor=actor,
                action=AuditAction.PROJECT_CREATE,
                project=name,
                details={"purpose": purpose.strip(), "expires": expires.isoformat()},
            )
        return self.get(name)

    def _require(self, conn, name: str) -> Project:
        project = self._load(conn, name)
        if project is None:
            raise EnclaveError(f"project {name!r}: no such project; see `enclave project list`.")
        return project

    def add_member(self, name: str, user: str, *, actor: str) -> Project:
        check_username(user)
        with self.engine.begin() as conn:
            project = self._require(conn, name)
            if user in project.members:
                return project
            conn.execute(project_members.insert().values(project=name, user=user, added_at=_now()))
            self.audit.record(
                conn,
                actor=actor,
                action=AuditAction.PROJECT_ADD_MEMBER,
                project=name,
                details={"member": user},
            )
        return self.get(name)

    def remove_member(self, name: str, user: str, *, actor: str, stewards=None) -> Project:
        """Take ``user`` off the project (their sessions end at the hub's next poll).
        ``stewards``: the institutions the actor is steward of, when a steward removes (only
        one whose approval stands may); None: an administrator."""
        with self.engine.begin() as conn:
            project = self._require(conn, name)
            if stewards is not None and not set(stewards) & set(project.institutions):
                raise NotTheirSteward(
                    f"project {name!r}: only a steward of an institution whose approval stands "
                    f"({', '.join(project.institutions) or 'none'}) may remove its members."
                )
            if user not in project.members:
                raise EnclaveError(
                    f"project {name!r}: {user!r} is not a member; its members are "
                    f"{', '.join(project.members) or 'none'}."
                )
            conn.execute(
                project_members.delete().where(
                    project_members.c.project == name, project_members.c.user == user
                )
            )
            self.audit.record(
                conn,
                actor=actor,
                action=AuditAction.PROJECT_REMOVE_MEMBER,
                project=name,
                details={"member": user},
            )
        return self.get(name)

    # -- data-access requests and their owners' decisions ----------------------------------------
    def request(
        self,
        name: str,
        *,
        purpose: str,
        expires: date,
        members: Iterable[str],
        scopes: Mapping[str, Scope],
        actor: str,
        catalog: Catalog,
    ) -> Project:
        """A new project asked for by ``actor`` (a researcher, or an administrator for them):
        its members, and for each institution the scope asked for; nothing is readable until a
        steward approves."""
        members = sorted({check_username(m) for m in members})
        if not members:
            raise EnclaveError("--members: a project needs at least one member; name them.")
        if not scopes:
            raise EnclaveError("--institution: name at least one institution whose data you need.")
        scopes = {
            check_institution(i, self.consortium): check_scope(s, catalog)
            for i, s in scopes.items()
        }
        self.create(name, purpose=purpose, expires=expires, actor=actor, requested_by=actor)
        with self.engine.begin() as conn:
            for member in members:
                conn.execute(
                    project_members.insert().values(project=name, user=member, added_at=_now())
                )
            for institution, scope in sorted(scopes.items()):
                conn.execute(
                    project_access.insert().values(**_asked(name, institution, scope, actor))
                )
            self.audit.record(
                conn,
                actor=actor,
                action=AuditAction.PROJECT_REQUEST,
                project=name,
                details={
                    "members": members,
                    "scopes": {i: scopes[i] for i in sorted(scopes)},
                    "expires": expires.isoformat(),
                },
            )
        return self.get(name)

    def request_access(
        self, name: str, institution: str, scope: Scope, *, actor: str, catalog: Catalog
    ) -> Project:
        """Ask one more institution (or one that declined or withdrew, again)."""
        check_institution(institution, self.consortium)
        scope = check_scope(scope, catalog)
        with self.engine.begin() as conn:
            project = self._check_open(conn, name)
            current = project.access_of(institution)
            values = _asked(name, institution, scope, actor)
            if current is None:
                conn.execute(project_access.insert().values(**values))
            else:
                next_access_status(current.status, AccessMove.ASK_AGAIN, name, institution)
                conn.execute(_row(name, institution).values(**values))
            self.audit.record(
                conn,
                actor=actor,
                action=ACCESS_AUDIT[AccessMove.ASK_AGAIN],
                project=name,
                details={"institution": institution, "scope": scope},
            )
        return self.get(name)

    def decide(
        self,
        name: str,
        institution: str,
        decision: str,
        *,
        actor: str,
        stewards: Iterable[str],
        catalog: Catalog,
        scope: Scope | None = None,
        comment: str = "",
        grant: Callable | None = None,
    ) -> Project:
        """``institution``'s steward (``actor``, steward of ``stewards``) approves
        (``scope``: less than asked for, or None for all of it) or declines, with a comment
        (required to decline or narrow). ``grant(project, scopes) -> access`` rebuilds the
        project's warehouse access inside the transaction: if it fails, nothing is recorded."""
        check_institution(institution, self.consortium)
        check_steward(actor, stewards, institution)
        comment = (comment or "").strip()
        if decision not in ("approve", "decline"):
            raise EnclaveError(f"decision: {decision[:20]!r} is not one of approve, decline.")
        with self.engine.begin() as conn:
            project = self._check_open(conn, name)
            current = self._access(project, institution)
            if decision == "decline":
                move, approved = AccessMove.DECLINE, None
            elif scope is None or check_scope(scope, catalog, "tables") == current.requested:
                move, approved = AccessMove.APPROVE, current.requested
            else:
                approved = check_scope(scope, catalog, "tables")
                if not scope_within(approved, current.requested, catalog):
                    raise EnclaveError(
                        f"tables: {institution} can approve no more than was asked for "
                        f"({describe_scope(current.requested)})."
                    )
                move = AccessMove.APPROVE_NARROWER
            if move is not AccessMove.APPROVE and not comment:
                raise EnclaveError(
                    "comment: say why, for the requester, when you decline or approve less."
                )
            status = next_access_status(current.status, move, name, institution)
            self._set(conn, project, institution, status, approved, actor, comment, False, grant)
            self.audit.record(
                conn,
                actor=actor,
                action=ACCESS_AUDIT[move],
                project=name,
                details={"institution": institution, "scope": approved, "status": status.value},
            )
        return self.get(name)

    def withdraw(
        self,
        name: str,
        institution: str,
        *,
        actor: str,
        stewards: Iterable[str] | None,
        comment: str,
        grant: Callable | None = None,
        then: Callable | None = None,
    ) -> Project:
        """``institution``'s steward withdraws its approval (``stewards`` None: an
        administrator's emergency stop, recorded as theirs). The access is rebuilt without it,
        and ``then(conn, project)`` runs in the same transaction (the review service returns the
        submissions that used its data)."""
        check_institution(institution, self.consortium)
        if stewards is not None:
            check_steward(actor, stewards, institution)
        comment = (comment or "").strip()
        if not comment:
            raise EnclaveError("comment: say why the approval is withdrawn, for the members.")
        with self.engine.begin() as conn:
            project = self._require(conn, name)
            current = project.access_of(institution)
            if current is None or current.status != AccessStatus.APPROVED:
                raise EnclaveError(
                    f"project {name!r}: {institution} has no approval to withdraw "
                    f"({'never asked' if current is None else current.status}); approvals "
                    f"standing: {', '.join(project.institutions) or 'none'}."
                )
            status = next_access_status(current.status, AccessMove.WITHDRAW, name, institution)
            # the scope stays on the row: what was approved until now (no longer granted)
            approved = current.approved
            self._set(conn, project, institution, status, approved, actor, comment, False, grant)
            self.audit.record(
                conn,
                actor=actor,
                action=ACCESS_AUDIT[AccessMove.WITHDRAW],
                project=name,
                details={"institution": institution, "as_steward": stewards is not None},
            )
            if then is not None:
                then(conn, self._load(conn, name))
        return self.get(name)

    def approve_override(
        self,
        name: str,
        institution: str,
        *,
        actor: str,
        reason: str,
        catalog: Catalog | None = None,
        scope: Scope = ALL,
        grant: Callable | None = None,
    ) -> Project:
        """An administrator records an approval in the steward's place (a decision the
        institution made outside the enclave, e.g. a signed agreement): ``reason`` names it.
        The steward sees it marked as an override and may withdraw it like any approval."""
        check_institution(institution, self.consortium)
        reason = (reason or "").strip()
        if not reason:
            raise EnclaveError(
                "--reason: an administrator's approval stands in for the steward's; name the "
                "institution's decision it records (e.g. the signed agreement)."
            )
        if scope != ALL:
            scope = check_scope(scope, catalog or {})
        with self.engine.begin() as conn:
            project = self._check_open(conn, name)
            current = project.access_of(institution)
            if current is None:
                conn.execute(
                    project_access.insert().values(**_asked(name, institution, scope, actor))
                )
                project = self._load(conn, name)
            elif current.status == AccessStatus.APPROVED:
                return project
            status = next_access_status(
                project.access_of(institution).status, AccessMove.OVERRIDE, name, institution
            )
            self._set(conn, project, institution, status, scope, actor, reason, True, grant)
            self.audit.record(
                conn,
                actor=actor,
                action=ACCESS_AUDIT[AccessMove.OVERRIDE],
                project=name,
                details={"institution": institution, "scope": scope, "reason": reason},
            )
        return self.get(name)

    def _check_open(self, conn, name: str) -> Project:
        project = self._require(conn, name)
        if project.is_expired:
            raise EnclaveError(f"project {name!r}: expired; its access can no longer change.")
        return project

    @staticmethod
    def _access(project: Project, institution: str) -> Access:
        current = project.access_of(institution)
        if current is None:
            asked = ", ".join(a.institution for a in project.access) or "none"
            raise EnclaveError(
                f"project {project.name!r}: {institution} was not asked for its data "
                f"(asked: {asked})."
            )
        return current

    def _set(self, conn, project, institution, status, approved, actor, comment, override, grant):
        """Write ``institution``'s new row, then rebuild the project's warehouse access for the
        scopes now approved (inside the transaction: a failed grant records nothing)."""
        conn.execute(
            _row(project.name, institution).values(
                status=status.value,
                approved=_scope_text(approved),
                decided_by=actor,
                decided_at=_now(),
                comment=comment,
                override=override,
            )
        )
        scopes = self._load(conn, project.name).scopes
        if grant is not None and (scopes or project.warehouse_access):
            access = grant(project.name, scopes) or None
            conn.execute(
                projects.update()
                .where(projects.c.name == project.name)
                .values(warehouse_access=access)
            )

    def expire(self, name: str, *, actor: str) -> Project:
        with self.engine.begin() as conn:
            project = self._require(conn, name)
            if project.expired_at is not None:
                return project
            conn.execute(projects.update().where(projects.c.name == name).values(expired_at=_now()))
            self.audit.record(conn, actor=actor, action=AuditAction.PROJECT_EXPIRE, project=name)
        return self.get(name)
