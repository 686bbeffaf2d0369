"""Errors the ``warehouse`` object raises in a session: one readable line, no values."""

from enclave.errors import EnclaveError


class WarehouseError(EnclaveError):
    """The warehouse cannot answer this call (no access configured, bad SQL, unknown table)."""


class QueryRefused(WarehouseError):
    """The query tries something a read-only research session may not do."""


class QueryNotRecorded(QueryRefused):
    """The query could not be recorded for audit, so its result is withheld."""

    def __init__(self, reason: str):
        super().__init__(f"query refused: it could not be recorded for audit: {reason}")
