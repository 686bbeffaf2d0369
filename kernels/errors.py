"""Errors the ``warehouse`` object raises in a session: one readable line, no values."""

import re

from enclave.warehouse.lineage import QueryRefused, WarehouseError

__all__ = ["QueryNotRecorded", "QueryRefused", "WarehouseError", "explain_query_error"]


class QueryNotRecorded(QueryRefused):
    """The query could not be recorded for audit, so its result is withheld."""

    def __init__(self, reason: str):
        super().__init__(f"query refused: it could not be recorded for audit: {reason}")


# What the database says about a statement it cannot run, for the messages that name only what
# the researcher typed (a column, a table, where the syntax breaks): SQLite's and PostgreSQL's
# wordings. Anything else is named by its error class alone: messages such as PostgreSQL's
# `invalid input syntax for type integer: "..."` quote values from the data.
_EXPLAINED = [
    (re.compile(r"no such column: ([\w.]{1,128})$"), "column"),
    (re.compile(r'column "([\w.]{1,128})" does not exist'), "column"),
    (re.compile(r"no such table: ([\w.]{1,128})$"), "table"),
    (re.compile(r'relation "([\w.]{1,128})" does not exist'), "table"),
    (re.compile(r'near "([^"\n]{1,40})": syntax error$'), "syntax"),
    (re.compile(r'syntax error at or near "([^"\n]{1,40})"'), "syntax"),
]
_HINTS = {
    "column": "no column {name!r} in the tables it reads; list a table's columns with "
    "warehouse.describe(table).",
    "table": "no table {name!r} in this project's warehouse; list them with warehouse.tables().",
    "syntax": "the SQL's syntax breaks near {name!r}; check the statement there.",
}


def explain_query_error(error, sql: str) -> str | None:
    """``query: ...`` naming the unknown column or table (or where the syntax breaks) when the
    database's message names one the statement itself contains; None otherwise."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    for pattern, kind in _EXPLAINED:
        match = pattern.search(first)
        if match and match.group(1).lower() in sql.lower():
            return "query: " + _HINTS[kind].format(name=match.group(1))
    return None
