"""Unit tests of the rules as data: states, approvals, permissions."""

import pytest
from review_factories import (
    admin,
    decision,
    request_row,
    researcher,
    reviewer,
    steward,
)

from enclave.review_service import permissions as p
from enclave.review_service.approvals import progress
from enclave.review_service.errors import PermissionDenied
from enclave.review_service.identity import SCOPE_REVIEW, SCOPE_STEWARD, Actor
from enclave.review_service.states import (
    TRANSITIONS,
    Action,
    InvalidTransition,
    Status,
    next_status,
)


def test_every_state_is_in_the_table_and_terminal_states_allow_nothing():
    assert set(TRANSITIONS) == set(Status)
    for terminal in (Status.RELEASED, Status.REJECTED, Status.WITHDRAWN):
        assert TRANSITIONS[terminal] == {}
    assert next_status("in_review", "approve_final") is Status.APPROVED
    assert next_status("changes_requested", "resubmit") is Status.SUBMITTED


@pytest.mark.parametrize(
    "status,action",
    [
        ("released", "approve"),
        ("rejected", "resubmit"),
        ("approved", "approve"),
        ("changes_requested", "approve"),
        ("in_review", "resubmit"),
        ("withdrawn", "withdraw"),
    ],
)
def test_moves_not_in_the_table_are_refused(status, action):
    with pytest.raises(InvalidTransition, match="cannot take"):
        next_status(status, action)


def test_two_reviewers_and_every_steward_are_needed():
    row = request_row(institutions=["CC-101", "UNI-201"])
    decisions = [decision("rev1")]
    assert progress(row, decisions, 2).reviewers_needed == 1
    decisions.append(decision("rev2"))
    decisions.append(decision("s-cc", as_reviewer=False, institutions=["CC-101"]))
    state = progress(row, decisions, 2)
    assert state.reviewers_needed == 0
    assert state.institutions_outstanding == ["UNI-201"]
    assert not state.complete
    decisions.append(decision("s-uni", as_reviewer=False, institutions=["UNI-201"]))
    state = progress(row, decisions, 2)
    assert state.complete
    assert state.approvers == ["rev1", "rev2", "s-cc", "s-uni"]


def test_approvals_of_an_earlier_round_or_by_the_author_do_not_count():
    row = request_row(round=2)
    decisions = [
        decision("rev1", round=1),
        decision("rita"),  # the author; refused earlier, and never counted either
        decision("rev2", round=2),
        decision("s", as_reviewer=False, institutions=["CC-101"], round=2),
    ]
    row.author = "rita"
    state = progress(row, decisions, 2)
    assert state.reviewers == ["rev2"]
    assert not state.complete
    assert progress(row, decisions, 1).complete


def test_non_approvals_do_not_count():
    row = request_row()
    decisions = [decision("rev1", "request_changes"), decision("rev2", "reject")]
    assert progress(row, decisions, 1).reviewers == []


def test_self_review_is_refused_even_for_a_reviewer():
    author = Actor("rita", frozenset({SCOPE_REVIEW, SCOPE_STEWARD}), frozenset({"stewards-CC-101"}))
    with pytest.raises(PermissionDenied, match="Nobody reviews their own request"):
        p.check_user_can_decide(author, request_row(author="rita"))
    assert not p.user_can_decide(author, request_row(author="rita"))


def test_steward_of_an_uninvolved_institution_cannot_decide_or_see():
    row = request_row(institutions=["CC-101"])
    outsider = steward("K12-001")
    with pytest.raises(PermissionDenied, match="steward of K12-001.*CC-101 only"):
        p.check_user_can_decide(outsider, row)
    assert not p.user_can_view(outsider, row)
    assert p.user_can_decide(steward("CC-101"), row)


def test_steward_groups_without_the_steward_scope_grant_nothing():
    impostor = Actor("x", frozenset(), frozenset({"stewards-CC-101"}))
    assert impostor.stewards == frozenset()
    assert not p.user_can_decide(impostor, request_row())


def test_filtered_scopes_are_not_role_grants():
    actor = Actor.from_hub_model(
        {"name": "x", "scopes": [f"{SCOPE_REVIEW}!user=x"], "groups": ["reviewers"]}, {}
    )
    assert not actor.is_reviewer


def test_decisions_only_while_open():
    for status in ("changes_requested", "approved", "released", "rejected", "withdrawn"):
        with pytest.raises(PermissionDenied, match="not open for decisions"):
            p.check_user_can_decide(reviewer(), request_row(status=status))


def test_only_requester_or_admin_downloads_and_only_when_released():
    row = request_row(status="released")
    assert p.user_can_download(researcher("rita"), row)
    assert p.user_can_download(admin(), row)
    for other in (researcher("bob"), reviewer(), steward("CC-101")):
        with pytest.raises(PermissionDenied, match="only the requester"):
            p.check_user_can_download(other, row)
    with pytest.raises(PermissionDenied, match="not released"):
        p.check_user_can_download(researcher("rita"), request_row(status="approved"))


def test_researchers_see_only_their_own_requests_and_no_internal_notes():
    row = request_row(author="rita")
    assert p.user_can_view(researcher("rita"), row)
    assert not p.user_can_view(researcher("bob"), row)
    note = request_row(visibility="reviewers")
    assert not p.user_can_read_comment(researcher("rita"), row, note)
    assert p.user_can_read_comment(reviewer(), row, note)
    assert p.user_can_read_comment(researcher("rita"), row, request_row(visibility="all"))


def test_only_holders_of_the_submit_scope_submit():
    assert p.user_can_submit(researcher())
    assert not p.user_can_submit(reviewer())


def test_only_the_author_resubmits_or_withdraws():
    assert p.user_can_change_own(researcher("rita"), request_row())
    assert not p.user_can_change_own(admin(), request_row())


def test_user_can_pairs_are_named_after_their_checks():
    assert p.user_can_decide.__name__ == "user_can_decide"
    assert Action.APPROVE_FINAL.value == "approve_final"


def test_review_refusals_are_enclave_errors_that_keep_their_http_status():
    from enclave.errors import EnclaveError
    from enclave.review_service.errors import Conflict, ReviewError

    with pytest.raises(EnclaveError) as caught:
        raise Conflict("request r-1: already decided.")
    assert caught.value.status == 409 and caught.value.exit_code == 1
    assert ReviewError("x", status=418).status == 418
