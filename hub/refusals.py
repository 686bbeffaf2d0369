"""What a refused step means to the person refused, and what they can do next.

The spawn policy (``policy.py``) and the spawner refuse with ``SpawnException(reason=...)``;
this table turns each reason into a page: a title, one sentence on what it means, the next step
(a link in the hub, or whom to ask) and the refusal's own message as the detail. A reason not
listed here still gets a page with a next step (try again from the start page, or ask).
"""

from dataclasses import dataclass

from jupyterhub.spawner import SpawnException


@dataclass(frozen=True)
class Refusal:
    reason: str
    title: str
    meaning: str
    next_step: str
    # a page of the hub (relative to /hub/), or None: the next step is to ask the contact
    next_url: str | None
    detail: str = ""


# reason -> (title, what it means, next step, where: a hub page or None for "ask the contact")
REFUSALS = {
    "agreement": (
        "Accept the data-use agreement first",
        "Nobody reaches any data before accepting the current data-use agreement, and again "
        "whenever its text changes.",
        "Read and accept the agreement",
        "agreement",
    ),
    "project": (
        "This project cannot be used now",
        "A session works on one project you are a member of, approved by at least one "
        "institution and not expired.",
        "Choose one of your active projects on the start page, or ask for access",
        "home",
    ),
    "not-researcher": (
        "Data sessions are for researchers",
        "Reviewers, data stewards and administrators work in the review service and the "
        "administration pages; they get no data session.",
        "Go to the start page",
        "home",
    ),
    "no-account": (
        "Your account on this enclave is not ready",
        "Every researcher works under an account of their own, which an administrator creates "
        "when adding you to a project.",
        "Ask for your account to be created",
        None,
    ),
    "warehouse": (
        "Your project's data are not ready",
        "The project's read-only view of the warehouse could not be opened for this session.",
        "Ask for the project's access to be granted again",
        None,
    ),
    "statement-log": (
        "Queries cannot be recorded right now",
        "Every query a session runs is recorded; while the record cannot be written, no "
        "session starts (the enclave fails closed).",
        "Try again later, or tell the administrators",
        None,
    ),
    "recording": (
        "Queries cannot be recorded on this warehouse yet",
        "Every query a session runs is recorded by the warehouse server; until that recording "
        "is set up, no session starts (the enclave fails closed).",
        "Tell the administrators",
        None,
    ),
    "memory-cgroup": (
        "Sessions cannot be held to their memory limit on this machine",
        "Sessions start only where the enclave can limit their memory; this machine lacks it.",
        "Tell the administrators",
        None,
    ),
    "workspace": (
        "Your project workspace could not be prepared",
        "Each project has a workspace of its own, which could not be set up for this session.",
        "Tell the administrators",
        None,
    ),
    "sandbox": (
        "Your session's sandbox could not be set up",
        "Every session runs fenced in a sandbox of its own; this one could not be completed, so "
        "the session was not started.",
        "Tell the administrators",
        None,
    ),
    "ended": (
        "Your session was ended",
        "A session goes on only while every rule holds: your role and sign-on, the agreement, "
        "the project, the recording of its queries, and what it may send to your browser.",
        "Start a new session from the start page, or ask if the reason is unclear",
        "home",
    ),
    "configuration": (
        "Sessions are not set up on this enclave yet",
        "The enclave's session settings are incomplete, so no session can start safely.",
        "Tell the administrators",
        None,
    ),
}
UNKNOWN = (
    "Your session could not start",
    "The enclave refused or failed to start this session.",
    "Try again from the start page; if it keeps failing, tell the administrators",
    "home",
)


def refusal_for(exception: BaseException | None) -> Refusal | None:
    """The page for a failed or refused start, or None when there is no failure."""
    if exception is None:
        return None
    if isinstance(exception, SpawnException):
        reason, detail = exception.reason, exception.message
    else:  # never show a raw exception: its text may hold paths or values
        reason, detail = getattr(exception, "reason", "") or "", ""
    title, meaning, next_step, next_url = REFUSALS.get(reason, UNKNOWN)
    return Refusal(reason, title, meaning, next_step, next_url, detail)
