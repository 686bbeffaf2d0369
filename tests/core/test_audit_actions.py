"""Audit actions are an enum; old trails' names keep reading as today's actions."""

import shutil
from pathlib import Path

import pytest

from enclave.audit.actions import AuditAction, AuditEvent, kind_of, parse_action
from enclave.audit.log import AuditLog
from enclave.cli import main
from enclave.state import make_engine

LEGACY = Path(__file__).parent / "legacy_state" / "state-44be478.sqlite"


@pytest.fixture
def upgraded(tmp_path):
    """The trail of enclave 0.1 (old names), upgraded to today's schema."""
    path = tmp_path / "state.sqlite"
    shutil.copy(LEGACY, path)
    url = f"sqlite:///{path}"
    assert main(["upgrade-db", "--db", url]) == 0
    return url


def test_no_free_strings(tmp_path):
    with pytest.raises(ValueError):
        AuditEvent(action="request.whatever", actor="x")
    engine = make_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    log = AuditLog(engine)
    with pytest.raises(ValueError):
        log.append(actor="x", action="made.up")
    assert log.events() == []
    engine.dispose()


def test_old_names_read_as_todays_actions():
    decided = {"decision": "approve", "status": "in_review"}
    assert kind_of("request.decide", decided) is AuditAction.REQUEST_APPROVE
    assert kind_of("request.decide", {**decided, "status": "approved"}) is (
        AuditAction.REQUEST_APPROVE_FINAL
    )
    assert kind_of("request.decide", {"decision": "reject"}) is AuditAction.REQUEST_REJECT
    assert kind_of("request.decide", {"decision": "request_changes"}) is (
        AuditAction.REQUEST_CHANGES
    )
    assert kind_of("request.submit", {"round": 2}) is AuditAction.REQUEST_RESUBMIT
    assert kind_of("request.submit", {"round": 1}) is AuditAction.REQUEST_SUBMIT
    assert kind_of("spawn", {}) is AuditAction.SPAWN
    assert kind_of("never.written", {}) is None
    assert len(parse_action("request.decide")) == 4
    with pytest.raises(ValueError, match="no such audit action; use one of state.upgrade"):
        parse_action("request.approved")


def test_filters_by_todays_names_find_the_old_trails_events(upgraded):
    engine = make_engine(upgraded)
    log = AuditLog(engine)
    by = {name: log.events(action=name) for name in (*AuditAction, "request.decide")}
    engine.dispose()
    counts = {name: len(events) for name, events in by.items() if events}
    assert counts == {
        "state.upgrade": 1,
        "project.create": 2,
        "project.add-member": 4,
        "project.approve": 4,
        "project.expire": 1,
        "agreement.accept": 2,
        "spawn": 1,
        "warehouse.query": 2,
        "request.submit": 4,
        "request.resubmit": 1,
        "request.approve": 4,
        "request.approve-final": 1,
        "request.request-changes": 1,
        "request.reject": 1,
        "request.withdraw": 1,
        "release.build": 1,
        "gate.result": 5,
        "request.comment": 7,
        "release.download": 1,
        "request.decide": 7,
    }
    assert {e.action for e in by["request.approve"]} == {"request.decide"}  # stored as written
    assert by["request.resubmit"][0].details["round"] == 2


def test_audit_show_takes_todays_and_old_names(upgraded, capsys):
    assert main(["audit", "show", "--db", upgraded, "--action", "request.approve-final"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert "stew-uni-201" in line and "request.decide" in line
    assert main(["audit", "show", "--db", upgraded, "--action", "request.decide"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 7
    assert main(["audit", "show", "--db", upgraded, "--action", "request.approved"]) == 1
    (error,) = capsys.readouterr().err.splitlines()
    assert "no such audit action" in error and "request.approve-final" in error
