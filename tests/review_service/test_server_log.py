"""The steward rule against real pgAudit records (the recording clusters): the relations the
kernel's reads name count, and a direct read of another sector's table, even through a
function that runs SQL, asks that sector's stewards."""

import json
import time

import psycopg
import pytest
import sqlalchemy as sa
from conftest import create_project, submit
from review_factories import researcher

from enclave.audit import AuditLog
from enclave.hub.isolation.postgres import SessionRoles, ensure_cluster
from enclave.kernels.client import Warehouse
from enclave.review_service.stewards import NO_RERUN, RECIPIENT, server_read_reason
from enclave.warehouse import statement_log

RITA = researcher("rita")


@pytest.fixture
def session(recording_db):
    """A warehouse with a cc_ and a univ_ table, set up as the hub does, and rita's role."""
    db = sa.engine.make_url(recording_db.url).database
    project_role = f"{db}_proj_demo"
    admin = sa.create_engine(recording_db.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "CREATE SCHEMA warehouse; CREATE TABLE warehouse.cc_enrollments "
            "(student_key text, institution text, term text); INSERT INTO "
            "warehouse.cc_enrollments VALUES ('stu_a', 'CC-101', '2025FA'); CREATE TABLE "
            "warehouse.univ_degrees (student_key text, institution text); INSERT INTO "
            "warehouse.univ_degrees VALUES ('stu_b', 'UNI-201')"
        )
        conn.exec_driver_sql(
            f"CREATE ROLE {project_role} NOLOGIN; GRANT CONNECT ON DATABASE {db} TO "
            f"{project_role}; GRANT USAGE ON SCHEMA warehouse TO {project_role}; "
            f"GRANT SELECT ON ALL TABLES IN SCHEMA warehouse TO {project_role}"
        )
    admin.dispose()
    ensure_cluster(recording_db.url, recording_db.reader_url)
    return recording_db, project_role


def import_until(wf, marker):
    """Import the audit log until a record of a statement containing ``marker`` arrived."""
    for _ in range(100):
        statement_log.import_statements(wf.statement_log, wf.engine)
        events = AuditLog(wf.engine).events(user="rita", project="demo", action="warehouse.query")
        if any(marker in text for e in events for text in e.details.get("statements", ())):
            return events
        time.sleep(0.05)
    raise AssertionError(f"{marker!r} never reached {wf.statement_log}")


def test_the_relations_the_server_recorded_decide_the_stewards(
    workflows, sqlite_url, tmp_path, session
):
    recording, project_role = session
    wf = workflows(sqlite_url, tmp_path / "store")
    create_project(wf.engine)
    wf.statement_log = recording.audit_log
    roles = SessionRoles(
        recording.url, wf.engine, log_file=recording.audit_log, reader_url=recording.reader_url
    )
    login = roles.open("rita", "demo", project_role)

    kernel = Warehouse(login.url, "demo")
    assert len(kernel.query("SELECT count(*) AS n FROM cc_enrollments WHERE term = :t", {"t": "x"}))
    kernel.tables()
    kernel.describe("cc_enrollments")
    kernel.query("select 'kernel_done' AS marker")
    kernel.close()
    import_until(wf, "kernel_done")
    result = submit(wf, RITA)
    assert result["institutions"] == ["CC-101", "UNI-201"]  # (the project, until re-run)
    reasons = json.loads(wf.get(RITA, result["id"])["request"].institutions_source)
    assert reasons == {
        "CC-101": [NO_RERUN, server_read_reason(["cc_enrollments"]), RECIPIENT],
        "UNI-201": [NO_RERUN],
    }

    direct = sa.engine.make_url(login.url).set(drivername="postgresql")
    with psycopg.connect(direct.render_as_string(hide_password=False)) as conn:
        conn.execute(
            "SELECT query_to_xml('SELECT 1 AS direct_read FROM univ_degrees', true, true, '')"
        ).fetchall()
    import_until(wf, "direct_read")
    result = submit(wf, RITA)
    assert result["institutions"] == ["CC-101", "UNI-201"]
    reasons = json.loads(wf.get(RITA, result["id"])["request"].institutions_source)
    assert reasons["UNI-201"] == [NO_RERUN, server_read_reason(["univ_degrees"])]
