"""The registry of approved projects: purpose, members, approving institutions, expiry.

Data may be used only for projects the consortium approved (the guiding principles): a project
is *active* while at least one institution has approved it and it has neither reached its expiry
date nor been expired by an administrator. Every change writes an audit event in the same
transaction. Permission checks come in pairs, as in airlock: ``check_user_can_use`` raises a
``ProjectRefused`` naming the reason; ``user_can_use`` returns a bool.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa

from enclave.audit import AuditLog
from enclave.audit.actions import AuditAction
from enclave.errors import EnclaveError
from enclave.tables import project_approvals, project_members, projects

PROJECT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,29}$")


class ProjectRefused(EnclaveError):
    """A user may not work on a project now; the message says why and what to do."""

    exit_code = 3


@dataclass(frozen=True)
class Project:
    name: str
    purpose: str
    expires: date
    expired_at: str | None
    members: tuple[str, ...]
    institutions: tuple[str, ...]
    warehouse_access: str | None

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


def known_institutions() -> dict:
    from enclave.consortium import INSTITUTIONS

    return INSTITUTIONS


def check_project_name(name: str) -> str:
    if not PROJECT_NAME.match(name or ""):
        raise EnclaveError(
            f"project {name!r}: not a valid project name; use 2-30 lowercase letters, digits or "
            "'_', starting with a letter."
        )
    return name


class ProjectRegistry:
    """Projects in the enclave state database (``EnclaveState.db_url``)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.audit = AuditLog(engine)

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
        institutions = conn.execute(
            sa.select(project_approvals.c.institution)
            .where(project_approvals.c.project == name)
            .order_by(project_approvals.c.institution)
        ).scalars()
        return Project(
            name=row.name,
            purpose=row.purpose,
            expires=row.expires,
            expired_at=row.expired_at,
            members=tuple(members),
            institutions=tuple(institutions),
            warehouse_access=row.warehouse_access,
        )

    def all(self) -> list[Project]:
        with self.engine.connect() as conn:
            names = conn.execute(sa.select(projects.c.name).order_by(projects.c.name)).scalars()
            return [self._load(conn, n) for n in list(names)]

    def active_projects_for(self, user: str) -> list[Project]:
        """``user``'s active projects (the spawn form): chosen in SQL, then loaded."""
        approved = sa.exists().where(project_approvals.c.project == projects.c.name)
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
                f"project {name!r}: no institution has approved this project yet; data can be "
                "used only for approved projects."
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
    def create(self, name: str, *, purpose: str, expires: date, actor: str) -> Project:
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

    def approve(self, name: str, institution: str, *, actor: str, grant=None) -> Project:
        """Record ``institution``'s approval; ``grant(project, institutions) -> access``
        (re)builds the project's read-only warehouse access for the approved set."""
        if institution not in known_institutions():
            raise EnclaveError(
                f"--institution {institution!r}: unknown institution; use one of "
                f"{', '.join(sorted(known_institutions()))}."
            )
        with self.engine.begin() as conn:
            project = self._require(conn, name)
            if project.is_expired:
                raise EnclaveError(
                    f"project {name!r}: expired; an expired project cannot be approved."
                )
            if institution in project.institutions:
                return project
            institutions = sorted({*project.institutions, institution})
            access = grant(name, institutions) if grant else project.warehouse_access
            conn.execute(
                project_approvals.insert().values(
                    project=name, institution=institution, approved_by=actor, approved_at=_now()
                )
            )
            conn.execute(
                projects.update().where(projects.c.name == name).values(warehouse_access=access)
            )
            self.audit.record(
                conn,
                actor=actor,
                action=AuditAction.PROJECT_APPROVE,
                project=name,
                details={"institution": institution, "institutions": institutions},
            )
        return self.get(name)

    def expire(self, name: str, *, actor: str) -> Project:
        with self.engine.begin() as conn:
            project = self._require(conn, name)
            if project.expired_at is not None:
                return project
            conn.execute(projects.update().where(projects.c.name == name).values(expired_at=_now()))
            self.audit.record(conn, actor=actor, action=AuditAction.PROJECT_EXPIRE, project=name)
        return self.get(name)
