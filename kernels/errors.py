"""Errors the ``warehouse`` object raises in a session: one readable line, no values."""

from enclave.warehouse.lineage import QueryRefused, WarehouseError

__all__ = ["QueryNotRecorded", "QueryRefused", "WarehouseError"]


class QueryNotRecorded(QueryRefused):
    """The query could not be recorded for audit, so its result is withheld."""

    def __init__(self, reason: str):
        super().__init__(f"query refused: it could not be recorded for audit: {reason}")
