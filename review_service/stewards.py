"""Whose stewards must sign off: derived from what the notebook read and what it shows.

1. Lineage: institutions in the kernel's ``warehouse.query`` records of this user and project
   whose notebook is the submitted one (the kernel records every query it runs).
2. Where no lineage exists: every institution approved for the project (conservative).
3. The server's word over the session's: on PostgreSQL, pgAudit records every read of the
   user's session role on the hot standby, with the relations the server read, whatever the
   protocol (imported by the hub: ``source: pgaudit``).
   a. Every project institution whose rows a warehouse relation named in one of this user's
      records in this project can hold (``k12_*``, ``cc_*``, ``univ_*`` by sector; ``students``,
      ``institutions`` and any other table every sector). The server cannot tell notebooks
      apart, so this counts for every submission of the project.
   b. When the log could not be brought up to date at submission: every institution approved
      for the project. (Records of the retired text-log importer, ``source: postgresql-log``,
      name no relations: each counts as reading every table.)
4. Always: institutions whose code or name appears in an output table, because a report that
   names or ranks a member needs that member's sign-off even without lineage.

Kernel records are the session's own account: they can add stewards, and narrow them only on
SQLite (where the session's extract holds nothing but the project's institutions). The service
refuses records naming institutions the project is not approved for.
"""

import json
import posixpath
import re
from collections.abc import Callable, Iterable

from enclave.consortium import INSTITUTIONS
from enclave.warehouse.db import SCHEMA
from enclave.warehouse.statement_log import SOURCE as SERVER_LOG

TABLE_HTML = re.compile(r"<table\b.*?</table>", re.IGNORECASE | re.DOTALL)
TEXT_LOG = "postgresql-log"  # ``details.source`` of the retired text-log importer's events
SERVER_SOURCES = (SERVER_LOG, TEXT_LOG)
SECTORS = ("k12", "cc", "univ")  # a table named <sector>_* holds only that sector's rows
ANY_TABLE = "every table"  # a record that names no relations

LINEAGE = "read by a recorded query of this notebook"
NO_LINEAGE = "approved for the project; no recorded query of this notebook"
NAMED = "named in an output table"
LOG_UNREADABLE = (
    "approved for the project; the PostgreSQL audit log could not be read at submission"
)


def server_read_reason(tables: Iterable[str]) -> str:
    return "pgAudit records this user's reads in the project of " + ", ".join(sorted(tables))


def lineage_institutions(audit_events: Iterable, notebook: str) -> set[str]:
    """Institutions read by queries recorded for ``notebook`` (matched by file name).

    Matching by base name may join two notebooks of the same name: that can only add
    stewards, never drop one.
    """
    wanted = posixpath.basename(notebook)
    found: set[str] = set()
    for event in audit_events:
        if event.details.get("source") in SERVER_SOURCES:
            continue
        recorded = str(event.details.get("notebook") or "")
        if posixpath.basename(recorded) == wanted:
            found.update(event.details.get("institutions") or ())
    return found


def tables_read_server_side(audit_events: Iterable) -> set[str]:
    """Warehouse tables the server's records say were read (``ANY_TABLE``: a record from the
    retired text-log importer, which named none)."""
    tables: set[str] = set()
    for event in audit_events:
        source = event.details.get("source")
        if source == TEXT_LOG:
            tables.add(ANY_TABLE)
        elif source == SERVER_LOG:
            for relation in event.details.get("relations") or ():
                schema, _, name = relation.rpartition(".")
                if schema == SCHEMA:
                    tables.add(name)
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

    ``server_log_read``: False when the server's audit log could not be imported first.
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
    if not server_log_read:
        need(project_institutions(), LOG_UNREADABLE)
    need(named_in_tables(nb, institutions), NAMED)
    return dict(sorted(reasons.items()))


def as_json(reasons: dict[str, list[str]]) -> tuple[str, str]:
    return json.dumps(sorted(reasons)), json.dumps(reasons, sort_keys=True)
