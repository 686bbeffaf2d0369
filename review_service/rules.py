"""What may happen to a request: pure functions over what was asked and what is stored.

No database and no files: each rule takes values (rows, decisions, a gate report, a kernel's
query record) and returns a value or raises the refusal the user sees. Beside them:
``states.py`` (which move leads where), ``permissions.py`` (who may), ``approvals.py`` (what is
still needed), ``stewards.py`` (whose stewards). ``workflow.py`` applies them over the storage
in ``data_access.py``.
"""

import json
import re
from types import SimpleNamespace

from enclave.review_service import approvals, permissions
from enclave.review_service.errors import BadSubmission, Conflict, GateBlocked, PermissionDenied
from enclave.review_service.identity import Actor
from enclave.review_service.states import (
    OPEN_FOR_DECISION,
    Action,
    InvalidTransition,
    Status,
    next_status,
)

# a relative path of plain names ending in .ipynb: no '..', no leading '/', no hidden parts
NOTEBOOK_PATH = re.compile(r"(?:[\w][\w .-]{0,99}/){0,8}[\w][\w .-]{0,99}\.ipynb")
LIMITS = {"purpose": 4000, "summary": 8000, "exception_note": 8000, "comment": 10000}
DECISIONS = {
    "approve": Action.APPROVE,
    "request_changes": Action.REQUEST_CHANGES,
    "reject": Action.REJECT,
}
VISIBILITIES = ("all", "reviewers")


def check_notebook_path(name: str) -> str:
    if not name or not NOTEBOOK_PATH.fullmatch(name) or "/../" in f"/{name}/":
        raise BadSubmission(
            f"notebook: {name[:80]!r} is not an acceptable name; give a relative path of "
            "letters, digits, '_', '-', '.' and spaces ending in .ipynb (no '..', no leading "
            "'/', no hidden folders)."
        )
    return name


def check_text(field: str, value: str | None, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise BadSubmission(f"{field}: required; write a sentence for the reviewers.")
    if len(value) > LIMITS[field]:
        raise BadSubmission(f"{field}: longer than {LIMITS[field]} characters; shorten it.")
    return value


RELEASE_USES = ("internal", "external")


def check_release_use(use: str, recipients, members: dict) -> tuple[str, list[str]]:
    """What the release is for: ``internal`` use by the member institutions ``recipients``, or
    ``external`` reporting (no recipients: it goes beyond the consortium)."""
    if use not in RELEASE_USES:
        raise BadSubmission(
            "release_use: say 'internal' (use by named member institutions) or 'external' "
            "(publication, or a report outside the consortium)."
        )
    recipients = sorted(set(recipients or ()))
    unknown = [r for r in recipients if r not in members]
    if unknown:
        raise BadSubmission(
            f"recipients: {str(unknown[0])[:20]!r} is not a consortium member; use one of "
            f"{', '.join(members)}."
        )
    if use == "internal" and not recipients:
        raise BadSubmission(
            "recipients: an internal release names the member institutions that will use it."
        )
    if use == "external" and recipients:
        raise BadSubmission(
            "recipients: an external release goes beyond the consortium; name no recipients "
            "(every member's steward decides on it)."
        )
    return use, recipients


def permitted_use(use: str | None, recipients, members: dict) -> str:
    """The sentence every page of the release and its manifest carry."""
    if use == "internal":
        names = ", ".join(f"{members.get(c, c)} ({c})" for c in recipients)
        return (
            f"Internal use only, by {names}, for the purpose stated above; not for "
            "publication or any report outside the consortium. Any other use needs a new review."
        )
    if use == "external":
        return (
            "External reporting (publication, or a report outside the consortium) for the "
            "purpose stated above, as decided by a steward of every consortium member; any "
            "other use needs a new review."
        )
    return (
        "Only for the purpose stated above, as approved by the reviewers and data stewards "
        "named here; any other use needs a new review."
    )


def check_gate(report, notebook: str, exception_note: str) -> None:
    """A blocked verdict goes to reviewers only with a written exception request."""
    if report.verdict == "block" and not exception_note:
        blocked = sum(f.severity == "block" for f in report.findings)
        raise GateBlocked(
            f"{notebook}: the gate blocked {blocked} output(s); fix them and submit "
            "again, or submit with a written exception request for the reviewers."
        )


def move(row, action: Action) -> Status:
    """Where ``action`` takes ``row``; a Conflict naming what is allowed otherwise."""
    try:
        return next_status(row.status, action)
    except InvalidTransition as e:
        raise Conflict(f"request {row.id}: {e}") from None


def check_resubmit(actor: Actor, row, project: str) -> Status:
    permissions.check_user_can_change_own(actor, row)
    if row.project != project:
        raise BadSubmission(
            f"project: {row.id} belongs to project {row.project!r}; resubmit it from "
            "a session of that project."
        )
    return move(row, Action.RESUBMIT)


def check_decision(decision: str, comment: str) -> str:
    """The decision is one of ``DECISIONS``; changes and rejections say why. Returns the comment."""
    if decision not in DECISIONS:
        raise BadSubmission(f"decision: {decision[:40]!r} is not one of {', '.join(DECISIONS)}.")
    return check_text("comment", comment, required=decision != "approve")


def decision_by(actor: Actor, row, decision: str) -> dict:
    """What ``actor``'s decision records: as reviewer, and for which institutions as steward."""
    return {
        "user": actor.name,
        "decision": decision,
        "as_reviewer": actor.is_reviewer,
        "institutions": sorted(permissions.involved_stewardships(actor, row)),
    }


def decide(actor: Actor, row, decisions: list, decision: dict, required_reviewers: int):
    """(action, status) that ``decision`` on ``row`` leads to, given the earlier ``decisions``:
    an approval that completes the set is the final one."""
    if any(d.user == actor.name and d.round == row.round for d in decisions):
        raise Conflict(f"request {row.id}: you have already decided in this round.")
    action = DECISIONS[decision["decision"]]
    if action is Action.APPROVE:
        this = SimpleNamespace(
            **{**decision, "round": row.round, "institutions": json.dumps(decision["institutions"])}
        )
        if approvals.progress(row, [*decisions, this], required_reviewers).complete:
            action = Action.APPROVE_FINAL
    return action, move(row, action)


MAX_OUTPUT_DECISIONS = 5000  # a notebook with more outputs is decided as a whole beyond that
# an overall decision must not say less than a word on one output: a rejected output cannot
# be part of an approval, nor an output that needs changes
OVERALL_AT_LEAST = {"approve": 0, "request_changes": 1, "reject": 2}


def check_output_decisions(overall: str, outputs, shape: list[int]) -> list[dict]:
    """Per-output decisions (``{"cell", "output", "decision", "comment"}``) checked against
    the notebook's ``shape`` (outputs per cell) and the overall decision; returns them clean."""
    if len(outputs) > MAX_OUTPUT_DECISIONS:
        raise BadSubmission(f"outputs: more than {MAX_OUTPUT_DECISIONS} decisions; send fewer.")
    clean, seen = [], set()
    for item in outputs:
        cell, output, decision = item.get("cell"), item.get("output"), item.get("decision")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (cell, output)):
            raise BadSubmission("outputs: each needs the cell and output numbers.")
        if not (0 <= cell < len(shape) and 0 <= output < shape[cell]):
            raise BadSubmission(
                f"outputs: the notebook has no output {output + 1} in cell {cell + 1}."
            )
        if decision not in DECISIONS:
            raise BadSubmission(
                f"outputs: cell {cell + 1}: {str(decision)[:40]!r} is not one of "
                f"{', '.join(DECISIONS)}."
            )
        if (cell, output) in seen:
            raise BadSubmission(f"outputs: cell {cell + 1} output {output + 1} decided twice.")
        seen.add((cell, output))
        comment = check_text("comment", item.get("comment") or "", required=False)
        if OVERALL_AT_LEAST[decision] > OVERALL_AT_LEAST[overall]:
            raise BadSubmission(
                f"decision: you marked cell {cell + 1} output {output + 1} "
                f"'{decision.replace('_', ' ')}'; the request as a whole cannot be "
                f"'{overall.replace('_', ' ')}'. Choose request changes or reject."
            )
        clean.append({"cell": cell, "output": output, "decision": decision, "comment": comment})
    return clean


def summary_of_outputs(outputs: list[dict]) -> dict[str, int]:
    """How many outputs got each decision (the audit event's details: no comment text)."""
    return {d: n for d in DECISIONS if (n := sum(o["decision"] == d for o in outputs))}


# requests still on their way out: withdrawn data sends them back (``Action.RETURN``)
RETURNABLE = frozenset({Status.SUBMITTED, Status.IN_REVIEW, Status.APPROVED})

# statuses the requester reaches by their own hand: no notice for those
OWN_STATUSES = frozenset({Status.SUBMITTED, Status.WITHDRAWN})


def needs_notice(actor: Actor, row, seen: dict) -> bool:
    """Whether ``row`` changed (by someone else) since its requester last looked at it."""
    if actor.name != row.author or row.status in OWN_STATUSES:
        return False
    return seen.get(row.id) != (row.status, row.round)


def check_comment(actor: Actor, row, visibility: str) -> None:
    if visibility not in VISIBILITIES:
        raise BadSubmission("visibility: use 'all' or 'reviewers'.")
    permissions.check_user_can_comment(actor, row)
    if visibility == "reviewers" and actor.name == row.author:
        raise PermissionDenied("the requester's comments are visible to everyone on the request.")


def waits_for(actor: Actor, row, decisions) -> bool:
    """Whether ``row`` waits for ``actor``'s decision in its current round."""
    if row.status not in OPEN_FOR_DECISION or not permissions.user_can_decide(actor, row):
        return False
    return not any(d.user == actor.name and d.round == row.round for d in decisions)


# -- re-execution ------------------------------------------------------------------------------
WITHOUT_REEXECUTION = "released without re-execution"
SENT_BACK = {"error", "memory", "cell-timeout", "kernel-died"}  # the notebook's doing


def run_state(failure):
    """The state a run ends in, from its failure (None: it ran to the end)."""
    from enclave.review_service.states import RunState

    if failure is None:
        return RunState.DONE
    if failure.kind in SENT_BACK:
        return RunState.FAILED
    return RunState.TOO_LONG if failure.kind == "too-long" else RunState.UNAVAILABLE


def sent_back(failure, gate: dict | None, exception_note: str) -> str:
    """Why the run sends the request back to the researcher ("" if it does not): a failure of
    the notebook, or outputs of the re-execution the gate blocks with no exception asked."""
    if failure is not None:
        if failure.kind not in SENT_BACK:
            return ""
        return (
            f"Changes requested automatically: {failure.sentence()}. Make the notebook run "
            "from top to bottom in a fresh kernel (Kernel > Restart and Run All), then resubmit."
        )
    if gate and gate.get("verdict") == "block" and not exception_note:
        places = sorted(
            {
                f"cell {f['cell'] + 1}"
                for f in gate["findings"]
                if f["cell"] is not None and f["severity"] == "block"
            }
        )
        return (
            "Changes requested automatically: the gate blocks outputs of the re-executed "
            f"notebook ({', '.join(places) or 'notebook'}), which the submitted outputs did not "
            "show. Fix those outputs, run the notebook from the start and resubmit."
        )
    return ""


def check_run_allows_approval(run, without_reexecution: bool) -> None:
    """Approval waits for the round's re-execution; a run past its time limit is approved
    only as the explicit exception ``WITHOUT_REEXECUTION``."""
    from enclave.review_service.states import RunState

    if run is None:
        if without_reexecution:
            raise Conflict("this request has no re-execution to make an exception for.")
        return
    if run.state == RunState.DONE:
        if without_reexecution:
            raise Conflict("this request was re-executed: approve it without the exception.")
        return
    if run.state == RunState.TOO_LONG:
        if not without_reexecution:
            raise Conflict(
                "the re-execution ran longer than its time limit: approve only as the "
                f"exception '{WITHOUT_REEXECUTION}' (without_reexecution), or request changes."
            )
        return
    raise Conflict(
        f"approval waits for the re-execution of this round (it is {run.state}); decide "
        "once it has run."
    )


NOT_REPRODUCIBLE = "not-reproducible"


def not_reproducible(report, rerun_nb, second) -> None:
    """A ``review`` finding on each output of the re-execution that a second clean run did
    not give again (``second``: that run's result; one that failed counts as not giving any)."""
    from enclave.output_review.findings import Finding
    from enclave.review_service import compare

    if second.notebook is None:
        return
    between = compare.compare(rerun_nb, second.notebook)
    for key, mark in sorted(between["marks"].items()):
        if mark == compare.REPRODUCED:
            continue
        cell, _, output = key.partition(":")
        count = rerun_nb.cells[int(cell)].get("execution_count")
        report.findings.append(
            Finding(
                int(cell),
                int(output),
                NOT_REPRODUCIBLE,
                "review",
                "not reproducible: two clean runs of the notebook gave different outputs here "
                "(a random seed not set, the time, an order not fixed?); a reviewer must "
                "confirm which is meant",
                execution_count=count if isinstance(count, int) else None,
            )
        )
