"""What the review pages show, computed from rows and notebooks: no HTTP, no SQL.

- ``outputs_of(nb, report)``: every output, named as JupyterLab shows its cell, with its
  findings, for the per-output decision form and the findings list;
- ``still_needed(request, progress)``: what a request waits for, and from whom, in words;
- ``steward_outputs(nb, code, name)``: the outputs that used an institution's data (the
  kernel's record beside each table) and those that name or rank it;
- ``round_changes(old, new)``: what changed in the outputs between two rounds.

Values of outputs reach a page only inside the sandboxed rendering and the round diff (both
for people who may see the notebook anyway); these functions return places and kinds.
"""

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from html.parser import HTMLParser

from enclave.output_review.findings import GateReport
from enclave.output_review.render import cell_anchor
from enclave.review_service import stewards
from enclave.review_service.states import Status


@dataclass(frozen=True)
class OutputItem:
    cell: int  # 0-based
    output: int  # 0-based
    place: str  # "cell 4 [5]", as JupyterLab shows it
    kind: str  # "table", "text", "image", "error", ...
    findings: tuple = ()

    @property
    def anchor(self) -> str:
        return f"{cell_anchor(self.cell + 1)}-output-{self.output + 1}"

    @property
    def worst(self) -> str:
        severities = {f.severity for f in self.findings}
        return "block" if "block" in severities else ("review" if severities else "pass")


def place(cell_index: int, cell) -> str:
    if cell.get("cell_type") != "code":
        return f"cell {cell_index + 1}"
    count = cell.get("execution_count")
    return f"cell {cell_index + 1} [{count if count is not None else ' '}]"


def output_kind(output) -> str:
    kind = output.get("output_type", "")
    if kind == "stream":
        return output.get("name", "stream")
    if kind == "error":
        return "error"
    data = output.get("data") or {}
    if any(m.startswith("image/") for m in data):
        return "image"
    html = "".join(data.get("text/html", ""))
    if "<table" in html.lower():
        return "table"
    if "text/html" in data:
        return "html"
    return "text"


def outputs_of(nb, report: GateReport) -> list[OutputItem]:
    return [
        OutputItem(
            i,
            j,
            place(i, cell),
            output_kind(output),
            tuple(report.for_output(i, j)),
        )
        for i, cell in enumerate(nb.get("cells", ()))
        for j, output in enumerate(cell.get("outputs", ()))
    ]


def finding_anchor(finding) -> str:
    """Where a finding's output (or cell) is in the rendering; "" for notebook findings."""
    if finding.cell is None:
        return ""
    base = cell_anchor(finding.cell + 1)
    return base if finding.output is None else f"{base}-output-{finding.output + 1}"


# -- what a request still needs ---------------------------------------------------------------
def still_needed(request, progress) -> list[str]:
    """Sentences: what the request waits for, and from whom."""
    status = Status(request.status)
    if status is Status.CHANGES_REQUESTED:
        return [
            f"{request.author}: change the notebook and resubmit it (round {request.round + 1})."
        ]
    if status is Status.APPROVED:
        return ["the review service: building the release package."]
    if status is Status.RELEASED:
        return [f"nothing: {request.author} can download the release."]
    if status in (Status.REJECTED, Status.WITHDRAWN):
        return [f"nothing: the request was {status.value}."]
    needed = []
    if progress.reviewers_needed:
        n = progress.reviewers_needed
        needed.append(f"{n} more reviewer approval{'s' if n != 1 else ''}.")
    for code in progress.institutions_outstanding:
        needed.append(f"a steward of {code}.")
    return needed or ["nothing more."]


# -- the steward's view ------------------------------------------------------------------------
@dataclass
class StewardOutputs:
    used: list[OutputItem] = field(default_factory=list)  # the kernel recorded their data read
    named: list[tuple[OutputItem, int]] = field(default_factory=list)  # (output, others named)


def _institutions_recorded(output) -> list[str]:
    from enclave.output_review.structured import MIMETYPE

    payload = (output.get("data") or {}).get(MIMETYPE)
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return []
    if not isinstance(payload, dict) or not isinstance(payload.get("institutions"), list):
        return []
    return [i for i in payload["institutions"] if isinstance(i, str)]


def steward_outputs(nb, report: GateReport, code: str, institutions: dict) -> StewardOutputs:
    """Outputs of ``nb`` that used ``code``'s data (by the kernel's record beside each table)
    and those whose tables name it (``stewards.named_in_tables``, one output at a time), with
    how many other members each names: a table naming several ranks or compares them."""
    found = StewardOutputs()
    items = {(o.cell, o.output): o for o in outputs_of(nb, report)}
    for i, cell in enumerate(nb.get("cells", ())):
        for j, output in enumerate(cell.get("outputs", ())):
            if code in _institutions_recorded(output):
                found.used.append(items[i, j])
            single = {"cells": [{"cell_type": "code", "outputs": [output]}]}
            named = stewards.named_in_tables(single, institutions)
            if code in named:
                found.named.append((items[i, j], len(named) - 1))
    return found


# -- what changed between rounds ----------------------------------------------------------------
class _VisibleText(HTMLParser):
    """An HTML output's text as a person reads it: one line per table row, cells apart."""

    def __init__(self):
        super().__init__()
        self.lines: list[list[str]] = [[]]
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1
        elif tag in ("tr", "p", "div", "br", "li", "caption", "h1", "h2", "h3"):
            self.lines.append([])

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.lines[-1].append(data.strip())


def visible_lines(output) -> list[str]:
    """What an output shows as text lines (tables row by row); images by their digest."""
    data = output.get("data") or {}
    if output.get("output_type") == "stream":
        text = output.get("text") or ""
        return ("".join(text) if isinstance(text, list) else str(text)).splitlines()
    if output.get("output_type") == "error":
        return [f"{output.get('ename')}: {output.get('evalue')}"]
    html = data.get("text/html")
    if html:
        parser = _VisibleText()
        parser.feed("".join(html) if isinstance(html, list) else str(html))
        return [" | ".join(cells) for cells in parser.lines if cells]
    lines = []
    for mime, value in sorted(data.items()):
        value = "".join(value) if isinstance(value, list) else value
        if mime == "text/plain" or mime == "text/markdown":
            lines.extend(str(value).splitlines())
        elif not mime.startswith("application/vnd.enclave"):
            digest = hashlib.sha256(json.dumps(value, default=str).encode()).hexdigest()[:12]
            lines.append(f"[{mime} {digest}]")
    return lines


@dataclass(frozen=True)
class CellChange:
    change: str  # "unchanged", "outputs changed", "source changed", "added", "removed"
    old: str | None  # place in the older round
    new: str | None
    old_anchor: str | None
    new_anchor: str | None
    text: str = ""  # a unified diff of the outputs' text, for changed cells


def _text_of(cell) -> list[str]:
    lines = []
    for number, output in enumerate(cell.get("outputs", ()), 1):
        lines.append(f"-- output {number}")
        lines.extend(visible_lines(output))
    return lines


def round_changes(old_nb, new_nb, *, text_limit: int = 4000) -> list[CellChange]:
    """Cells of two rounds aligned by their source (``difflib``), with what changed."""
    old_cells, new_cells = list(old_nb.get("cells", ())), list(new_nb.get("cells", ()))

    def source(cell):
        s = cell.get("source", "")
        return "".join(s) if isinstance(s, list) else s

    matcher = difflib.SequenceMatcher(
        a=[source(c) for c in old_cells], b=[source(c) for c in new_cells], autojunk=False
    )
    changes = []

    def change(kind, i=None, j=None, text=""):
        changes.append(
            CellChange(
                kind,
                place(i, old_cells[i]) if i is not None else None,
                place(j, new_cells[j]) if j is not None else None,
                cell_anchor(i + 1) if i is not None else None,
                cell_anchor(j + 1) if j is not None else None,
                text,
            )
        )

    def compare(i, j, kind_if_same_source):
        a, b = old_cells[i], new_cells[j]
        same_outputs = _text_of(a) == _text_of(b)
        if same_outputs and kind_if_same_source == "unchanged":
            change("unchanged", i, j)
            return
        diff = "\n".join(
            difflib.unified_diff(_text_of(a), _text_of(b), "before", "after", lineterm="", n=1)
        )
        kind = kind_if_same_source if same_outputs else "outputs changed"
        change(kind, i, j, diff[:text_limit])

    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for k in range(i2 - i1):
                compare(i1 + k, j1 + k, "unchanged")
        elif op == "replace" and i2 - i1 == j2 - j1:
            for k in range(i2 - i1):
                compare(i1 + k, j1 + k, "source changed")
        else:
            for i in range(i1, i2):
                change("removed", i=i)
            for j in range(j1, j2):
                change("added", j=j)
    return changes
