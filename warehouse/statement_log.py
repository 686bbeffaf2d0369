"""PostgreSQL's statement log, imported into the audit trail.

Each session role logs every statement (``log_statement = 'all'``, set by the hub on the role)
with time, role and database (``LOG_LINE_PREFIX``). ``import_statements`` turns those lines into
``warehouse.query`` audit events, attributed through the role (``pg_sessions``, written by the
hub when it opens a session) to the user and project. The hub imports while sessions run; the
review service imports before it decides whose stewards must sign off.
"""

import re
from pathlib import Path

import sqlalchemy as sa

from enclave.audit import AuditLog

LOG_LINE_PREFIX = "%m [%p] %q%u@%d "
STATEMENT = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+) \[\d+\] (?P<role>[^@\s]+)@\S+ "
    r"LOG:  (?:statement|execute [^:]*): (?P<sql>.*)$"
)

metadata = sa.MetaData()
pg_sessions = sa.Table(
    "pg_sessions",
    metadata,
    sa.Column("role", sa.String(63), primary_key=True),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("project", sa.String(30), nullable=False),
)
pg_log_offsets = sa.Table(
    "pg_log_offsets",
    metadata,
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("inode", sa.BigInteger, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
)


def import_statements(log_file: str, state: sa.Engine) -> int:
    """Append a ``warehouse.query`` audit event per new session statement in ``log_file``.

    Remembers how far it read (and the file's inode and size, to notice rotation). Returns the
    number of events written. The SQL text is recorded; parameters and results never are.
    """
    metadata.create_all(state)
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
        count = 0
        with path.open("rb") as f:
            f.seek(start)
            end = start
            for offset, event in _statements(f, roles):
                end = offset
                if event is None:
                    continue
                session = roles[event["role"]]
                audit.record(
                    conn,
                    actor=session.user,
                    action="warehouse.query",
                    project=session.project,
                    details={
                        "sql": event["sql"],
                        "time": event["time"],
                        "source": "postgresql-log",
                        "role": event["role"],
                    },
                )
                count += 1
        values = {"inode": inode, "offset": end}
        if mark:
            conn.execute(
                pg_log_offsets.update().where(pg_log_offsets.c.path == str(path)).values(**values)
            )
        else:
            conn.execute(pg_log_offsets.insert().values(path=str(path), **values))
    return count


def _statements(f, roles):
    """Stream ``(offset, event)`` from ``f``: ``offset`` is where a later read may resume,
    ``event`` a session role's statement (continuation lines joined) or None for other lines.
    A line still being written (no newline yet) is left for the next read."""
    offset = f.tell()
    current = None
    for line in f:
        if not line.endswith(b"\n"):
            break
        text = line.decode(errors="replace").rstrip("\n")
        if text.startswith("\t") and current is not None:
            current["sql"] += "\n" + text[1:]
            offset += len(line)
            continue
        if current is not None:
            yield offset, current
            current = None
        offset += len(line)
        match = STATEMENT.match(text)
        if match and match["role"] in roles:
            current = match.groupdict()
        else:
            yield offset, None
    if current is not None:
        yield offset, current
