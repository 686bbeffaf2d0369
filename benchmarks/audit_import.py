"""Import of pgAudit records into the keyed audit trail: N jsonlog lines (as the hot standby
writes them: per statement a SESSION record and OBJECT records for the tables read, among the
server's other lines and other roles' records) into a fresh state database; prints lines/s.

    .venv/bin/python benchmarks/audit_import.py [--lines 100000] [--state-url URL]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import pgaudit  # noqa: E402 (the records' shape, shared with the tests)

SESSIONS = [f"db_sess_user{i}" for i in range(20)]


def write_log(path: Path, lines: int) -> None:
    """``lines`` lines: for every 10, one other role's statement, one server message and
    statements of session roles reading one or two tables."""
    written, statement = 0, 0
    with path.open("w") as f:
        while written < lines:
            statement += 1
            role = SESSIONS[statement % len(SESSIONS)]
            tables = ["warehouse.students"] + (["warehouse.cc_enrollments"] * (statement % 2))
            sql = f"SELECT count(*) FROM students JOIN cc_enrollments USING (key) -- {statement}"
            chunk = pgaudit.read(sql, tables, statement, role=role, session=f"s{statement % 97}")
            if statement % 5 == 0:
                chunk += pgaudit.read("SELECT 1", [], statement, role="postgres")
                chunk += pgaudit.log_line("checkpoint starting: time", role="")
            for line in chunk.splitlines(keepends=True):
                if written < lines:
                    f.write(line)
                    written += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--state-url", help="state database (default: a new SQLite file)")
    args = parser.parse_args()

    import sqlalchemy as sa
    from traitlets.config import Config

    from enclave.audit import keying
    from enclave.state import make_engine
    from enclave.tables import pg_log_offsets, pg_sessions
    from enclave.warehouse import statement_log

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "postgresql.json"
        write_log(log, args.lines)
        url = args.state_url or f"sqlite:///{Path(tmp) / 'state.sqlite'}"
        config = Config()  # keyed, as the hub's trail is
        config.AuditTrail.key_file = str(Path(tmp) / "audit.key")
        config.AuditTrail.head_file = str(Path(tmp) / "audit-head.log")
        keying.use(config, url)
        state = make_engine(url)
        with state.begin() as conn:
            for i, role in enumerate(SESSIONS):
                conn.execute(
                    pg_sessions.insert().values(role=role, user=f"user{i}", project="bench")
                )
            conn.execute(  # the log was there before: read from its start
                pg_log_offsets.insert().values(path=str(log), inode=os.stat(log).st_ino, offset=0)
            )
        cpu, wall = time.process_time(), time.perf_counter()
        events = statement_log.import_statements(str(log), state)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        with state.connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar()
        state.dispose()
    assert stored == events
    print(
        f"imported {args.lines:,} audit lines ({events:,} statements, one audit event each) in "
        f"{wall:.2f} s wall, {cpu:.2f} s CPU: {args.lines / wall:,.0f} lines/s"
    )


if __name__ == "__main__":
    main()
