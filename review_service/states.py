"""The review workflow as data: every state, and which action moves a request where.

One table (``TRANSITIONS``) is the whole state machine; the READMEs' diagram is generated from
it (``diagram.py``). Code never assigns a status directly: it asks ``next_status(current,
action)``, which refuses anything the table does not list. Each action writes its own audit
event (``AUDIT_ACTIONS``); a new request is ``request.submit``.
"""

from enum import StrEnum

from enclave.audit.actions import AuditAction


class Status(StrEnum):
    SUBMITTED = "submitted"  # frozen, gate run, waiting for its first reviewer
    IN_REVIEW = "in_review"  # at least one approval in the current round
    CHANGES_REQUESTED = "changes_requested"  # back with the researcher until resubmitted
    APPROVED = "approved"  # every required approval given; the release is being built
    RELEASED = "released"  # the package exists and can be downloaded by the requester
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Action(StrEnum):
    APPROVE = "approve"  # an approval that still leaves others outstanding
    APPROVE_FINAL = "approve_final"  # the approval that completes the set
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"
    RESUBMIT = "resubmit"
    WITHDRAW = "withdraw"
    RELEASE = "release"
    RETURN = "return"  # an approval of data it used was withdrawn: back to its researcher


S, A = Status, Action
TRANSITIONS: dict[Status, dict[Action, Status]] = {
    S.SUBMITTED: {
        A.APPROVE: S.IN_REVIEW,
        A.APPROVE_FINAL: S.APPROVED,
        A.REQUEST_CHANGES: S.CHANGES_REQUESTED,
        A.REJECT: S.REJECTED,
        A.RESUBMIT: S.SUBMITTED,
        A.WITHDRAW: S.WITHDRAWN,
        A.RETURN: S.CHANGES_REQUESTED,
    },
    S.IN_REVIEW: {
        A.APPROVE: S.IN_REVIEW,
        A.APPROVE_FINAL: S.APPROVED,
        A.REQUEST_CHANGES: S.CHANGES_REQUESTED,
        A.REJECT: S.REJECTED,
        A.WITHDRAW: S.WITHDRAWN,
        A.RETURN: S.CHANGES_REQUESTED,
    },
    S.CHANGES_REQUESTED: {
        A.RESUBMIT: S.SUBMITTED,
        A.WITHDRAW: S.WITHDRAWN,
    },
    S.APPROVED: {A.RELEASE: S.RELEASED, A.RETURN: S.CHANGES_REQUESTED},
    S.RELEASED: {},
    S.REJECTED: {},
    S.WITHDRAWN: {},
}

# the audit event each transition writes: every distinct change of state has its own
AUDIT_ACTIONS: dict[Action, AuditAction] = {
    A.APPROVE: AuditAction.REQUEST_APPROVE,
    A.APPROVE_FINAL: AuditAction.REQUEST_APPROVE_FINAL,
    A.REQUEST_CHANGES: AuditAction.REQUEST_CHANGES,
    A.REJECT: AuditAction.REQUEST_REJECT,
    A.RESUBMIT: AuditAction.REQUEST_RESUBMIT,
    A.WITHDRAW: AuditAction.REQUEST_WITHDRAW,
    A.RELEASE: AuditAction.RELEASE_BUILD,
    A.RETURN: AuditAction.REQUEST_RETURNED,
}
del S, A

# states in which reviewers and stewards still have something to decide
OPEN_FOR_DECISION = frozenset({Status.SUBMITTED, Status.IN_REVIEW})


class InvalidTransition(Exception):
    """The table has no such move; ``str()`` is a sentence for the user."""


def next_status(current: Status | str, action: Action | str) -> Status:
    current, action = Status(current), Action(action)
    try:
        return TRANSITIONS[current][action]
    except KeyError:
        allowed = ", ".join(a.value for a in TRANSITIONS[current]) or "nothing"
        raise InvalidTransition(
            f"a request that is {current.value} cannot take '{action.value}' (allowed: {allowed})."
        ) from None


class RunState(StrEnum):
    """A re-execution of one round (``reexecution.py``)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"  # ran to the end: compared, screened, lineage known
    FAILED = "failed"  # a cell raised, ran out of memory or time: changes requested
    TOO_LONG = "too_long"  # past the total limit: a reviewer's audited exception, or nothing
    UNAVAILABLE = "unavailable"  # the service could not run it: retried when it starts again


R = RunState
RUN_TRANSITIONS: dict[RunState, dict[RunState, AuditAction]] = {
    R.QUEUED: {R.RUNNING: AuditAction.REEXECUTION_START},
    R.RUNNING: {
        **{end: AuditAction.REEXECUTION_FINISH for end in (R.DONE, R.FAILED, R.TOO_LONG)},
        R.UNAVAILABLE: AuditAction.REEXECUTION_FINISH,
        R.QUEUED: AuditAction.REEXECUTION_RESTART,
    },
    R.UNAVAILABLE: {R.QUEUED: AuditAction.REEXECUTION_RESTART},
    R.DONE: {},
    R.FAILED: {},
    R.TOO_LONG: {},
}
del R


def run_move(current: RunState | str, new: RunState | str) -> AuditAction:
    """The audit action of moving a run from ``current`` to ``new``; refuses what the table
    does not list."""
    current, new = RunState(current), RunState(new)
    try:
        return RUN_TRANSITIONS[current][new]
    except KeyError:
        raise InvalidTransition(
            f"a re-execution that is {current.value} cannot become {new.value}."
        ) from None
