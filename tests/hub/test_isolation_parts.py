"""The isolation pieces on their own: statement-log import, cluster set-up, egress table."""

import os
import subprocess
import uuid

import pytest
import sqlalchemy as sa

from enclave.audit import AuditLog
from enclave.hub.isolation import postgres
from enclave.hub.isolation.egress import EgressRules
from enclave.hub.isolation.postgres import ensure_cluster, session_role
from enclave.state import make_engine
from enclave.warehouse import statement_log
from enclave.warehouse.statement_log import import_statements

LINES = """\
2026-11-29 01:00:00.100 UTC [11] db_sess_alice@db LOG:  statement: SELECT count(*)
\tFROM warehouse.students
2026-11-29 01:00:00.200 UTC [12] db_sess_bob@db LOG:  statement: SELECT 2
2026-11-29 01:00:00.300 UTC [13] postgres@db LOG:  statement: SELECT secret FROM elsewhere
2026-11-29 01:00:00.400 UTC [11] db_sess_alice@db LOG:  execute <unnamed>: SELECT $1::int
2026-11-29 01:00:00.401 UTC [11] db_sess_alice@db DETAIL:  parameters: $1 = '42'
"""


@pytest.fixture
def state(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
    statement_log.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            statement_log.pg_sessions.insert().values(
                role="db_sess_alice", user="alice", project="proj_a"
            )
        )
    return engine


def queries(engine):
    return [(e.actor, e.project, e.details["sql"]) for e in AuditLog(engine).events()]


def test_imports_only_session_roles_with_multiline_sql_and_no_parameters(tmp_path, state):
    log = tmp_path / "postgresql.log"
    log.write_text(LINES)
    assert import_statements(str(log), state) == 2
    assert queries(state) == [
        ("alice", "proj_a", "SELECT count(*)\nFROM warehouse.students"),
        ("alice", "proj_a", "SELECT $1::int"),
    ]
    assert "42" not in str(AuditLog(state).events()[1].details)


def test_import_resumes_where_it_stopped_and_waits_for_whole_lines(tmp_path, state):
    log = tmp_path / "postgresql.log"
    log.write_text(LINES)
    import_statements(str(log), state)
    with log.open("a") as f:
        f.write("2026-11-29 01:00:01.000 UTC [11] db_sess_alice@db LOG:  statement: SELECT 3")
    assert import_statements(str(log), state) == 0  # the line is not finished yet
    with log.open("a") as f:
        f.write("\n")
    assert import_statements(str(log), state) == 1
    assert queries(state)[-1][2] == "SELECT 3"


def test_rotated_log_is_read_from_the_start(tmp_path, state):
    log = tmp_path / "postgresql.log"
    log.write_text(LINES)
    import_statements(str(log), state)
    log.unlink()
    log.write_text("2026-11-29 02:00:00.000 UTC [9] db_sess_alice@db LOG:  statement: SELECT 4\n")
    assert import_statements(str(log), state) == 1


def test_a_new_state_database_does_not_read_the_log_written_before_its_first_session(
    tmp_path, monkeypatch
):
    state = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite'}")  # no session role yet
    log = tmp_path / "postgresql.log"
    log.write_text(LINES * 100)  # the shared server log, grown over earlier runs

    def read(f, roles):
        assert f.tell() == log.stat().st_size, "the log before any session role was read"
        return iter(())

    monkeypatch.setattr(statement_log, "_statements", read)
    assert import_statements(str(log), state) == 0
    monkeypatch.undo()
    with state.begin() as conn:  # the first session opens; then its statement is logged
        conn.execute(
            statement_log.pg_sessions.insert().values(
                role="db_sess_alice", user="alice", project="p"
            )
        )
    with log.open("a") as f:
        f.write("2026-11-29 03:00:00.000 UTC [9] db_sess_alice@db LOG:  statement: SELECT 5\n")
    assert import_statements(str(log), state) == 1
    assert [sql for _, _, sql in queries(state)] == ["SELECT 5"]


def test_opening_a_session_records_the_previous_sessions_statements_first(pg_url, tmp_path):
    from enclave.hub.isolation.postgres import SessionRoles, StatementImportFailed

    db = sa.engine.make_url(pg_url).database
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {postgres.SCHEMA}")
        for project in ("a", "b"):
            conn.exec_driver_sql(f'CREATE ROLE "{db}_proj_{project}" NOLOGIN')
    admin.dispose()
    state = make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
    log = tmp_path / "postgresql.log"
    log.write_text("")
    roles = SessionRoles(pg_url, state, log_file=str(log))
    login = roles.open("alice", "proj_a", f"{db}_proj_a")
    with log.open("a") as f:  # logged after proj_a's last import (e.g. a failed one at stop)
        f.write(f"2026-11-29 03:00:00.000 UTC [9] {login.role}@{db} LOG:  statement: SELECT 6\n")
    roles.open("alice", "proj_b", f"{db}_proj_b")
    assert queries(state) == [("alice", "proj_a", "SELECT 6")]

    log.unlink()  # cannot import: the role keeps its project, nothing changes
    with pytest.raises(StatementImportFailed):
        roles.open("alice", "proj_a", f"{db}_proj_a")
    with state.connect() as conn:
        assert conn.execute(sa.select(statement_log.pg_sessions.c.project)).scalars().all() == [
            "proj_b"
        ]


def test_session_role_names_stay_distinct_within_postgres_limit():
    long_db = "d" * 40
    a, b = session_role(long_db, "a" * 30), session_role(long_db, "a" * 29 + "b")
    assert len(a) <= 63 and len(b) <= 63 and a != b


def test_cluster_setup_is_idempotent():
    from tests.conftest import PG_ADMIN_URL

    ensure_cluster(PG_ADMIN_URL)
    ensure_cluster(PG_ADMIN_URL)
    engine = sa.create_engine(PG_ADMIN_URL)
    with engine.connect() as conn:
        hba = conn.exec_driver_sql("SHOW hba_file").scalar()
        rules = conn.exec_driver_sql(
            "SELECT address, auth_method FROM pg_hba_file_rules WHERE address = '127.0.0.2'"
        ).all()
    engine.dispose()
    with open(hba) as f:
        assert f.read().count(postgres.HBA_BEGIN) == 1
    assert rules == [("127.0.0.2", "scram-sha-256")]


async def test_egress_table_is_created_once_and_kept():
    table = f"enclave_unit_{uuid.uuid4().hex[:8]}"
    rules = EgressRules(table)
    try:
        await rules.confine(65534, {("127.0.0.1", 9)}, warehouse_port=5432)
        await EgressRules(table).confine(65534, {("127.0.0.1", 10)})  # a restarted hub
        listing = subprocess.run(
            ["nft", "list", "table", "inet", table], capture_output=True, text=True, check=True
        ).stdout
        assert "65534" in listing and "127.0.0.1 . 9" in listing and "127.0.0.1 . 10" in listing
        assert "snat ip to 127.0.0.2" in listing
    finally:
        await rules.remove_table()


def test_egress_tables_of_killed_test_runs_are_removed_and_live_ones_kept():
    from devstack.enclave import remove_stale_egress_tables

    dead = subprocess.Popen(["true"])  # a pid that no longer runs
    dead.wait()
    tables = {f"enclave_test_{dead.pid}_stale", f"enclave_test_{os.getpid()}_live"}
    for table in tables:
        subprocess.run(["nft", "add", "table", "inet", table], check=True)
    try:
        remove_stale_egress_tables.__wrapped__()
        listing = subprocess.run(
            ["nft", "list", "tables", "inet"], capture_output=True, text=True, check=True
        ).stdout
        assert f"enclave_test_{dead.pid}_stale" not in listing
        assert f"enclave_test_{os.getpid()}_live" in listing
    finally:
        for table in tables:
            subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)
