"""Meta-test: every state change writes its own audit event, in the same transaction.

Generated from the transition table: for every (status, action) it lists, a request is built
at that status through the workflow (``create_request_at_status``), the action is taken as a
person would take it, and the request must end at the table's target with exactly one new
event of ``AUDIT_ACTIONS[action]`` (plus the gate's result for a resubmission, the comment a
refusal carries). Every pair the
table does not list is refused with nothing written. A new action or state that nobody can
take here fails this test until it is added.
"""

import pytest
from conftest import PROJECT, create_project, submit
from review_factories import researcher, reviewer, steward
from test_workflow import builder

from enclave.audit import AuditLog
from enclave.audit.actions import AuditAction
from enclave.review_service.errors import ReviewError
from enclave.review_service.identity import SCOPE_REVIEW, SCOPE_STEWARD, Actor
from enclave.review_service.states import AUDIT_ACTIONS, TRANSITIONS, Action, Status

RITA = researcher("rita")
# one person who counts as reviewer and as steward of both institutions: completes the set
EVERYONE = Actor(
    "all-in-one",
    frozenset({SCOPE_REVIEW, SCOPE_STEWARD}),
    frozenset({"reviewers", "stewards-CC-101", "stewards-UNI-201"}),
)


def create_request_at_status(wf, status: Status) -> str:
    """A request of project ``demo`` brought to ``status`` the way people would."""
    rid = submit(wf, RITA)["id"]
    if status is Status.IN_REVIEW:
        wf.decide(reviewer("rev1"), rid, "approve")
    elif status is Status.CHANGES_REQUESTED:
        wf.decide(reviewer("rev1"), rid, "request_changes", "Round the counts.")
    elif status in (Status.APPROVED, Status.RELEASED):
        wf.decide(EVERYONE, rid, "approve")
        if status is Status.RELEASED:
            wf.release(rid, builder(wf))
    elif status is Status.REJECTED:
        wf.decide(reviewer("rev1"), rid, "reject", "No.")
    elif status is Status.WITHDRAWN:
        wf.withdraw(RITA, rid)
    assert wf.get(RITA, rid)["request"].status == status
    return rid


def take(wf, rid: str, action: Action, status: Status) -> None:
    """Take ``action`` on ``rid`` as the person who would."""
    if action is Action.APPROVE:
        wf.decide(reviewer("rev2" if status is Status.IN_REVIEW else "rev1"), rid, "approve")
    elif action is Action.APPROVE_FINAL:
        wf.decide(EVERYONE, rid, "approve")
    elif action is Action.REQUEST_CHANGES:
        wf.decide(reviewer("rev3"), rid, "request_changes", "Round the counts.")
    elif action is Action.REJECT:
        wf.decide(steward("UNI-201"), rid, "reject", "Ranks our campus.")
    elif action is Action.RESUBMIT:
        submit(wf, RITA, resubmit=rid)
    elif action is Action.WITHDRAW:
        wf.withdraw(RITA, rid)
    elif action is Action.RELEASE:
        assert wf.release(rid, builder(wf))
    elif action is Action.RETURN:  # in the transaction of CC-101's withdrawal of its data
        with wf.engine.begin() as conn:
            returned = wf.return_for_withdrawal(conn, PROJECT, "CC-101", "steward-cc-101", "ended")
            assert returned == [rid]  # else rolled back: nothing written
    else:
        raise AssertionError(f"nobody takes {action} in this test: add it")


@pytest.fixture
def wf(workflows, sqlite_url, tmp_path):
    wf = workflows(sqlite_url, tmp_path / "store", required_reviewer_approvals=1)
    create_project(wf.engine)
    return wf


TABLE = [(s, a) for s, moves in TRANSITIONS.items() for a in moves]
NOT_IN_TABLE = [(s, a) for s in Status for a in Action if a not in TRANSITIONS[s]]


def test_every_action_has_its_own_audit_action():
    assert set(AUDIT_ACTIONS) == set(Action)
    assert len(set(AUDIT_ACTIONS.values())) == len(Action)
    assert AuditAction.REQUEST_SUBMIT not in AUDIT_ACTIONS.values()  # opening is its own


@pytest.mark.parametrize("status,action", TABLE, ids=[f"{s}-{a}" for s, a in TABLE])
def test_every_transition_writes_its_event(wf, status, action):
    rid = create_request_at_status(wf, status)
    log = AuditLog(wf.engine)
    seen = len(log.events())
    take(wf, rid, action, status)
    target = TRANSITIONS[status][action]
    assert wf.get(RITA, rid)["request"].status == target
    new = log.events()[seen:]
    expected = [AUDIT_ACTIONS[action]]
    if action is Action.RESUBMIT:
        expected.append(AuditAction.GATE_RESULT)
    if action in (Action.REQUEST_CHANGES, Action.REJECT):  # the required comment is a change too
        expected.append(AuditAction.REQUEST_COMMENT)
    if action is Action.RETURN:  # the comment saying why
        expected.append(AuditAction.REQUEST_COMMENT)
    assert [e.action for e in new] == expected
    assert new[0].request == rid and new[0].project == PROJECT
    assert new[0].details["status"] == target
    assert log.verify() == len(log.events())


@pytest.mark.parametrize("status,action", NOT_IN_TABLE, ids=[f"{s}-{a}" for s, a in NOT_IN_TABLE])
def test_every_move_the_table_does_not_list_is_refused_and_writes_nothing(wf, status, action):
    rid = create_request_at_status(wf, status)
    log = AuditLog(wf.engine)
    seen = len(log.events())
    with pytest.raises((ReviewError, AssertionError)):
        take(wf, rid, action, status)
    assert wf.get(RITA, rid)["request"].status == status
    assert len(log.events()) == seen


def test_opening_a_request_writes_submit_and_the_gate_result(wf):
    log = AuditLog(wf.engine)
    rid = submit(wf, RITA)["id"]
    assert [(e.action, e.details.get("status")) for e in log.events(request=rid)] == [
        (AuditAction.REQUEST_SUBMIT, "submitted"),
        (AuditAction.GATE_RESULT, None),
    ]
