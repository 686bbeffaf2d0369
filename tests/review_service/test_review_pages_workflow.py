"""What the review pages stand on: rounds kept, per-output decisions, notices, the queue's
search, sort and paging."""

import pytest
import review_notebooks as notebooks
from conftest import submit
from review_factories import researcher, reviewer, steward

from enclave.audit import AuditLog
from enclave.audit.actions import AuditAction
from enclave.review_service.errors import BadSubmission

RITA = researcher("rita")


def changes_requested(wf) -> str:
    rid = submit(wf, RITA)["id"]
    wf.decide(reviewer("rev1"), rid, "request_changes", "Round the counts.")
    return rid


def test_every_round_keeps_its_file_and_gate_result(workflow):
    rid = changes_requested(workflow)
    first = workflow.get(RITA, rid)["request"].sha256
    submit(workflow, RITA, notebooks.passing(title="Second try"), resubmit=rid)
    rounds = workflow.rounds(RITA, rid)
    assert [r.round for r in rounds] == [1, 2]
    assert rounds[0].sha256 == first != rounds[1].sha256
    assert rounds[1].sha256 == workflow.get(RITA, rid)["request"].sha256
    assert workflow.store.path(rounds[0].sha256).is_file()  # the old file stays frozen


def test_per_output_decisions_are_stored_with_the_decision_and_audited(workflow):
    rid = submit(workflow, RITA)["id"]
    outputs = [{"cell": 1, "output": 0, "decision": "request_changes", "comment": "Round it."}]
    workflow.decide(reviewer("rev1"), rid, "request_changes", "See cell 2.", outputs)
    (stored,) = workflow.output_decisions(RITA, rid)  # the requester reads them
    assert (stored.cell, stored.output, stored.decision, stored.comment) == (
        1,
        0,
        "request_changes",
        "Round it.",
    )
    (decided,) = AuditLog(workflow.engine).events(action=AuditAction.REQUEST_CHANGES)
    assert decided.details["outputs"] == {"request_changes": 1}
    assert "Round it." not in str(decided.details)


@pytest.mark.parametrize(
    "outputs, message",
    [
        ([{"cell": 1, "output": 0, "decision": "reject"}], "cannot be 'approve'"),
        ([{"cell": 7, "output": 0, "decision": "approve"}], "no output 1 in cell 8"),
        ([{"cell": 1, "output": 3, "decision": "approve"}], "no output 4 in cell 2"),
        ([{"cell": 1, "output": 0, "decision": "maybe"}], "'maybe' is not one of"),
        ([{"cell": "1", "output": 0, "decision": "approve"}], "cell and output numbers"),
        ([{"cell": 1, "output": 0, "decision": "approve"}] * 2, "decided twice"),
    ],
)
def test_bad_per_output_decisions_are_refused_and_nothing_is_recorded(workflow, outputs, message):
    rid = submit(workflow, RITA)["id"]
    events = len(AuditLog(workflow.engine).events())
    with pytest.raises(BadSubmission, match=message):
        workflow.decide(reviewer("rev1"), rid, "approve", "", outputs)
    assert workflow.get(RITA, rid)["decisions"] == []
    assert workflow.output_decisions(RITA, rid) == []
    assert len(AuditLog(workflow.engine).events()) == events


def test_a_change_by_someone_else_is_a_notice_until_the_requester_looks(workflow):
    rid = submit(workflow, RITA)["id"]
    assert workflow.notices(RITA) == []  # own submission: nothing to tell
    workflow.decide(reviewer("rev1"), rid, "request_changes", "Round the counts.")
    assert [r.id for r in workflow.notices(RITA)] == [rid]
    assert workflow.notices(reviewer("rev1")) == []
    workflow.mark_seen(reviewer("rev1"), rid)  # not the requester: changes nothing
    assert [r.id for r in workflow.notices(RITA)] == [rid]
    workflow.mark_seen(RITA, rid)
    workflow.mark_seen(RITA, rid)  # once per change
    assert workflow.notices(RITA) == []
    seen = AuditLog(workflow.engine).events(action=AuditAction.REQUEST_SEEN)
    assert [(e.actor, e.details["status"]) for e in seen] == [("rita", "changes_requested")]
    submit(workflow, RITA, resubmit=rid)
    assert workflow.notices(RITA) == []
    workflow.decide(reviewer("rev1"), rid, "approve")
    assert [r.status for r in workflow.notices(RITA)] == ["in_review"]


def test_queue_search_sort_and_steward_scope(workflow):
    first = submit(workflow, RITA, notebook="completion.ipynb")["id"]
    second = submit(workflow, RITA, notebook="transfer_rates.ipynb")["id"]
    rev = reviewer("rev1")
    assert [r.id for r, _ in workflow.visible(rev, search="transfer")] == [second]
    assert [r.id for r, _ in workflow.visible(rev, search=first[-4:])] == [first]
    assert [r.id for r, _ in workflow.visible(rev, search="nothing-like-it")] == []
    assert [r.id for r, _ in workflow.visible(rev, search="%")] == []  # no wildcards
    assert [r.id for r, _ in workflow.visible(rev, sort="oldest")] == [first, second]
    # a steward sees only what involves their institution
    assert {r.id for r, _ in workflow.visible(steward("CC-101"))} == {first, second}
    assert workflow.visible(steward("K12-001")) == []
    # "mine": a reviewer who is also a researcher sees only their own
    assert workflow.visible(rev, mine=True) == []
