"""Whose stewards must sign off: derived from what the notebook read and what it shows.

Every record used here was written outside the researcher's kernel: by the SQLite query process
(``source: query-process``) or by pgAudit on the PostgreSQL standby (``source: pgaudit``).
Nothing the session says about its own queries counts.

1. Lineage: institutions read by the re-execution of the submitted notebook (its own query
   process's records, or pgAudit's records of its own role): what the released outputs were
   computed from.
2. Without a re-execution (released by a reviewer's exception): every institution approved for
   the project (conservative).
3. Every project institution whose rows a warehouse relation named in one of this user's
   server-side records in this project can hold (``k12_*``, ``cc_*``, ``univ_*``: the members
   whose sector sends that layout, ``Consortium.sectors``; ``students``, ``institutions`` and
   any other table: every member): data read interactively
   can reach a notebook as literals typed into its source. When the records could not be
   brought up to date at submission: every institution approved for the project (fail closed).
   (Records of the retired text-log importer, ``source: postgresql-log``, name no relations:
   each counts as reading every table.)
4. Always: institutions whose code or name appears in an output table, because a report that
   names or ranks a member needs that member's sign-off even without lineage.
5. The release's stated use: an internal release also needs its recipients' stewards (the
   member institutions that will use it); an external one (publication, a report outside the
   consortium) a steward of every consortium member, as the principles say.
"""

import json
import re
from collections.abc import Callable, Iterable

from enclave.consortium import EXTRACT_LAYOUTS, Consortium
from enclave.warehouse.db import SCHEMA
from enclave.warehouse.query_log import SOURCE as QUERY_PROCESS
from enclave.warehouse.statement_log import SOURCE as SERVER_LOG

TABLE_HTML = re.compile(r"<table\b.*?</table>", re.IGNORECASE | re.DOTALL)
TEXT_LOG = "postgresql-log"  # ``details.source`` of the retired text-log importer's events
SERVER_SOURCES = (SERVER_LOG, QUERY_PROCESS, TEXT_LOG)
ANY_TABLE = "every table"  # a record that names no relations

LINEAGE = "read by the re-execution of this notebook"
NO_RERUN = "approved for the project; released without re-execution"
NAMED = "named in an output table"
RECIPIENT = "a recipient of this internal release"
EXTERNAL = "a consortium member: this release is for external reporting"
DATA_REASONS_EXCLUDE = (RECIPIENT, EXTERNAL)  # reasons that say nothing of the data used
LOG_UNREADABLE = (
    "approved for the project; the warehouse's record of reads could not be read at submission"
)


def server_read_reason(tables: Iterable[str]) -> str:
    return "the warehouse records this user's reads in the project of " + ", ".join(sorted(tables))


def tables_read_server_side(audit_events: Iterable) -> set[str]:
    """Warehouse tables the server's records say were read (``ANY_TABLE``: a record from the
    retired text-log importer, which named none)."""
    tables: set[str] = set()
    for event in audit_events:
        source = event.details.get("source")
        if source == TEXT_LOG:
            tables.add(ANY_TABLE)
        elif source in (SERVER_LOG, QUERY_PROCESS):
            for relation in event.details.get("relations") or ():
                schema, _, name = relation.rpartition(".")
                if schema == SCHEMA:
                    tables.add(name)
    return tables


def holds_rows_of(table: str, code: str, consortium: Consortium) -> bool:
    """Whether ``table`` can hold ``code``'s rows: a ``<layout>_*`` table only those of the
    members whose sector sends that layout (unknown institutions: every table can)."""
    layout = next((s for s in EXTRACT_LAYOUTS if table.startswith(f"{s}_")), None)
    return layout is None or code not in consortium or consortium.layout(code) == layout


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
    run_lineage: Iterable[str] | None,
    query_events: Iterable,
    project_institutions: Callable[[], Iterable[str]],
    consortium: Consortium,
    server_log_read: bool = True,
    release_use: str | None = None,
    recipients: Iterable[str] = (),
    ever_approved: Callable[[], dict] | None = None,
) -> dict[str, list[str]]:
    """Institution code -> the reasons its steward is needed, in code order.

    ``run_lineage``: the institutions the re-execution's recorded reads touched (None: not
    re-executed); ``query_events``: this user's server-side ``warehouse.query`` events in the
    project; ``server_log_read``: False when those could not be brought up to date first;
    ``release_use``: internal (``recipients`` will use it) or external (every member decides);
    ``ever_approved``: institution -> the scope it approves or approved until it withdrew (a
    withdrawn one's rows read before may be in the notebook; a table outside its scope never
    held its rows for this project; default: the project's institutions now, every table).
    """
    query_events = [e for e in query_events if e.details.get("source") in SERVER_SOURCES]
    reasons: dict[str, list[str]] = {}

    def need(codes: Iterable[str], reason: str) -> None:
        for code in codes:
            reasons.setdefault(code, []).append(reason)

    if run_lineage is None:
        need(project_institutions(), NO_RERUN)
    else:
        need(run_lineage, LINEAGE)
    read = tables_read_server_side(query_events)
    scopes = ever_approved() if ever_approved else dict.fromkeys(project_institutions(), "*")
    for code, scope in scopes.items():
        tables = [
            t
            for t in read
            if t == ANY_TABLE
            or (holds_rows_of(t, code, consortium) and (scope == "*" or t in scope))
        ]
        if tables:
            need([code], server_read_reason(tables))
    if not server_log_read:
        need(project_institutions(), LOG_UNREADABLE)
    need(named_in_tables(nb, consortium.names()), NAMED)
    if release_use == "internal":
        need(recipients, RECIPIENT)
    elif release_use == "external":
        need(consortium.codes, EXTERNAL)
    return dict(sorted(reasons.items()))


def used_data_of(reasons: dict[str, list[str]], code: str) -> bool:
    """Whether ``code`` is required for its data (not only as a recipient or a member)."""
    return any(r not in DATA_REASONS_EXCLUDE for r in reasons.get(code, ()))


def as_json(reasons: dict[str, list[str]]) -> tuple[str, str]:
    return json.dumps(sorted(reasons)), json.dumps(reasons, sort_keys=True)
