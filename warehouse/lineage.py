"""Lineage: which tables a query reads, and so which institutions' data it could have seen.

Conservative by design: a query that touches a table is charged with every institution present
in that table *for this project* (the project's extract, or the rows its PostgreSQL role may see),
whatever its WHERE clause says. Over-counting only asks one more steward; under-counting would
release data without its owner's approval.

- SQLite: ``EXPLAIN`` of the query lists the b-trees its program opens for reading (views
  resolve to their base tables; indexes to their tables); an authorizer callback denies anything
  but reading, including ATTACH and PRAGMA.
- PostgreSQL: ``EXPLAIN (VERBOSE, FORMAT JSON)`` of the query lists every relation its plan scans.
"""

import json
import re
import sqlite3
from contextlib import contextmanager

import sqlalchemy as sa

from enclave.errors import EnclaveError


class WarehouseError(EnclaveError):
    """The warehouse cannot answer this call (no access configured, bad SQL, unknown table)."""


class QueryRefused(WarehouseError):
    """The query tries something a read-only research session may not do."""


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


# opcodes that open a table's or an index's b-tree for reading
SQLITE_OPEN_READ = {"OpenRead", "ReopenIdx"}
# PostgreSQL built-ins that execute SQL given as text (or a whole table, schema or database)
POSTGRES_SQL_RUNNING_FUNCTIONS = re.compile(
    r"\b(?:(?:query|table|cursor|schema|database)_to_xml\w*|ts_stat)\s*\(", re.IGNORECASE
)

# the only things a read-only query needs to do
_SQLITE_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    33,  # SQLITE_RECURSIVE (recursive CTEs); not exported by every Python build
}


def sqlite_authorizer(denied: list[int]):
    """An authorizer callback allowing only reading; what it denies is appended to ``denied``.

    (Setting an authorizer also expires cached statements, so each one is checked again.)"""

    def authorize(action, *_args):
        if action in _SQLITE_ALLOWED:
            return sqlite3.SQLITE_OK
        denied.append(action)
        return sqlite3.SQLITE_DENY

    return authorize


@contextmanager
def sqlite_read_only(dbapi_connection: sqlite3.Connection):
    """Deny everything but reading to statements compiled inside the block."""
    denied: list[int] = []
    dbapi_connection.set_authorizer(sqlite_authorizer(denied))
    try:
        yield
    except sa.exc.DatabaseError as e:
        if denied:
            raise QueryRefused(
                "query refused: a research session may only read (SELECT); writes, schema "
                "changes, ATTACH and PRAGMA are not allowed."
            ) from e
        raise
    finally:
        dbapi_connection.set_authorizer(None)


def sqlite_tables_read(conn: sa.Connection, sql: str, params: dict) -> set[str]:
    """Tables whose b-trees (the table's or one of its indexes') the compiled program opens.

    The authorizer is not enough: SQLite does not report the columns of a ``JOIN ... USING``
    condition it synthesizes, so a join used only as a filter would read a table unseen.
    (Virtual tables such as ``dbstat``, which could expose any page, are denied by
    ``sqlite_read_only``.)
    """
    program = conn.execute(sa.text(f"EXPLAIN {sql}"), params).all()
    roots = {row.p2 for row in program if row.opcode in SQLITE_OPEN_READ and row.p3 == 0}
    owners = conn.execute(
        sa.text("SELECT rootpage, tbl_name FROM sqlite_master WHERE rootpage > 0")
    )
    return {table for rootpage, table in owners if rootpage in roots}


def postgres_tables_read(
    conn: sa.Connection, sql: str, params: dict
) -> set[tuple[str, str]] | None:
    """(schema, table) of every relation the plan of ``sql`` scans; None when it cannot tell.

    Built-in functions that run SQL of their own (``query_to_xml``, ``table_to_xml``,
    ``ts_stat``...) read relations the plan does not show: cannot tell.
    """
    plan = conn.execute(sa.text(f"EXPLAIN (VERBOSE, FORMAT JSON) {sql}"), params).scalar_one()
    if POSTGRES_SQL_RUNNING_FUNCTIONS.search(json.dumps(plan)):
        return None
    found: set[tuple[str, str]] = set()
    pending = [entry["Plan"] for entry in plan]
    while pending:
        node = pending.pop()
        if "Relation Name" in node:
            found.add((node.get("Schema", ""), node["Relation Name"]))
        pending.extend(node.get("Plans", ()))
    return found


def institutions_in(conn: sa.Connection, table: str) -> set[str]:
    """Institutions present in ``table`` (a quoted, qualified name) as this connection sees it."""
    rows = conn.execute(sa.text(f"SELECT DISTINCT institution FROM {table}"))
    return {value for (value,) in rows if value is not None}
