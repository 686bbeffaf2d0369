"""Whose stewards must sign off: derived from what the notebook read and what it shows.

1. Lineage: institutions in the kernel's ``warehouse.query`` records of this user and project
   whose notebook is the submitted one (the kernel records every query it runs).
2. Where no lineage exists: every institution approved for the project (conservative).
3. The server's word over the session's: on PostgreSQL the hub imports every statement of the
   user's session role from the server log (``source: postgresql-log``).
   a. Every project institution whose data a warehouse table named in one of this user's
      statements in this project holds (``k12_*``, ``cc_*``, ``univ_*`` by sector; ``students``
      and ``institutions`` every sector; a statement that can run SQL built at run time, such
      as a ``DO`` block, ``EXECUTE``, a dollar-quoted body or ``query_to_xml``: every one). The
      server cannot tell notebooks apart, so this counts for every submission of the project.
   b. If any of those statements is neither a recorded kernel query (or its ``EXPLAIN``) nor
      one of the client's own bookkeeping statements listed below, something read the warehouse
      outside the kernel's records (psycopg, a patched client): every institution approved for
      the project. The same when the log could not be brought up to date at submission.
4. Always: institutions whose code or name appears in an output table, because a report that
   names or ranks a member needs that member's sign-off even without lineage.

Kernel records are the session's own account: they can add stewards, and narrow them only on
SQLite (where the session's extract holds nothing but the project's institutions). The service
refuses records naming institutions the project is not approved for.
"""

import hashlib
import json
import posixpath
import re
from collections.abc import Callable, Iterable

from enclave.consortium import INSTITUTIONS
from enclave.warehouse.lineage import POSTGRES_SQL_RUNNING_FUNCTIONS
from enclave.warehouse.schema import WAREHOUSE_TABLES

TABLE_HTML = re.compile(r"<table\b.*?</table>", re.IGNORECASE | re.DOTALL)
SERVER_LOG = "postgresql-log"  # ``details.source`` of the hub's imported statements
SQLALCHEMY_BIND = re.compile(r"(?<![:\w\\]):\w+(?!:)")  # ``:name`` in the kernel's SQL text
POSTGRES_BIND = re.compile(r"\$\d+")  # what the server logs for a bound parameter
EXPLAIN = "EXPLAIN (VERBOSE, FORMAT JSON) "  # the kernel's lineage plan of each query
# statements the kernel's driver stack (SQLAlchemy, psycopg) and its lineage probe issue on
# their own; none can return a warehouse row other than the institution codes
CLIENT_STATEMENTS = {
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "DEALLOCATE ALL",
    "SET TRANSACTION READ ONLY",
    "select pg_catalog.version()",
    "select current_schema()",
    "show transaction isolation level",
    "show standard_conforming_strings",
}
CLIENT_PATTERN = re.compile(
    r'(?:SAVEPOINT|RELEASE|ROLLBACK TO SAVEPOINT) "_pg3_\d+"'
    r"|SELECT DISTINCT institution FROM warehouse\.[a-z][a-z0-9_]*"
)
# catalog-only lookups, by SHA-256 of their normalized text (long, so not spelled out here);
# a new driver version that changes them only makes submissions ask every steward until added
CLIENT_CATALOG_QUERIES = {
    "fd492953e00303e869484d6d319c7dfc5715bdb590c3f25d662e8dc5332c916c": "psycopg type info",
    "b0a6a7381338b2d15d6913d3f76eeaec170f8072fbc64821d2f566f52d972a1b": "get_table_names",
    "547f12953c3ded1cffa98e170e1e619c7086c7c193a7668f18d8b028649b0ebe": "get_columns",
}

SECTORS = ("k12", "cc", "univ")  # a table named <sector>_* holds only that sector's rows
TABLE_NAME = re.compile(
    r"(?<![\w$])(" + "|".join(sorted(WAREHOUSE_TABLES, key=len, reverse=True)) + r")(?![\w$])",
    re.IGNORECASE,
)
UNICODE_IDENTIFIER = re.compile(r"\bU&[\"']", re.IGNORECASE)  # U&"stud\0065nts" hides a name
# statements whose SQL is built at run time and never logged by itself: an anonymous code block
# (``DO``, with any string body), ``EXECUTE`` (PL/pgSQL's dynamic SQL, or a prepared statement),
# a function or procedure body, and any dollar-quoted text (the usual spelling of such bodies)
RUNS_SQL_FROM_TEXT = re.compile(
    r"\b(?:DO|EXECUTE|CALL|CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE))\b"
    r"|(?<![\w$])\$(?:[a-z_][a-z0-9_]*)?\$",
    re.IGNORECASE,
)
ANY_TABLE = "SQL given as text"  # stands for every table

LINEAGE = "read by a recorded query of this notebook"
NO_LINEAGE = "approved for the project; no recorded query of this notebook"
NAMED = "named in an output table"
LOG_UNREADABLE = (
    "approved for the project; the PostgreSQL statement log could not be read at submission"
)


def unaccounted_reason(count: int) -> str:
    return (
        f"approved for the project; {count} statement(s) in the PostgreSQL log that no "
        "recorded kernel query accounts for"
    )


def server_read_reason(tables: Iterable[str]) -> str:
    return "the PostgreSQL log shows this user's statements in the project reading " + ", ".join(
        sorted(tables)
    )


def normalized(sql: str, binds: re.Pattern) -> str:
    """One spelling per statement: whitespace collapsed, no trailing ';', parameters as '?'."""
    return binds.sub("?", " ".join(sql.split()).rstrip("; "))


def lineage_institutions(audit_events: Iterable, notebook: str) -> set[str]:
    """Institutions read by queries recorded for ``notebook`` (matched by file name).

    Matching by base name may join two notebooks of the same name: that can only add
    stewards, never drop one.
    """
    wanted = posixpath.basename(notebook)
    found: set[str] = set()
    for event in audit_events:
        if event.details.get("source") == SERVER_LOG:
            continue
        recorded = str(event.details.get("notebook") or "")
        if posixpath.basename(recorded) == wanted:
            found.update(event.details.get("institutions") or ())
    return found


def _server_statements(audit_events: Iterable) -> list[str]:
    """This user's server-logged statements, normalized, without the client's bookkeeping."""
    return [
        sql
        for event in audit_events
        if event.details.get("source") == SERVER_LOG
        and not _bookkeeping(sql := normalized(str(event.details.get("sql") or ""), POSTGRES_BIND))
    ]


def _bookkeeping(sql: str) -> bool:
    return (
        sql in CLIENT_STATEMENTS
        or CLIENT_PATTERN.fullmatch(sql) is not None
        or hashlib.sha256(sql.encode()).hexdigest() in CLIENT_CATALOG_QUERIES
    )


def unaccounted_statements(audit_events: Iterable) -> int:
    """Server-logged statements that no kernel record (any notebook) nor the client explains."""
    audit_events = list(audit_events)
    recorded: set[str] = set()
    for event in audit_events:
        if event.details.get("source") != SERVER_LOG:
            query = normalized(str(event.details.get("sql") or ""), SQLALCHEMY_BIND)
            recorded.update((query, EXPLAIN + query))
    return sum(sql not in recorded for sql in _server_statements(audit_events))


def tables_read_server_side(audit_events: Iterable) -> set[str]:
    """Warehouse tables the server-logged statements name (``ANY_TABLE``: SQL run from text)."""
    tables: set[str] = set()
    for sql in _server_statements(audit_events):
        if any(
            p.search(sql)
            for p in (POSTGRES_SQL_RUNNING_FUNCTIONS, RUNS_SQL_FROM_TEXT, UNICODE_IDENTIFIER)
        ):
            tables.add(ANY_TABLE)
        tables.update(name.lower() for name in TABLE_NAME.findall(sql))
    return tables


def holds_rows_of(table: str, code: str) -> bool:
    """Whether ``table`` can hold ``code``'s rows (unknown institutions: every table can)."""
    sector = next((s for s in SECTORS if table.startswith(f"{s}_")), None)
    return sector is None or code not in INSTITUTIONS or INSTITUTIONS[code][1] == sector


def _table_texts(nb) -> Iterable[str]:
    for cell in nb.get("cells", ()):
        if cell.get("cell_type") == "markdown":
            source = "".join(cell.get("source", ""))
            yield "\n".join(line for line in source.splitlines() if "|" in line)
            continue
        for output in cell.get("outputs", ()):
            data = output.get("data") or {}
            html = "".join(data.get("text/html", ""))
            yield from TABLE_HTML.findall(html)
            for text in (data.get("text/plain", ""), output.get("text", "")):
                text = "".join(text)
                if text.count("\n") >= 1:  # a single line is a value, not a table
                    yield text


def _matcher(institutions: dict[str, str]) -> tuple[re.Pattern, dict[str, str]]:
    """One pattern for every code and name (one pass over each text), and term -> code."""
    codes = {}
    for code, name in institutions.items():
        codes[code.lower()] = code
        if name.strip():
            codes[name.strip().lower()] = code
    terms = sorted(codes, key=len, reverse=True)  # longest first: names before their parts
    pattern = r"(?<![\w-])(" + "|".join(map(re.escape, terms)) + r")(?![\w-])"
    return re.compile(pattern, re.IGNORECASE), codes


def named_in_tables(nb, institutions: dict[str, str]) -> set[str]:
    """Institutions whose code or name appears in an output table of ``nb``."""
    pattern, codes = _matcher(institutions)
    found: set[str] = set()
    for text in _table_texts(nb):
        found.update(codes[m.lower()] for m in pattern.findall(text))
        if len(found) == len(institutions):
            break
    return found


def required_institutions(
    *,
    nb,
    notebook: str,
    query_events: Iterable,
    project_institutions: Callable[[], Iterable[str]],
    institutions: dict[str, str],
    server_log_read: bool = True,
) -> dict[str, list[str]]:
    """Institution code -> the reasons its steward is needed, in code order.

    ``server_log_read``: False when the server's statement log could not be imported first.
    """
    query_events = list(query_events)
    reasons: dict[str, list[str]] = {}

    def need(codes: Iterable[str], reason: str) -> None:
        for code in codes:
            reasons.setdefault(code, []).append(reason)

    lineage = lineage_institutions(query_events, notebook)
    if lineage:
        need(lineage, LINEAGE)
    else:
        need(project_institutions(), NO_LINEAGE)
    read = tables_read_server_side(query_events)
    for code in project_institutions():
        tables = [t for t in read if t == ANY_TABLE or holds_rows_of(t, code)]
        if tables:
            need([code], server_read_reason(tables))
    unaccounted = unaccounted_statements(query_events)
    if unaccounted:
        need(project_institutions(), unaccounted_reason(unaccounted))
    if not server_log_read:
        need(project_institutions(), LOG_UNREADABLE)
    need(named_in_tables(nb, institutions), NAMED)
    return dict(sorted(reasons.items()))


def as_json(reasons: dict[str, list[str]]) -> tuple[str, str]:
    return json.dumps(sorted(reasons)), json.dumps(reasons, sort_keys=True)
