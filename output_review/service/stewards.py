"""Whose stewards must sign off: derived from what the notebook read and what it shows.

1. Lineage: institutions in the ``warehouse.query`` audit events of this user and project
   whose notebook is the submitted one (the kernel records every query).
2. Where no lineage exists: every institution approved for the project (conservative).
3. Always: institutions whose code or name appears in an output table, because a report that
   names or ranks a member needs that member's sign-off even without lineage.
"""

import json
import posixpath
import re
from collections.abc import Callable, Iterable

TABLE_HTML = re.compile(r"<table\b.*?</table>", re.IGNORECASE | re.DOTALL)


def lineage_institutions(audit_events: Iterable, notebook: str) -> set[str]:
    """Institutions read by queries recorded for ``notebook`` (matched by file name).

    Matching by base name may join two notebooks of the same name: that can only add
    stewards, never drop one.
    """
    wanted = posixpath.basename(notebook)
    found: set[str] = set()
    for event in audit_events:
        recorded = str(event.details.get("notebook") or "")
        if posixpath.basename(recorded) == wanted:
            found.update(event.details.get("institutions") or ())
    return found


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
) -> dict[str, list[str]]:
    """Institution code -> the reasons its steward is needed, in code order."""
    reasons: dict[str, list[str]] = {}
    lineage = lineage_institutions(query_events, notebook)
    if lineage:
        for code in lineage:
            reasons.setdefault(code, []).append("lineage")
    else:
        for code in project_institutions():
            reasons.setdefault(code, []).append("project (no query lineage)")
    for code in named_in_tables(nb, institutions):
        reasons.setdefault(code, []).append("named in an output table")
    return dict(sorted(reasons.items()))


def as_json(reasons: dict[str, list[str]]) -> tuple[str, str]:
    return json.dumps(sorted(reasons)), json.dumps(reasons, sort_keys=True)
