"""The steward rule against a real PostgreSQL server log: the kernel's own statements are all
accounted for by its records; a direct psycopg read is not, and asks every project steward."""

import json
import time

import psycopg
import pytest
import sqlalchemy as sa
from conftest import create_project, submit
from review_factories import researcher

from enclave.audit import AuditLog
from enclave.hub.isolation import postgres
from enclave.kernels.client import Warehouse
from enclave.review_service.stewards import (
    LINEAGE,
    server_read_reason,
    unaccounted_reason,
    unaccounted_statements,
)
from enclave.warehouse import statement_log
from enclave.warehouse.db import WarehouseSettings

RITA = researcher("rita")
LOG_FILE = WarehouseSettings.statement_log.default_value


@pytest.fixture
def session_url(pg_url):
    """A warehouse with one table and a session role set up as the hub's (statements logged)."""
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    role = postgres.session_role(sa.engine.make_url(pg_url).database, "rita")
    postgres.ensure_cluster(pg_url)  # the log line prefix the import reads
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "CREATE SCHEMA warehouse; CREATE TABLE warehouse.cc_enrollments "
            "(student_key text, institution text, term text); INSERT INTO "
            "warehouse.cc_enrollments VALUES ('stu_a', 'CC-101', '2025FA')"
        )
        conn.exec_driver_sql(
            f"CREATE ROLE {role} LOGIN PASSWORD 'pw'; GRANT USAGE ON SCHEMA warehouse TO "
            f"{role}; GRANT SELECT ON ALL TABLES IN SCHEMA warehouse TO {role}"
        )
        for setting, value in postgres_settings():
            conn.exec_driver_sql(f"ALTER ROLE {role} SET {setting} = '{value}'")
    try:
        yield role, sa.engine.make_url(pg_url).set(username=role, password="pw")
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
            )
            conn.exec_driver_sql(f"DROP OWNED BY {role}; DROP ROLE {role}")
        admin.dispose()


def postgres_settings():
    return [
        ("log_statement", "all"),
        ("default_transaction_read_only", "on"),
        ("search_path", "warehouse"),
    ]


class WorkflowRecorder:
    """The kernel's recorder, straight into the service's workflow (the HTTP hop aside)."""

    def __init__(self, wf):
        self.wf = wf

    def record(self, entry):
        self.wf.record_query(RITA, entry)


def import_until(state, marker):
    """Import the server log until a statement containing ``marker`` has arrived."""
    for _ in range(50):
        statement_log.import_statements(LOG_FILE, state)
        events = AuditLog(state).events(user="rita", project="demo", action="warehouse.query")
        if any(marker in e.details["sql"] for e in events):
            return events
        time.sleep(0.1)
    raise AssertionError(f"{marker!r} never reached {LOG_FILE}")


def test_real_kernel_statements_are_accounted_and_a_direct_read_is_not(
    workflows, sqlite_url, tmp_path, session_url
):
    role, url = session_url
    wf = workflows(sqlite_url, tmp_path / "store")
    create_project(wf.engine)
    statement_log.metadata.create_all(wf.engine)
    with wf.engine.begin() as conn:
        sessions = statement_log.pg_sessions
        conn.execute(sessions.insert().values(role=role, user="rita", project="demo"))
    wf.statement_log = LOG_FILE

    kernel = Warehouse(
        url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False),
        "demo",
        "analysis.ipynb",
        WorkflowRecorder(wf),
    )
    assert len(kernel.query("SELECT count(*) AS n FROM cc_enrollments WHERE term = :t", {"t": "x"}))
    kernel.tables()
    kernel.describe("cc_enrollments")
    kernel.query("select 'kernel_done' AS marker")
    kernel.close()
    events = import_until(wf.engine, "kernel_done")
    assert sum(e.details.get("source") == "postgresql-log" for e in events) > 10
    assert unaccounted_statements(events) == 0
    assert submit(wf, RITA)["institutions"] == ["CC-101"]

    direct = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(direct) as conn:
        conn.execute("SELECT institution, 'direct_read' FROM cc_enrollments").fetchall()
    import_until(wf.engine, "direct_read")
    result = submit(wf, RITA)
    assert result["institutions"] == ["CC-101", "UNI-201"]
    reasons = json.loads(wf.get(RITA, result["id"])["request"].institutions_source)
    # psycopg's own BEGIN is client bookkeeping; the SELECT is the one unaccounted statement
    assert reasons == {
        "CC-101": [LINEAGE, server_read_reason(["cc_enrollments"]), unaccounted_reason(1)],
        "UNI-201": [unaccounted_reason(1)],
    }
