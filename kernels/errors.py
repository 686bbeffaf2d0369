"""Errors the ``warehouse`` object raises in a session: one readable line, no values."""

from enclave.warehouse.lineage import QueryRefused, WarehouseError, explain_query_error

__all__ = ["QueryRefused", "WarehouseError", "explain_query_error"]
