"""Meta-test of the storage layer: every call that changes something takes its audit event and
writes it in the same transaction (OpenSAFELY airlock's rule, checked by behaviour as well as
by signature). A new mutating call fails here until it has a case below."""

import inspect

import pytest
import sqlalchemy as sa
from conftest import submit
from review_factories import researcher

from enclave.audit import AuditLog
from enclave.audit.actions import AuditAction, AuditEvent
from enclave.review_service.data_access import Changes, ReviewData
from enclave.review_service.states import RunState, Status
from enclave.tables import (
    review_comments,
    review_decisions,
    review_output_decisions,
    review_reexecutions,
    review_releases,
    review_requests,
    review_rounds,
    review_seen,
)

TABLES = (
    review_reexecutions,
    review_requests,
    review_decisions,
    review_comments,
    review_releases,
    review_rounds,
    review_output_decisions,
    review_seen,
)

# the calls that only read; every other public call must take an audit event
READS = {
    Changes: {"lock", "decisions", "release_sha256", "run", "open_requests_of"},
    ReviewData: {
        "transaction",
        "request",
        "request_with_history",
        "queue",
        "rounds",
        "output_decisions",
        "seen",
        "decisions",
        "approved_request_ids",
        "sha256_in_use",
        "run",
        "runs_in",
        "had_postgres_session",
        "query_events",
    },
}


# queues e-mail about the transaction's change, whose own call writes the change's event (the
# mail's sending is audited when it happens: tests/review_service/test_mail.py)
WITH_THE_CHANGE = {Changes: {"notify"}, ReviewData: set()}


def mutators(cls) -> list[str]:
    return sorted(
        name
        for name, _ in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") and name not in READS[cls] | WITH_THE_CHANGE[cls]
    )


def table_rows(engine) -> dict:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in TABLES
        } | {
            "statuses": sorted(conn.execute(sa.select(review_requests.c.status)).scalars()),
            "stewards": sorted(conn.execute(sa.select(review_requests.c.institutions)).scalars()),
            "runs": sorted(conn.execute(sa.select(review_reexecutions.c.state)).scalars()),
        }


def audit(action=AuditAction.REQUEST_COMMENT, rid="r-x"):
    return AuditEvent(action, "tester", project="demo", request=rid, details={"k": 1})


GENERATED = ("id", "status", "round", "created", "updated")  # what create_request sets itself
# name -> call(changes, data, locked row); each changes something and passes ``audit``
CASES = {
    "record": lambda tx, data, row: tx.record(audit(rid=row.id)),
    "create_request": lambda tx, data, row: tx.create_request(
        {k: getattr(row, k) for k in row._fields if k not in GENERATED},
        audit(AuditAction.REQUEST_SUBMIT),
    ),
    "move": lambda tx, data, row: tx.move(row, Status.WITHDRAWN, audit(rid=row.id)),
    "decide": lambda tx, data, row: tx.decide(
        row,
        {"user": "rev1", "decision": "approve", "as_reviewer": True, "institutions": []},
        Status.IN_REVIEW,
        audit(AuditAction.REQUEST_APPROVE, row.id),
        [{"cell": 1, "output": 0, "decision": "approve", "comment": "fine"}],
    ),
    "mark_seen": lambda tx, data, row: tx.mark_seen(
        row.author, row, audit(AuditAction.REQUEST_SEEN, row.id)
    ),
    "add_comment": lambda tx, data, row: tx.add_comment(
        row, "rev1", "ok", "all", audit(rid=row.id)
    ),
    "add_release": lambda tx, data, row: tx.add_release(
        row,
        {"sha256": "1" * 64, "size": 1, "approvers": ["rev1"]},
        Status.RELEASED,
        audit(AuditAction.RELEASE_BUILD, row.id),
    ),
}
CASES |= {
    "queue_run": lambda tx, data, row: tx.queue_run(
        row.id, 2, audit(AuditAction.REEXECUTION_QUEUE, row.id)
    ),
    "move_run": lambda tx, data, row: tx.move_run(
        tx.run(row.id, 1), RunState.RUNNING, audit(AuditAction.REEXECUTION_START, row.id)
    ),
    "set_stewards": lambda tx, data, row: tx.set_stewards(
        row, '["CC-101"]', '{"CC-101": ["read"]}', audit(AuditAction.REQUEST_STEWARDS, row.id)
    ),
}
DATA_CASES = {"record": lambda data, row: data.record(audit(AuditAction.WAREHOUSE_QUERY, None))}


def test_every_mutating_call_takes_an_audit_event():
    for cls in (Changes, ReviewData):
        for name in mutators(cls):
            parameters = inspect.signature(getattr(cls, name)).parameters
            assert "audit" in parameters, f"{cls.__name__}.{name} takes no audit event"
            assert parameters["audit"].annotation is AuditEvent, f"{cls.__name__}.{name}"
    assert set(mutators(Changes)) == set(CASES), "add a case for each mutating call"
    assert set(mutators(ReviewData)) == set(DATA_CASES)


@pytest.fixture
def stored(workflow):
    workflow.reexecute = True  # its round 1 is queued for a re-execution
    rid = submit(workflow, researcher("rita"))["id"]
    return workflow, ReviewData(workflow.engine), rid


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_change_writes_its_event_in_its_transaction(stored, name):
    wf, data, rid = stored
    log = AuditLog(wf.engine)
    before, seen = table_rows(wf.engine), len(log.events())
    with data.transaction() as tx:
        CASES[name](tx, data, tx.lock(rid))
    (new,) = log.events()[seen:]
    assert new.actor == "tester" and new.kind is not None
    assert table_rows(wf.engine) != before or name == "record"
    assert log.verify() == seen + 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_change_whose_event_cannot_be_written_is_not_made(stored, name, monkeypatch):
    wf, data, rid = stored
    log = AuditLog(wf.engine)
    before, seen = table_rows(wf.engine), len(log.events())

    def broken(*args, **kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(data.audit, "record", broken)
    with pytest.raises(RuntimeError), data.transaction() as tx:
        CASES[name](tx, data, tx.lock(rid))
    assert table_rows(wf.engine) == before and len(log.events()) == seen


def test_an_event_of_its_own_is_written(stored):
    wf, data, rid = stored
    log = AuditLog(wf.engine)
    seen = len(log.events())
    DATA_CASES["record"](data, None)
    assert [e.kind for e in log.events()[seen:]] == [AuditAction.WAREHOUSE_QUERY]
