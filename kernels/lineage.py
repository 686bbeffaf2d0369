"""Lineage: which tables a query reads, and so which institutions' data it could have seen.

Conservative by design: a query that touches a table is charged with every institution present
in that table *for this project* (the project's extract, or the rows its PostgreSQL role may see),
whatever its WHERE clause says. Over-counting only asks one more steward; under-counting would
release data without its owner's approval.

- SQLite: an authorizer callback, installed while the query compiles, reports every table read
  (views resolve to their base tables) and denies anything but reading, including ATTACH.
- PostgreSQL: ``EXPLAIN (FORMAT JSON)`` of the query lists every relation its plan scans.
"""

import sqlite3
from contextlib import contextmanager

import sqlalchemy as sa

from kernels.errors import QueryRefused

# the only things a read-only query needs to do
_SQLITE_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    33,  # SQLITE_RECURSIVE (recursive CTEs); not exported by every Python build
}


@contextmanager
def sqlite_tables_read(dbapi_connection: sqlite3.Connection):
    """Yield a set that fills with the tables read by statements compiled inside the block."""
    tables: set[str] = set()
    denied: list[int] = []

    def authorize(action, arg1, _arg2, _db_name, _trigger_or_view):
        if action not in _SQLITE_ALLOWED:
            denied.append(action)
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_READ:
            tables.add(arg1)
        return sqlite3.SQLITE_OK

    dbapi_connection.set_authorizer(authorize)
    try:
        yield tables
    except sa.exc.DatabaseError as e:
        if denied:
            raise QueryRefused(
                "query refused: a research session may only read (SELECT); writes, schema "
                "changes, ATTACH and PRAGMA are not allowed."
            ) from e
        raise
    finally:
        dbapi_connection.set_authorizer(None)


def postgres_tables_read(conn: sa.Connection, sql: str, params: dict) -> set[tuple[str, str]]:
    """(schema, table) of every relation the plan of ``sql`` scans."""
    plan = conn.execute(sa.text(f"EXPLAIN (FORMAT JSON) {sql}"), params).scalar_one()
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
