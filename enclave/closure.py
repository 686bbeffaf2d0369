"""Closing a project: its data destroyed, the destruction proven, a certificate for the owners.

The guiding principles: information "will be destroyed when no longer needed for the purpose
for which it is conducted". ``close_project`` ends a project's use of data (it is expired, so
no session starts and the hub's poll ends running ones; the caller waits for them to stop)
and destroys everything the enclave holds of it: workspaces, extracts, unreleased
submissions, its database role, re-execution data. Released packages and the audit trail stay.

**Where a project's data lives** is declared by each part, not known here (the core imports no
part above it): an entry point in the group ``enclave.project_data`` names a function
``locations(context: ClosureContext) -> iterable of Location``. A ``Location`` can say what it
holds now (``inventory()``: each file or object with its size and SHA-256) and destroy it
(``destroy()``, idempotent: what is gone already is fine). ``PathLocation`` is a file or folder.

**Proof, even across a crash.** Before anything is destroyed, a ``project.close-begin`` audit
event records the inventory of every location: what, where, sizes and hashes. Only then does
the destruction start. Afterwards every location is asked again; only when none holds anything
does the ``project.close`` event (the destruction record) go into the trail: every item of every
``close-begin`` of this close, and the check that nothing remains. A close killed at any point
(``kill -9``) leaves either nothing destroyed (no ``close-begin`` yet) or a ``close-begin`` that
names everything it may have destroyed; re-running ``enclave project close`` finishes it.
``certificate`` turns the record into a text the data owners can keep and check against the
trail (the record's audit sequence number and hash).
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from traitlets import Float, Int
from traitlets.config import Config, Configurable

from enclave.audit import AuditAction, AuditLog
from enclave.errors import EnclaveError
from enclave.projects import Project, ProjectRegistry
from enclave.tables import audit_events

LOCATIONS_ENTRY_POINT = "enclave.project_data"
CHUNK = 1024 * 1024


class ProjectClosure(Configurable):
    """When and how projects are closed (``enclave project close|close-expired``)."""

    grace_days = Int(
        30,
        help="""Days between a project's expiry and the destruction of its data by
        ``enclave project close-expired``. At expiry its members get a notice (a
        ``project.closure-notice`` audit event naming the day, shown on their start page);
        the data is destroyed once the grace period has passed.""",
    ).tag(config=True)

    session_stop_timeout = Float(
        120.0,
        help="""Seconds ``enclave project close`` waits for the project's running sessions to
        stop (the hub ends them at its next poll once the project is expired). When they
        are still running after that, nothing is destroyed and the command says so.""",
    ).tag(config=True)


@dataclass(frozen=True)
class ClosureContext:
    """What a part needs to find a project's data: the deployment's config, the state
    database, the project."""

    config: Config
    engine: sa.Engine
    project: Project


class Location(Protocol):
    kind: str  # what it is, for people: "workspace", "extract", "submission", ...
    where: str  # a path, or a database object

    def inventory(self) -> list[dict]:
        """What it holds now: ``{"name", "bytes", "sha256"}`` each; empty when destroyed."""

    def destroy(self) -> None:
        """Remove all of it; what is gone already is no error."""


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def object_entry(name: str, description: dict) -> dict:
    """An inventory entry for something that is not a file (a role, a database row): its
    hash is over its description."""
    text = json.dumps(description, sort_keys=True)
    return {"name": name, "bytes": len(text), "sha256": hashlib.sha256(text.encode()).hexdigest()}


class PathLocation:
    """A file or folder (and everything in it) to destroy. Links inside are removed, never
    followed; a link, device or pipe is listed with the hash of what it is, not read."""

    def __init__(self, kind: str, path: str | os.PathLike):
        self.kind = kind
        self.path = Path(path)
        self.where = str(self.path)

    def inventory(self) -> list[dict]:
        try:
            top = os.lstat(self.path)
        except FileNotFoundError:
            return []
        if not stat.S_ISDIR(top.st_mode):
            return [self._entry(self.path, top)]
        entries = [object_entry(str(self.path) + "/", {"folder": str(self.path)})]
        for root, dirs, files in os.walk(self.path):  # never follows links
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                path = Path(root) / name
                try:
                    info = os.lstat(path)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(info.st_mode) and not stat.S_ISLNK(info.st_mode):
                    entries.append(object_entry(f"{path}/", {"folder": str(path)}))
                else:
                    entries.append(self._entry(path, info))
        return entries

    @staticmethod
    def _entry(path: Path, info: os.stat_result) -> dict:
        if stat.S_ISREG(info.st_mode):
            return {"name": str(path), "bytes": info.st_size, "sha256": file_sha256(path)}
        if stat.S_ISLNK(info.st_mode):
            return object_entry(str(path), {"link": os.readlink(path)})
        return object_entry(str(path), {"special": stat.filemode(info.st_mode)})

    def destroy(self) -> None:
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(self.path)  # fd-based on Linux: a link planted inside is not followed
        else:
            self.path.unlink(missing_ok=True)


def discover(context: ClosureContext) -> list[Location]:
    """Every location of the project's data, as each part declares them."""
    found = []
    for entry in sorted(entry_points(group=LOCATIONS_ENTRY_POINT), key=lambda e: e.name):
        found.extend(entry.load()(context))
    return found


# -- where a close stands ----------------------------------------------------------------------
@dataclass(frozen=True)
class ClosureStatus:
    begun: list  # the close-begin events of the current (or last) close
    record: object | None  # the project.close event, once closed

    @property
    def closed(self) -> bool:
        return self.record is not None

    @property
    def closing(self) -> bool:
        return bool(self.begun) and self.record is None


def closure_status(engine: sa.Engine, project: str) -> ClosureStatus:
    log = AuditLog(engine)
    records = log.events(project=project, action=AuditAction.PROJECT_CLOSE)
    begun = log.events(project=project, action=AuditAction.PROJECT_CLOSE_BEGIN)
    return ClosureStatus(begun, records[0] if records else None)


def closed_projects(engine: sa.Engine) -> dict[str, str]:
    """project -> "closed" or "closing", for every project a close has begun on."""
    actions = [AuditAction.PROJECT_CLOSE_BEGIN.value, AuditAction.PROJECT_CLOSE.value]
    query = (
        sa.select(audit_events.c.project, audit_events.c.action)
        .where(audit_events.c.action.in_(actions))
        .order_by(audit_events.c.seq)
    )
    states: dict[str, str] = {}
    with engine.connect() as conn:
        for project, action in conn.execute(query):
            if action == AuditAction.PROJECT_CLOSE:
                states[project] = "closed"
            else:
                states.setdefault(project, "closing")
    return states


# -- closing -----------------------------------------------------------------------------------
CLOSE_LOCK = 7_401_415  # the PostgreSQL advisory lock every close of this state database takes


@contextlib.contextmanager
def closing_lock(engine: sa.Engine):
    """One close at a time per state database (a second one says so, in one line): two closes
    of one project would interleave their records. PostgreSQL: a session advisory lock;
    SQLite: ``flock`` on ``<database>.closing.lock`` beside it (the hub's 0700 directory)."""
    busy = EnclaveError(
        "another `enclave project close` is under way on this enclave; wait until it ends, "
        "then re-run this one."
    )
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            held = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({CLOSE_LOCK})").scalar()
            conn.commit()  # the lock is the session's: no transaction stays open meanwhile
            if not held:
                raise busy
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({CLOSE_LOCK})")
                conn.commit()
        return
    path = f"{engine.url.database}.closing.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        yield
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _found(locations: Iterable[Location]) -> list[dict]:
    found = []
    for location in locations:
        items = location.inventory()
        if items:
            found.append({"kind": location.kind, "where": location.where, "items": items})
    return found


def _merged(begun: list) -> list[dict]:
    """Every item of every close-begin, once: what this close destroyed."""
    merged: dict[tuple[str, str], dict] = {}
    for event in begun:
        for place in event.details["found"]:
            key = (place["kind"], place["where"])
            target = merged.setdefault(key, {**place, "items": []})
            names = {item["name"] for item in target["items"]}
            target["items"].extend(i for i in place["items"] if i["name"] not in names)
    return list(merged.values())


def close_project(
    engine: sa.Engine,
    config: Config,
    name: str,
    *,
    actor: str,
    stop_sessions: Callable[[Project], None] | None = None,
    reason: str = "closed by an administrator",
):
    """Close ``name`` (see the module docstring); return its ``project.close`` event.

    ``stop_sessions(project)`` is called once the project is expired and must return only
    when none of its sessions runs (raising an EnclaveError otherwise): nothing is destroyed
    while a session could still read or write it."""
    registry = ProjectRegistry(engine)
    if registry.get(name) is None:
        raise EnclaveError(f"project {name!r}: no such project; see `enclave project list`.")
    with closing_lock(engine):
        return _close(engine, config, registry, name, actor, stop_sessions, reason)


def _close(engine, config, registry, name, actor, stop_sessions, reason):
    status = closure_status(engine, name)
    if status.closed:
        raise EnclaveError(
            f"project {name!r}: already closed on {status.record.time}; `enclave project "
            f"certificate {name}` prints its certificate."
        )
    project = registry.expire(name, actor=actor)  # no session starts again, running ones end
    if stop_sessions is not None:
        stop_sessions(project)
    context = ClosureContext(config, engine, project)
    log = AuditLog(engine)
    # the proof first: nothing is destroyed that this event does not name
    begin = log.append(
        actor=actor,
        action=AuditAction.PROJECT_CLOSE_BEGIN,
        project=name,
        details={
            "reason": reason,
            "resumes": [e.seq for e in status.begun],
            "found": _found(discover(context)),
        },
    )
    for location in discover(context):
        location.destroy()
    remaining = _found(discover(context))
    if remaining:
        where = ", ".join(place["where"] for place in remaining)
        raise EnclaveError(
            f"project {name!r}: could not destroy everything (still there: {where}); fix "
            f"that and re-run `enclave project close {name}`."
        )
    destroyed = _merged([*status.begun, begin])
    return log.append(
        actor=actor,
        action=AuditAction.PROJECT_CLOSE,
        project=name,
        details={
            "reason": reason,
            "institutions": list(project.institutions),
            "members": list(project.members),
            "purpose": project.purpose,
            "began": (status.begun or [begin])[0].time,
            "runs": [e.seq for e in [*status.begun, begin]],
            "destroyed": destroyed,
            "items": sum(len(place["items"]) for place in destroyed),
            "bytes": sum(i["bytes"] for place in destroyed for i in place["items"]),
            "verified": "every location was checked after the destruction and held nothing",
        },
    )


# -- expiry: notice, then destruction after the grace period -----------------------------------
def expired_since(project: Project) -> datetime | None:
    """When ``project`` expired (its expiry date, or the moment an administrator expired it)."""
    if project.expired_at is not None:
        return datetime.fromisoformat(project.expired_at)
    if project.is_expired:
        return datetime.combine(project.expires, datetime.min.time(), UTC)
    return None


def closure_notices(engine: sa.Engine, user: str) -> list[dict]:
    """The closure notices for ``user``'s projects whose data is not yet destroyed:
    ``{"project", "destroy_after"}`` each (the start page shows them)."""
    states = closed_projects(engine)
    notices = []
    for event in AuditLog(engine).events(action=AuditAction.PROJECT_CLOSURE_NOTICE):
        if user in event.details.get("members", []) and states.get(event.project) != "closed":
            notices.append({"project": event.project, "destroy_after": event.details["due"]})
    return notices


def close_expired(
    engine: sa.Engine,
    config: Config,
    *,
    actor: str,
    now: datetime | None = None,
    stop_sessions: Callable[[Project], None] | None = None,
) -> list[tuple[str, str]]:
    """Give notice for newly expired projects, close those whose grace period has passed;
    return ``(project, what was done)`` for each."""
    grace = timedelta(days=ProjectClosure(config=config).grace_days)
    now = now or datetime.now(UTC)
    log = AuditLog(engine)
    states = closed_projects(engine)
    noticed = {e.project for e in log.events(action=AuditAction.PROJECT_CLOSURE_NOTICE)}
    done = []
    for project in ProjectRegistry(engine).all():
        since = expired_since(project)
        if since is None or states.get(project.name) == "closed":
            continue
        due = since + grace
        if project.name not in noticed:
            log.append(
                actor=actor,
                action=AuditAction.PROJECT_CLOSURE_NOTICE,
                project=project.name,
                details={"members": list(project.members), "due": due.isoformat()},
            )
            done.append((project.name, f"notice given: data destroyed after {due:%Y-%m-%d}"))
        if due <= now:
            close_project(
                engine,
                config,
                project.name,
                actor=actor,
                stop_sessions=stop_sessions,
                reason=f"expired on {since:%Y-%m-%d}; grace period of {grace.days} day(s) over",
            )
            done.append((project.name, "closed: its data is destroyed"))
    return done


# -- the certificate ---------------------------------------------------------------------------
def certificate(engine: sa.Engine, name: str) -> str:
    """The destruction certificate of a closed project, as text for its data owners."""
    status = closure_status(engine, name)
    if not status.closed:
        state = "a close is under way (re-run `enclave project close`)" if status.closing else ""
        raise EnclaveError(
            f"project {name!r}: not closed{'; ' + state if state else ''}; no certificate "
            "exists until `enclave project close` has finished."
        )
    record = status.record
    d = record.details
    lines = [
        "CERTIFICATE OF DATA DESTRUCTION",
        "",
        f"Project:       {name}",
        f"Purpose:       {d['purpose']}",
        f"Data owners:   {', '.join(d['institutions']) or '-'}",
        f"Members:       {', '.join(d['members']) or '-'}",
        f"Reason:        {d['reason']}",
        f"Begun:         {d['began']}",
        f"Completed:     {record.time} by {record.actor}",
        f"Destroyed:     {d['items']} item(s), {d['bytes']:,} bytes, in {len(d['destroyed'])} "
        "location(s)",
        "",
    ]
    for place in d["destroyed"]:
        size = sum(i["bytes"] for i in place["items"])
        lines.append(f"  {place['kind']}: {place['where']} ({len(place['items'])}, {size:,} B)")
        lines.extend(
            f"    sha256 {i['sha256']}  {i['bytes']:>12,}  {i['name']}" for i in place["items"]
        )
    lines += [
        "",
        f"Verified: {d['verified']}. Released packages and the audit trail are kept.",
        f"Audit record: event {record.seq}, hash {record.hash}",
        f"(runs: events {', '.join(map(str, d['runs']))}); check it with `enclave audit verify`.",
    ]
    return "\n".join(lines) + "\n"
