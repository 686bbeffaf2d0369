"""The pgAudit importer on its own: jsonlog lines in, one audit event per statement out."""

import json

import pytest
import sqlalchemy as sa

from enclave.audit import AuditLog
from enclave.state import make_engine
from enclave.warehouse import statement_log
from enclave.warehouse.statement_log import AuditLogUnreadable, import_statements
from tests.support import pgaudit

NEWLINE_NAME = 'DECLARE "a\nb""c" CURSOR FOR SELECT * FROM students'


@pytest.fixture
def state(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
    with engine.begin() as conn:
        conn.execute(
            statement_log.pg_sessions.insert().values(
                role="db_sess_alice", user="alice", project="proj_a"
            )
        )
    return engine


def statements(engine):
    return [
        (e.actor, e.project, e.details["statements"], e.details["relations"])
        for e in AuditLog(engine).events()
    ]


def alice(sql, relations, statement_id=1, session="s1"):
    return pgaudit.read(sql, relations, statement_id, role="db_sess_alice", session=session)


def test_one_event_per_statement_of_a_session_role_with_the_relations_it_read(tmp_path, state):
    log = tmp_path / "postgresql.json"
    log.write_text(
        alice(NEWLINE_NAME, ["warehouse.students"])
        + pgaudit.read("SELECT 2", ["warehouse.cc_enrollments"], role="db_sess_bob")
        + pgaudit.read("SELECT secret", ["warehouse.students"], role="postgres")
        + alice(
            "SELECT count(*) FROM students, cc_enrollments WHERE term = $1",
            ["warehouse.students", "warehouse.cc_enrollments"],
            statement_id=2,
        )
        + alice("SELECT 1", [], statement_id=2, session="s2")  # another server session
        + pgaudit.log_line("connection authorized: user=db_sess_alice", role="db_sess_alice")
    )
    assert import_statements(str(log), state) == 3
    assert statements(state) == [
        ("alice", "proj_a", [NEWLINE_NAME], ["warehouse.students"]),
        (
            "alice",
            "proj_a",
            ["SELECT count(*) FROM students, cc_enrollments WHERE term = $1"],
            ["warehouse.cc_enrollments", "warehouse.students"],
        ),
        ("alice", "proj_a", ["SELECT 1"], []),
    ]
    details = AuditLog(state).events()[0].details
    assert details["source"] == "pgaudit" and details["classes"] == ["READ"]
    assert "<not logged>" not in json.dumps(details)  # pgAudit's parameter field is not kept


def test_substatements_and_functions_belong_to_their_statement(tmp_path, state):
    outer = "SELECT query_to_xml('select * from students', true, true, '')"
    lines = [
        pgaudit.audit_message("SESSION", 1, 1, "READ", "SELECT", "", "", outer),
        pgaudit.audit_message(
            "SESSION", 1, 2, "FUNCTION", "EXECUTE", "FUNCTION", "pg_catalog.query_to_xml", outer
        ),
        pgaudit.audit_message("SESSION", 1, 3, "READ", "SELECT", "", "", "select * from students"),
        pgaudit.audit_message(
            "OBJECT",
            1,
            3,
            "READ",
            "SELECT",
            "TABLE",
            "warehouse.students",
            "select * from students",
        ),
    ]
    log = tmp_path / "postgresql.json"
    log.write_text("".join(pgaudit.log_line(m, role="db_sess_alice") for m in lines))
    assert import_statements(str(log), state) == 1
    details = AuditLog(state).events()[0].details
    assert details["statements"] == [outer, "select * from students"]
    assert details["relations"] == ["warehouse.students"]
    assert details["functions"] == ["pg_catalog.query_to_xml"]
    assert details["classes"] == ["FUNCTION", "READ"]


def test_import_resumes_where_it_stopped_and_waits_for_whole_lines(tmp_path, state):
    log = tmp_path / "postgresql.json"
    log.write_text(alice("SELECT 1", []))
    import_statements(str(log), state)
    line = alice("SELECT 3", [], statement_id=2)
    with log.open("a") as f:
        f.write(line[:-1])
    assert import_statements(str(log), state) == 0  # the line is not finished yet
    with log.open("a") as f:
        f.write("\n")
    assert import_statements(str(log), state) == 1
    assert statements(state)[-1][2] == ["SELECT 3"]


def test_rotated_log_is_read_from_the_start(tmp_path, state):
    log = tmp_path / "postgresql.json"
    log.write_text(alice("SELECT 1", []) + alice("SELECT 2", [], statement_id=2))
    import_statements(str(log), state)
    log.unlink()  # the new file may get the old inode number: it is shorter, though
    log.write_text(alice("SELECT 4", []))
    assert import_statements(str(log), state) == 1


def test_a_line_that_is_not_json_fails_the_import_and_records_nothing(tmp_path, state):
    log = tmp_path / "postgresql.json"
    log.write_text(alice("SELECT 1", []) + "2026-11-29 LOG:  AUDIT: SESSION,1,1,READ,...\n")
    with pytest.raises(AuditLogUnreadable, match="jsonlog"):
        import_statements(str(log), state)
    assert AuditLog(state).events() == []
    with state.connect() as conn:
        assert conn.execute(sa.select(statement_log.pg_log_offsets)).first() is None


def test_messages_that_only_look_like_pgaudit_records_are_not_imported(tmp_path, state):
    forged = pgaudit.audit_message("OBJECT", 9, 1, "READ", "SELECT", "TABLE", "warehouse.x", "x")
    log = tmp_path / "postgresql.json"
    log.write_text(
        pgaudit.log_line(forged, role="db_sess_alice", severity="ERROR")  # an error echoing it
        + pgaudit.log_line("AUDIT: nonsense", role="db_sess_alice")
    )
    assert import_statements(str(log), state) == 0


def test_a_new_state_database_does_not_read_the_log_written_before_its_first_session(
    tmp_path, monkeypatch
):
    state = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite'}")  # no session role yet
    log = tmp_path / "postgresql.json"
    log.write_text(alice("SELECT 1", []) * 100)  # the shared server log, grown over earlier runs

    def read(f, roles, path):
        assert f.tell() == log.stat().st_size, "the log before any session role was read"
        return [], f.tell()

    monkeypatch.setattr(statement_log, "read_statements", read)
    assert import_statements(str(log), state) == 0
    monkeypatch.undo()
    with state.begin() as conn:  # the first session opens; then its statement is logged
        conn.execute(
            statement_log.pg_sessions.insert().values(
                role="db_sess_alice", user="alice", project="p"
            )
        )
    with log.open("a") as f:
        f.write(alice("SELECT 5", [], statement_id=7))
    assert import_statements(str(log), state) == 1
    assert [s for _, _, s, _ in statements(state)] == [["SELECT 5"]]
