"""Sessions on the PostgreSQL warehouse against the real recording clusters (a primary and its hot
standby with pgAudit, ``make recording-clusters``): every read is recorded with the relations it
read, whatever the protocol, and what a session role could use to write or to reach another
session is refused."""

import time
import uuid

import psycopg
import pytest
import sqlalchemy as sa

from enclave.audit import AuditLog
from enclave.hub.isolation import postgres
from enclave.hub.isolation.postgres import SessionRoles, StatementImportFailed, ensure_cluster
from enclave.state import make_engine
from enclave.warehouse import statement_log
from enclave.warehouse.generate import generate
from enclave.warehouse.grant import grant_project, project_role
from enclave.warehouse.load import load
from enclave.warehouse.pseudonymize import read_key, write_key
from tests.conftest import recording_database
from tests.support.libpq import Libpq

STUDENTS = "warehouse.students"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """A small warehouse on the recording primary, two projects, the hub's cluster set-up."""
    root = tmp_path_factory.mktemp("recording")
    generate(root / "extracts", 60, 5)
    key = read_key(write_key(root / "key"))
    with recording_database() as wh:
        load(root / "extracts", wh.url, key, accept_rejects=True, quarantine=root / "q")
        grant_project(wh.url, "pa", ["CC-101"])
        grant_project(wh.url, "pb", ["UNI-201"])
        ensure_cluster(wh.url, wh.reader_url)
        yield wh


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    return make_engine(f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.sqlite'}")


@pytest.fixture(scope="module")
def roles(warehouse, state):
    return SessionRoles(
        warehouse.url, state, log_file=warehouse.audit_log, reader_url=warehouse.reader_url
    )


def database(warehouse) -> str:
    return sa.engine.make_url(warehouse.url).database


@pytest.fixture(scope="module")
def alice(roles, warehouse):
    return roles.open("alice", "pa", project_role(database(warehouse), "pa"))


@pytest.fixture(scope="module")
def bob(roles, warehouse):
    return roles.open("bob", "pb", project_role(database(warehouse), "pb"))


def conninfo(login, **over) -> str:
    u = sa.engine.make_url(login.url)
    params = dict(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database)
    params.update(over)
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})


def connect(login, **over) -> psycopg.Connection:
    return psycopg.connect(conninfo(login, **over), autocommit=True)


def marker() -> str:
    return f"m_{uuid.uuid4().hex[:10]}"


def recorded(warehouse, state, mark: str) -> list[dict]:
    """The imported records whose statements mention ``mark`` (the log is written
    asynchronously by the server's collector: import until one arrives)."""
    for _ in range(100):
        statement_log.import_statements(warehouse.audit_log, state)
        found = [
            e.details
            for e in AuditLog(state).events(action="warehouse.query")
            if any(mark in text for text in e.details.get("statements", ()))
        ]
        if found:
            time.sleep(0.1)  # the rest of the statement's records, if any, come with it
            statement_log.import_statements(warehouse.audit_log, state)
            return [
                e.details
                for e in AuditLog(state).events(action="warehouse.query")
                if any(mark in text for text in e.details.get("statements", ()))
            ]
        time.sleep(0.05)
    raise AssertionError(f"no record of {mark!r} in {warehouse.audit_log}")


def relations_read(warehouse, state, mark: str) -> set[str]:
    return set().union(*(set(d["relations"]) for d in recorded(warehouse, state, mark)))


# -- every read recorded, whatever the protocol ----------------------------------------------


def test_the_session_reads_the_standby_and_only_its_projects_rows(warehouse, alice):
    assert sa.engine.make_url(alice.url).port == sa.engine.make_url(warehouse.reader_url).port
    with connect(alice) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        rows = conn.execute("SELECT DISTINCT institution FROM students").fetchall()
    assert rows == [("CC-101",)]


def test_simple_query(warehouse, state, alice):
    mark = marker()
    with connect(alice) as conn:
        conn.execute(f"SELECT count(*) AS {mark} FROM students", prepare=False)
    records = recorded(warehouse, state, mark)
    assert [r["relations"] for r in records] == [[STUDENTS]]
    assert records[0]["role"] == alice.role and records[0]["source"] == "pgaudit"


def test_extended_protocol_unnamed_statement(warehouse, state, alice):
    mark = marker()
    with connect(alice) as conn:
        conn.pgconn.exec_params(f"SELECT student_key AS {mark} FROM students".encode(), [])
    assert relations_read(warehouse, state, mark) == {STUDENTS}


@pytest.mark.parametrize("name", ["plain", "two\nlines", "quo'te\"s; DROP"])
def test_extended_protocol_named_prepared_statement(warehouse, state, alice, name):
    mark = marker()
    with connect(alice) as conn:
        pg = conn.pgconn
        sql = f"SELECT count(*) AS {mark} FROM cc_enrollments WHERE institution <> $1"
        assert pg.prepare(name.encode(), sql.encode()).status == psycopg.pq.ExecStatus.COMMAND_OK
        result = pg.exec_prepared(name.encode(), [b"nowhere"])
        assert result.status == psycopg.pq.ExecStatus.TUPLES_OK
    assert relations_read(warehouse, state, mark) == {"warehouse.cc_enrollments"}


def test_portals_and_cursors(warehouse, state, alice):
    declared, server_side = marker(), marker()
    with connect(alice) as conn:
        with conn.transaction():
            conn.execute(f'DECLARE "c\n{declared}" CURSOR FOR SELECT * FROM students')
            conn.execute(f'FETCH 5 FROM "c\n{declared}"').fetchall()
        with conn.transaction(), conn.cursor(name=f"portal {server_side}") as cur:
            cur.execute("SELECT * FROM cc_enrollments")
            cur.fetchmany(3)
    assert relations_read(warehouse, state, declared) == {STUDENTS}
    assert relations_read(warehouse, state, server_side) == {"warehouse.cc_enrollments"}


def test_fastpath_function_call(warehouse, state, alice):
    """PQfn on query_to_xml: no statement at all on the wire, the inner SELECT recorded."""
    mark = marker()
    conn = Libpq(conninfo(alice))
    try:
        xml = conn.call(
            "query_to_xml(text,boolean,boolean,text)",
            f"SELECT student_key AS {mark} FROM students".encode(),
            b"\x01",
            b"\x00",
            b"",
        )
    finally:
        conn.close()
    assert xml.count(b"<row>") > 0
    assert relations_read(warehouse, state, mark) == {STUDENTS}


def test_copy(warehouse, state, alice):
    mark = marker()
    with connect(alice) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY (SELECT student_key AS {mark} FROM students) TO STDOUT") as copy:
            assert b"".join(bytes(chunk) for chunk in copy)
        with cur.copy(f"COPY cc_enrollments TO STDOUT /* {mark} */") as copy:
            assert b"".join(bytes(chunk) for chunk in copy)
    assert relations_read(warehouse, state, mark) == {STUDENTS, "warehouse.cc_enrollments"}


@pytest.mark.parametrize(
    "call",
    [
        "query_to_xml('SELECT student_key AS {m} FROM students', true, true, '')",
        "query_to_xml_and_xmlschema('SELECT 1 AS {m} FROM students', true, true, '')",
        "ts_stat('SELECT to_tsvector(student_key) AS {m} FROM students')",
        "table_to_xml('warehouse.students', true, true, '{m}')",
    ],
)
def test_functions_that_run_sql(warehouse, state, alice, call):
    mark = marker()
    with connect(alice) as conn:
        conn.execute(f"SELECT * FROM {call.format(m=mark)}")
    assert STUDENTS in relations_read(warehouse, state, mark)


def test_reads_inside_views(warehouse, state, alice):
    """A view an administrator made (security_invoker, so row security applies): the
    session's read of it is recorded as a read of the table underneath."""
    primary = sa.create_engine(warehouse.url, isolation_level="AUTOCOMMIT")
    with primary.connect() as conn:
        conn.exec_driver_sql(
            "CREATE VIEW warehouse.cc_students WITH (security_invoker = true) AS "
            "SELECT s.* FROM warehouse.students s JOIN warehouse.cc_enrollments USING "
            f"(student_key); GRANT SELECT ON warehouse.cc_students TO "
            f"{project_role(database(warehouse), 'pa')}"
        )
        postgres.wait_for_replay(conn, warehouse.reader_url)
    primary.dispose()
    mark = marker()
    with connect(alice) as conn:
        assert conn.execute(f"SELECT count(*) AS {mark} FROM cc_students").fetchone()[0] > 0
    assert relations_read(warehouse, state, mark) == {STUDENTS, "warehouse.cc_enrollments"}


def test_statistics_views_show_nothing_of_the_warehouse(alice):
    with connect(alice) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_stats WHERE schemaname = 'warehouse'"
        ).fetchone() == (0,)


# -- refused to a session role ----------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["SELECT lo_creat(-1)", "SELECT lo_create(0)", "SELECT lo_from_bytea(0, 'data')"],
)
def test_large_objects_cannot_be_created(alice, statement):
    with connect(alice) as conn, pytest.raises(psycopg.errors.DatabaseError):
        conn.execute(statement)


def test_large_objects_cannot_be_imported(alice, tmp_path):
    source = tmp_path / "payload"
    source.write_bytes(b"secret rows")
    conn = Libpq(conninfo(alice))
    try:
        assert conn.lo_import(str(source)) == 0
        assert "recovery" in conn.error()
    finally:
        conn.close()
    with connect(alice) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT lo_import('/etc/hostname')")  # the server-side one


def test_large_objects_cannot_be_granted(alice):
    with connect(alice) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("GRANT SELECT ON LARGE OBJECT 1 TO PUBLIC")


@pytest.mark.parametrize(
    "statement",
    [
        "BEGIN READ WRITE",
        "SET transaction_read_only = off",
        "ALTER ROLE current_user SET application_name = 'x'",
        "ALTER ROLE current_user PASSWORD 'chosen'",
        "SELECT pg_current_xact_id()",
    ],
)
def test_read_only_off_still_gives_no_writable_transaction(alice, statement):
    with connect(alice) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(
            (psycopg.errors.FeatureNotSupported, psycopg.errors.ReadOnlySqlTransaction)
        ):
            conn.execute(statement)


@pytest.mark.parametrize("dbname", ["postgres", "template1"])
def test_no_other_database_of_the_cluster_can_be_reached(alice, dbname):
    with pytest.raises(psycopg.OperationalError, match="pg_hba.conf rejects"):
        connect(alice, dbname=dbname)


def test_no_other_warehouse_database_can_be_reached(alice):
    """Another warehouse on the same servers, set up for its own sessions."""
    with recording_database() as other:
        ensure_cluster(other.url, other.reader_url)
        primary = sa.create_engine(other.url, isolation_level="AUTOCOMMIT")
        with primary.connect() as conn:
            postgres.wait_for_replay(conn, other.reader_url)
        primary.dispose()
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            connect(alice, dbname=sa.engine.make_url(other.url).database)


def test_the_primary_cannot_be_reached(warehouse, alice):
    port = sa.engine.make_url(warehouse.url).port
    with pytest.raises(psycopg.OperationalError, match="pg_hba.conf rejects"):
        connect(alice, port=port)


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TEMP TABLE t (x int)",
        "CREATE TEMPORARY SEQUENCE s",
        "SELECT * INTO TEMP t FROM students",
    ],
)
def test_no_temporary_objects(alice, statement):
    with connect(alice) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(statement)


def test_no_listen_or_notify_between_projects(alice, bob):
    with connect(alice) as listener, connect(bob) as sender:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            listener.execute("LISTEN channel")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            sender.execute("NOTIFY channel, 'rows'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            sender.execute("SELECT pg_notify('channel', 'rows')")


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT pg_advisory_lock(42)",
        "SELECT pg_try_advisory_lock_shared(42)",
        "SELECT pg_advisory_xact_lock(1, 2)",
        "SELECT application_name FROM pg_stat_activity",
        "SELECT * FROM pg_locks",
        "SELECT pg_stat_get_backend_pid(1)",
    ],
)
def test_no_signals_through_the_servers_shared_state(alice, bob, statement):
    """Advisory locks, the lock table and other backends' application_name would carry
    messages between two projects' sessions live."""
    with (
        connect(alice, application_name="message for bob"),
        connect(bob) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


# -- opening and closing session roles -----------------------------------------------------------


def test_a_session_role_is_locked_on_both_servers_after_close(warehouse, state):
    roles = SessionRoles(warehouse.url, state, reader_url=warehouse.reader_url)
    login = roles.open("carol", "pa", project_role(database(warehouse), "pa"))
    held = connect(login)
    roles.close("carol")
    with pytest.raises(psycopg.OperationalError):
        held.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError, match="password|not permitted"):
        connect(login)


def test_opening_a_session_records_the_previous_sessions_statements_first(warehouse, tmp_path):
    from tests.support import pgaudit

    db = database(warehouse)
    state = make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
    log = tmp_path / "postgresql.json"
    log.write_text("")
    roles = SessionRoles(warehouse.url, state, log_file=str(log), reader_url=warehouse.reader_url)
    login = roles.open("dave", "pa", project_role(db, "pa"))
    with log.open("a") as f:  # logged after pa's last import (e.g. a failed one at stop)
        f.write(pgaudit.read("SELECT 6", [STUDENTS], role=login.role))
    roles.open("dave", "pb", project_role(db, "pb"))
    events = AuditLog(state).events()
    assert [(e.project, e.details["statements"]) for e in events] == [("pa", ["SELECT 6"])]

    log.unlink()  # cannot import: the role keeps its project, nothing changes
    with pytest.raises(StatementImportFailed):
        roles.open("dave", "pa", project_role(db, "pa"))
    with state.connect() as conn:
        assert conn.execute(sa.select(statement_log.pg_sessions.c.project)).scalars().all() == [
            "pb"
        ]


def test_cluster_setup_is_idempotent(warehouse):
    ensure_cluster(warehouse.url, warehouse.reader_url)
    for url, block in (
        (warehouse.url, postgres.PRIMARY_HBA),
        (warehouse.reader_url, postgres.READER_HBA),
    ):
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            hba = conn.exec_driver_sql("SHOW hba_file").scalar()
        engine.dispose()
        with open(hba) as f:
            text = f.read()
        assert text.count(postgres.HBA_BEGIN) == 1 and block in text


def test_a_server_that_is_not_a_standby_is_refused_as_reader(warehouse):
    from enclave.errors import EnclaveError

    with pytest.raises(EnclaveError, match="not a hot standby"):
        ensure_cluster(warehouse.url, warehouse.url)


def test_a_reload_keeps_recording_the_tables_it_replaced(warehouse, state, alice, tmp_path):
    """Last: a reload replaces every table, and the audit role's grants with them."""
    root = tmp_path / "reload"
    generate(root / "extracts", 30, 6)
    load(
        root / "extracts",
        warehouse.url,
        read_key(write_key(root / "key")),
        accept_rejects=True,
        quarantine=root / "q",
    )
    primary = sa.create_engine(warehouse.url, isolation_level="AUTOCOMMIT")
    with primary.connect() as conn:
        postgres.wait_for_replay(conn, warehouse.reader_url)
    primary.dispose()
    mark = marker()
    with connect(alice) as conn:
        conn.execute(f"SELECT count(*) AS {mark} FROM students")
    assert relations_read(warehouse, state, mark) == {STUDENTS}
