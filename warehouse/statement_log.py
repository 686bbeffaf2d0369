"""pgAudit's records of the session roles' reads, imported into the audit trail.

Sessions read from a hot standby whose server log is in PostgreSQL's JSON format
(``log_destination = 'jsonlog'``: one JSON object per line, newlines in statements escaped).
pgAudit writes, for every statement of a session role, a ``SESSION`` record per (sub)statement
of class READ or FUNCTION and an ``OBJECT`` record per warehouse relation it reads (the
``pgaudit.role`` holds SELECT on every warehouse table). Both are made by the server where the
statement runs, whatever protocol carried it: simple or extended queries, prepared statements,
portals and cursors, fastpath function calls, COPY, and the statements that functions such as
``query_to_xml`` or views run inside it.

``import_statements`` turns those records into one ``warehouse.query`` audit event per
statement (``details.source = "pgaudit"``), attributed through the role (``pg_sessions``,
written by the hub when it opens a session) to the user and project, with the relations the
server says it read. The hub imports while sessions run; the review service imports before it
decides whose stewards must sign off. Statement text is recorded; parameters (pgAudit's
``log_parameter`` is off) and results never are.
"""

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from enclave.audit import AuditLog
from enclave.audit.actions import AuditAction
from enclave.errors import EnclaveError
from enclave.tables import pg_log_offsets, pg_sessions

SOURCE = "pgaudit"  # ``details.source`` of the imported events
AUDIT_PREFIX = "AUDIT: "
# pgAudit's fields after the prefix, in order (a CSV record)
FIELDS = (
    "audit_type",
    "statement_id",
    "substatement_id",
    "class",
    "command",
    "object_type",
    "object_name",
    "statement",
    "parameter",
)


class AuditLogUnreadable(EnclaveError):
    """A line of the server's audit log is not what PostgreSQL's jsonlog writes."""


def _not_json(path: Path, offset: int) -> AuditLogUnreadable:
    return AuditLogUnreadable(
        f"{path}: the line ending at byte {offset} is not JSON; the server must log with "
        "log_destination = 'jsonlog' into this file (WarehouseSettings.audit_log)."
    )


@dataclass
class Statement:
    """What pgAudit recorded of one statement of one server session."""

    role: str
    session: str
    statement_id: int
    time: str
    texts: list[str] = field(default_factory=list)
    classes: set[str] = field(default_factory=set)
    relations: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)

    def add(self, record: dict) -> None:
        if record["statement"] not in self.texts:
            self.texts.append(record["statement"])
        self.classes.add(record["class"])
        name = record["object_name"]
        if name:
            (self.functions if record["object_type"] == "FUNCTION" else self.relations).add(name)

    def details(self) -> dict:
        return {
            "source": SOURCE,
            "role": self.role,
            "session": self.session,
            "statement_id": self.statement_id,
            "time": self.time,
            "statements": self.texts,
            "classes": sorted(self.classes),
            "relations": sorted(self.relations),
            "functions": sorted(self.functions),
        }


def parse_audit_message(message: str) -> dict | None:
    """pgAudit's fields of a log message, or None when it is not a pgAudit record."""
    if not message.startswith(AUDIT_PREFIX):
        return None
    values = next(csv.reader([message[len(AUDIT_PREFIX) :]]))
    if len(values) < len(FIELDS) - 1 or values[0] not in ("SESSION", "OBJECT"):
        return None
    return dict(zip(FIELDS, values, strict=False))


def import_statements(log_file: str, state: sa.Engine) -> int:
    """Append a ``warehouse.query`` audit event per session statement new in ``log_file``.

    Remembers how far it read (and the file's inode and size, to notice rotation). Returns the
    number of events written.
    """
    path = Path(log_file)
    audit = AuditLog(state)
    with state.begin() as conn:
        roles = {r.role: r for r in conn.execute(sa.select(pg_sessions))}
        mark = conn.execute(
            sa.select(pg_log_offsets).where(pg_log_offsets.c.path == str(path)).with_for_update()
        ).first()
        stat = path.stat()
        inode = stat.st_ino
        if mark is None and not roles:
            # no session role exists yet: what the (shared, growing) log holds so far is
            # irrelevant; start where it ends instead of reading it all
            start = stat.st_size
        elif mark and mark.inode == inode and stat.st_size >= mark.offset:
            start = mark.offset
        else:  # a new file (rotation) or a truncated one (copytruncate): from the start
            start = 0
        with path.open("rb") as f:
            f.seek(start)
            statements, end = read_statements(f, roles, path)
        for statement in statements:
            session = roles[statement.role]
            audit.record(
                conn,
                actor=session.user,
                action=AuditAction.WAREHOUSE_QUERY,
                project=session.project,
                details=statement.details(),
            )
        values = {"inode": inode, "offset": end}
        if mark:
            conn.execute(
                pg_log_offsets.update().where(pg_log_offsets.c.path == str(path)).values(**values)
            )
        else:
            conn.execute(pg_log_offsets.insert().values(path=str(path), **values))
    return len(statements)


def read_statements(f, roles, path: Path) -> tuple[list[Statement], int]:
    """The session roles' statements in ``f`` from its position on, and the offset a later
    read resumes at. A line still being written (no newline yet) is left for the next read."""
    offset = f.tell()
    statements: dict[tuple[str, int], Statement] = {}
    for line in f:
        if not line.endswith(b"\n"):
            break
        offset += len(line)
        if not line.startswith(b"{"):
            raise _not_json(path, offset)
        if b'"AUDIT: ' not in line:  # cheap test first: most lines are something else
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise _not_json(path, offset) from None
        role = entry.get("user")
        if role not in roles or entry.get("error_severity") != "LOG":
            continue
        record = parse_audit_message(entry.get("message", ""))
        if record is None:
            continue
        key = (entry.get("session_id", ""), int(record["statement_id"]))
        if key not in statements:
            statements[key] = Statement(role, key[0], key[1], entry.get("timestamp", ""))
        statements[key].add(record)
    return list(statements.values()), offset
