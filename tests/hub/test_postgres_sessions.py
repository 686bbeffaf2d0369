"""Sessions on a PostgreSQL warehouse through a real hub: a per-user login role on the hot
standby, no other role from the session, and pgAudit's record of every read (even direct psycopg
ones) — no session without it."""

import contextlib
import uuid

import pytest
import sqlalchemy as sa

from devstack.enclave import running_enclave
from devstack.kernel import run
from devstack.researcher import Researcher
from tests.conftest import recording_database

pytestmark = pytest.mark.e2e  # a real hub, provider and sessions: slow

PEOPLE = {"alice": ["researchers"]}
PROJECTS = {
    "pg_a": {"members": ["alice"], "institutions": ["CC-101"]},
    "pg_b": {"members": ["alice"], "institutions": ["UNI-201"]},
}


@pytest.fixture(scope="module")
def recording():
    """A database on the recording clusters: the hub loads the warehouse into its primary,
    sessions read its hot standby."""
    with recording_database() as warehouse:
        yield warehouse


@pytest.fixture(scope="module")
def warehouse_db(recording):
    return recording.url


@pytest.fixture(scope="module")
def statement_log(tmp_path_factory, recording):
    """The hub reads the standby's audit log through this link: removing it makes the log
    unreadable for this hub only."""
    link = tmp_path_factory.mktemp("pglog") / "postgresql.json"
    link.symlink_to(recording.audit_log)
    return link


@pytest.fixture(scope="module")
def enclave(recording, statement_log):
    config = (
        f"c.WarehouseSettings.reader_url = {recording.reader_url!r}\n"
        f"c.WarehouseSettings.audit_log = {str(statement_log)!r}"
    )
    with running_enclave(
        None, PEOPLE, PROJECTS, warehouse_url=recording.url, extra_config=config
    ) as running:
        yield running


@contextlib.contextmanager
def unreadable(link):
    target = link.readlink()
    link.unlink()
    try:
        yield
    finally:
        link.symlink_to(target)


@pytest.fixture(scope="module")
def alice(enclave):
    alice = Researcher.sign_on(enclave.hub.url, enclave.names["alice"], enclave.password)
    alice.accept_agreement()
    return alice


@pytest.fixture(scope="module")
def kernel(enclave, alice):
    kernel = alice.start_session("pg_a")
    yield kernel
    kernel.shutdown()


CONNECT = (
    "import os, psycopg, sqlalchemy as sa\n"
    "u = sa.engine.make_url(os.environ['ENCLAVE_WAREHOUSE_URL'])\n"
    "def connect(**over):\n"
    "    params = dict(host=u.host, port=u.port, user=u.username, password=u.password,\n"
    "                  dbname=u.database, connect_timeout=5)\n"
    "    params.update(over)\n"
    "    return psycopg.connect(**params)\n"
)


def test_kernel_query_sees_only_approved_institutions(kernel):
    out = run(
        kernel,
        "print(sorted(warehouse.query('SELECT DISTINCT institution FROM students').institution))",
    )
    assert out == "['CC-101']"


def test_session_role_is_in_exactly_one_project(kernel, warehouse_db):
    run(kernel, CONNECT)
    out = run(
        kernel,
        "with connect() as c:\n"
        "    print(*sorted(r[0] for r in c.execute('SELECT roleid::regrole::text FROM "
        "pg_auth_members WHERE member = current_user::regrole')))",
    )
    assert out.endswith("_proj_pg_a") and "pg_b" not in out


def test_cannot_write_through_the_session_role(kernel):
    run(kernel, CONNECT)
    out = kernel.execute(
        "with connect(autocommit=True) as c:\n"
        '    c.execute("SET default_transaction_read_only = off")\n'
        "    c.execute(\"INSERT INTO warehouse.institutions VALUES ('X', 'x', 'k12')\")"
    )
    assert out["error"][0] == "ReadOnlySqlTransaction"  # the hot standby cannot write


@pytest.mark.parametrize("user", ["postgres", "project_role"])
def test_other_roles_are_rejected_from_the_session(kernel, warehouse_db, user):
    run(kernel, CONNECT)
    if user == "project_role":
        user = f"{sa.engine.make_url(warehouse_db).database}_proj_pg_a"
    out = kernel.execute(f"connect(user={user!r}, password=None)")
    assert out["error"][0] == "OperationalError"
    assert "pg_hba.conf rejects" in out["error"][1]


def test_unix_socket_is_out_of_reach(kernel):
    run(kernel, CONNECT)
    out = kernel.execute("connect(host='/run/postgresql', user='postgres', password=None)")
    assert out["error"][0] == "OperationalError"


def test_direct_psycopg_query_is_recorded_server_side(enclave, alice, kernel):
    from enclave.audit import AuditLog
    from enclave.state import make_engine

    marker = f"direct_{uuid.uuid4().hex[:8]}"
    run(kernel, CONNECT)
    run(
        kernel,
        "with connect() as c:\n"
        f"    c.execute('SELECT count(*) AS {marker} FROM students').fetchall()",
    )
    kernel.shutdown()
    assert alice.stop_server()
    audit = AuditLog(make_engine(enclave.state_url))
    events = [
        e
        for e in audit.events(user=alice.name, action="warehouse.query")
        if any(marker in text for text in e.details.get("statements", ()))
    ]
    assert len(events) == 1
    assert events[0].project == "pg_a" and events[0].details["source"] == "pgaudit"
    assert events[0].details["relations"] == ["warehouse.students"]


def test_role_is_locked_after_the_session_stops(enclave, alice, warehouse_db):
    import psycopg

    role = f"{sa.engine.make_url(warehouse_db).database}_sess_{alice.name}"
    with psycopg.connect(
        sa.engine.make_url(warehouse_db)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    ) as conn:
        can_login = conn.execute(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,)
        ).fetchone()
    assert can_login == (False,)


def test_spawn_refused_while_the_statement_log_is_unreadable(alice, statement_log):
    with unreadable(statement_log):
        response = alice.spawn("pg_b")
    assert response.status_code == 403 and "audit log" in response.json()["message"]
    assert not alice.model()["servers"]


def test_session_stops_when_its_statements_can_no_longer_be_recorded(enclave, alice, statement_log):
    kernel = alice.start_session("pg_b")
    kernel.shutdown()
    with unreadable(statement_log):
        assert alice.wait_stopped(30)
    assert "Cannot import PostgreSQL audit log" in enclave.hub.log()
