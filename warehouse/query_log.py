"""The SQLite query processes' records, imported into the audit trail.

Each query process (``query_server``) appends one JSON line per statement, before running it,
to the query log (``QueryProcess.log_file``, root's): user, project and session come from the
hub that started it, the relations and institutions from the process's own ``EXPLAIN`` of the
statement. ``import_queries`` turns new lines into ``warehouse.query`` audit events
(``details.source = "query-process"``) and remembers how far it read, as the pgAudit import
does for the PostgreSQL standby's log; ``read_records`` reads a re-execution's own log whole.
"""

import json
from pathlib import Path

import sqlalchemy as sa

from enclave.audit import AuditLog
from enclave.audit.actions import AuditAction
from enclave.errors import EnclaveError
from enclave.tables import pg_log_offsets

SOURCE = "query-process"  # ``details.source`` of the audit events made from the log
FIELDS = ("user", "project", "session", "statement", "time", "sql", "relations", "institutions")


class QueryLogUnreadable(EnclaveError):
    """A line of the query log is not a query process's record."""


def read_records(f, path: Path) -> tuple[list[dict], int]:
    """The records in ``f`` from its position on, and the offset a later read resumes at (a
    line still being written is left for the next read)."""
    offset = f.tell()
    records = []
    for line in f:
        if not line.endswith(b"\n"):
            break
        offset += len(line)
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or any(field not in record for field in FIELDS):
            raise QueryLogUnreadable(
                f"{path}: the line ending at byte {offset} is not a query process record; "
                "only query processes may write to this file (QueryProcess.log_file)."
            )
        records.append(record)
    return records, offset


def event_details(record: dict) -> dict:
    return {
        "source": SOURCE,
        "session": record["session"],
        "statement_id": record["statement"],
        "time": record["time"],
        "statements": [record["sql"]],
        "relations": record["relations"],
        "institutions": record["institutions"],
    }


def import_queries(log_file: str, state: sa.Engine) -> int:
    """Append a ``warehouse.query`` audit event per record new in ``log_file``; returns how
    many. A missing log has nothing to import yet."""
    path = Path(log_file)
    audit = AuditLog(state)
    with state.begin() as conn:
        mark = conn.execute(
            sa.select(pg_log_offsets).where(pg_log_offsets.c.path == str(path)).with_for_update()
        ).first()
        try:
            f = path.open("rb")
        except FileNotFoundError:
            return 0
        with f:
            inode, size = (stat := path.stat()).st_ino, stat.st_size
            same = mark is not None and mark.inode == inode and size >= mark.offset
            f.seek(mark.offset if same else 0)  # a new or truncated file: from its start
            records, end = read_records(f, path)
        for record in records:
            audit.record(
                conn,
                actor=record["user"],
                action=AuditAction.WAREHOUSE_QUERY,
                project=record["project"],
                details=event_details(record),
            )
        values = {"inode": inode, "offset": end}
        if mark:
            conn.execute(
                pg_log_offsets.update().where(pg_log_offsets.c.path == str(path)).values(**values)
            )
        else:
            conn.execute(pg_log_offsets.insert().values(path=str(path), **values))
    return len(records)
