"""What an audit event can say: every action as one enum, and what the trail's old names mean.

Each distinct change of state has its own action (an approval that leaves others outstanding
is ``request.approve``, the one that completes the set ``request.approve-final``), so a trail
reads without its details. ``AuditEvent`` is an event to record: the action, who, where, and
details that never carry output values, query results or raw identifiers.

Trails written before the enum hold older names, and their events can never be rewritten (the
hash chain covers them): ``kind_of`` reads them as today's actions (``request.decide`` by its
``decision``; a ``request.submit`` of a later round is a resubmission).
"""

from dataclasses import dataclass, field
from enum import StrEnum


class AuditAction(StrEnum):
    # the state database (enclave.state)
    STATE_UPGRADE = "state.upgrade"
    # scratch an interrupted operation left, removed when the next one starts (enclave.scratch)
    SCRATCH_SWEEP = "scratch.sweep"
    # approved projects (enclave.projects)
    PROJECT_CREATE = "project.create"
    PROJECT_ADD_MEMBER = "project.add-member"
    PROJECT_REMOVE_MEMBER = "project.remove-member"
    PROJECT_REQUEST = "project.request"  # a new project's data-access request
    PROJECT_REQUEST_ACCESS = "project.request-access"  # one more institution, or again
    PROJECT_APPROVE = "project.approve"  # a steward approves what was asked
    PROJECT_APPROVE_NARROWER = "project.approve-narrower"  # fewer tables or columns
    PROJECT_DECLINE = "project.decline"
    PROJECT_WITHDRAW = "project.withdraw"
    PROJECT_APPROVE_OVERRIDE = "project.approve-override"  # an administrator, with a reason
    PROJECT_EXPIRE = "project.expire"
    # closing a project (enclave.closure): the inventory before destruction, notice at
    # expiry, and the destruction record
    PROJECT_CLOSURE_NOTICE = "project.closure-notice"
    PROJECT_CLOSE_BEGIN = "project.close-begin"
    PROJECT_CLOSE = "project.close"
    # sign-on and sessions (enclave.hub)
    AGREEMENT_ACCEPT = "agreement.accept"
    SPAWN = "spawn"
    # raw extracts deleted after a successful load (WarehouseSettings.remove_raw_after_load)
    WAREHOUSE_RAW_REMOVE = "warehouse.raw-remove"
    # the provider no longer vouches for a user: servers stopped, tokens and cookies revoked
    ACCESS_REVOKE = "access.revoke"
    # someone other than its owner let into a session server (only where a deployment allows it)
    SESSION_ENTER = "session.enter"
    # a session's bytes sent to the browser, when it ends (and whether its cap ended it)
    SESSION_OUTPUT = "session.output"
    # reading the warehouse: a kernel's record, or the server's statement log
    WAREHOUSE_QUERY = "warehouse.query"
    # review and release (enclave.review_service): one per transition, and the rest
    REQUEST_SUBMIT = "request.submit"
    REQUEST_RESUBMIT = "request.resubmit"
    REQUEST_APPROVE = "request.approve"
    REQUEST_APPROVE_FINAL = "request.approve-final"
    REQUEST_CHANGES = "request.request-changes"
    REQUEST_REJECT = "request.reject"
    REQUEST_WITHDRAW = "request.withdraw"
    REQUEST_RETURNED = "request.returned"  # an approval of data it used was withdrawn
    RELEASE_BUILD = "release.build"
    GATE_RESULT = "gate.result"
    REQUEST_COMMENT = "request.comment"
    REQUEST_SEEN = "request.seen"  # its requester has seen a change of state (a notice done)
    RELEASE_DOWNLOAD = "release.download"
    # e-mail notifications (enclave.notify): each attempt at a message from the outbox
    MAIL_SENT = "mail.sent"
    MAIL_FAILED = "mail.failed"  # refused or unreachable: retried later
    MAIL_UNDELIVERABLE = "mail.undeliverable"  # no address, or every attempt failed
    # trusted re-execution (enclave.review_service.reexecution): one per move of a run
    REEXECUTION_QUEUE = "reexecution.queue"
    REEXECUTION_START = "reexecution.start"
    REEXECUTION_RESTART = "reexecution.restart"  # the service stopped mid-run: queued again
    REEXECUTION_FINISH = "reexecution.finish"
    REQUEST_STEWARDS = "request.stewards"  # the stewards required, from the run's lineage


A = AuditAction
# an old name -> every action it stood for (what `enclave audit show --action OLD` lists)
LEGACY_ACTIONS: dict[str, frozenset[AuditAction]] = {
    "request.decide": frozenset(
        {A.REQUEST_APPROVE, A.REQUEST_APPROVE_FINAL, A.REQUEST_CHANGES, A.REQUEST_REJECT}
    ),
}
_DECIDED = {"request_changes": A.REQUEST_CHANGES, "reject": A.REQUEST_REJECT}
del A


def kind_of(action: str, details: dict) -> AuditAction | None:
    """Today's action for a stored event (None: a name no enclave version wrote)."""
    if action == "request.decide":
        if details.get("decision") == "approve":
            final = details.get("status") == "approved"
            return AuditAction.REQUEST_APPROVE_FINAL if final else AuditAction.REQUEST_APPROVE
        return _DECIDED.get(details.get("decision"))
    if action == AuditAction.REQUEST_SUBMIT and details.get("round", 1) > 1:
        return AuditAction.REQUEST_RESUBMIT
    try:
        return AuditAction(action)
    except ValueError:
        return None


def parse_action(name: str) -> frozenset[AuditAction]:
    """The actions a name (today's or an old one) selects; a one-line ValueError otherwise."""
    if name in LEGACY_ACTIONS:
        return LEGACY_ACTIONS[name]
    try:
        return frozenset({AuditAction(name)})
    except ValueError:
        known = ", ".join([*AuditAction, *LEGACY_ACTIONS])
        raise ValueError(f"--action {name!r}: no such audit action; use one of {known}.") from None


def stored_names(actions: frozenset[AuditAction]) -> set[str]:
    """Every name under which events of ``actions`` can be stored, old names included."""
    names = {str(a) for a in actions}
    names |= {old for old, meant in LEGACY_ACTIONS.items() if meant & actions}
    if AuditAction.REQUEST_RESUBMIT in actions:
        names.add(AuditAction.REQUEST_SUBMIT)
    return names


@dataclass(frozen=True)
class AuditEvent:
    """One event to record (``AuditLog.record``): in the same transaction as its change."""

    action: AuditAction
    actor: str
    project: str | None = None
    request: str | None = None
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "action", AuditAction(self.action))  # no free strings
