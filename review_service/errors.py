"""Refusals of the review service, each with the HTTP status the web layer answers with.

Messages are sentences for the user (what is wrong, what to do); they never carry output
values or query results. They are ``EnclaveError``s, so a command that meets one (``enclave
review submit``) prints its one line like any other.
"""

from enclave.errors import EnclaveError


class ReviewError(EnclaveError):
    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class BadSubmission(ReviewError):
    status = 400


class PermissionDenied(ReviewError):
    """The user may not do this; ``str()`` says why."""

    status = 403


class NotFound(ReviewError):
    status = 404


class Conflict(ReviewError):
    """The request's state (or its stored file) does not allow this now."""

    status = 409


class TooLarge(ReviewError):
    status = 413


class GateBlocked(ReviewError):
    """The gate blocked an output and no exception was requested: fix and resubmit."""

    status = 422
