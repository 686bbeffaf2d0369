"""Find tables in output text cheaply, separating labels (index, headers) from data cells.

Formats: pandas DataFrame/Series reprs (text/plain, printed to stdout), HTML tables (pandas'
``<th>`` labels and ``<td>`` data), markdown pipe tables, LaTeX tabulars and printed dicts.
Plain-text frames are read by alignment: pandas right-aligns data under right-aligned column
labels and left-aligns index labels, so a data cell is a token that ends where a header label
ends, in most rows. Results are cached: every check of a cell asks for the same tables.
"""

import ast
import html
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache


@dataclass
class Table:
    labels: list[str]  # one per data column ("" when unknown)
    columns: list[list[str]]  # data cells, column by column
    rows: int  # rows of data, or the count pandas declares for a truncated table
    index: list[str]  # each shown row's labels, joined


PLAIN_KINDS = ("text/plain", "stdout", "stderr")
MISSING = {"", "NaN", "nan", "<NA>", "None", "NaT", "...", "-", "—"}

TOKEN = re.compile(r"\S+(?: \S+)*")  # pandas separates data columns by two or more spaces
FRAME_FOOTER = re.compile(r"\[(\d+) rows x \d+ columns\]$")
SERIES_FOOTER = re.compile(r"(?:Name: (.*?), )?(?:Length: (\d+), )?dtype: \w+$")
HTML_TABLE = re.compile(r"<table\b.*?</table>(?:\s*<p>(\d+) rows × \d+ columns</p>)?", re.S | re.I)
HTML_THEAD = re.compile(r"<thead\b.*?</thead>", re.S | re.I)
HTML_ROW = re.compile(r"<tr\b[^>]*>(.*?)</tr>", re.S | re.I)
HTML_CELL = re.compile(r"<(t[hd])\b([^>]*)>(.*?)</t[hd]\s*>", re.S | re.I)
HTML_COLSPAN = re.compile(r"colspan\s*=\s*[\"']?(\d+)", re.I)
HTML_TAG = re.compile(r"<[^>]*>")
MD_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
LATEX_TABULAR = re.compile(
    r"\\begin\{(?:tabular|longtable)\}.*?\\end\{(?:tabular|longtable)\}", re.S
)
LATEX_RULE = re.compile(r"\\(?:toprule|midrule|bottomrule|hline|cline\{[^}]*\})")
DICT = re.compile(r"\{[^{}]{1,20000}\}")


@lru_cache(maxsize=64)
def find_tables(kind: str, text: str) -> tuple[Table, ...]:
    """Every table in one representation (``kind`` is a mimetype, a stream name or "markdown")."""
    found = []
    if kind in PLAIN_KINDS:
        for block in re.split(r"\n\s*\n", text):
            found.extend(plain_tables(block))
        found.extend(dict_tables(text))
    if kind in ("text/html", "markdown", "text/markdown"):
        found.extend(html_tables(text))
    if kind in ("markdown", "text/markdown", *PLAIN_KINDS):
        found.extend(markdown_tables(text))
    if kind == "text/latex":
        found.extend(latex_tables(text))
    if kind == "application/json":
        found.extend(dict_tables(text))
    return tuple(found)


def plain_tables(block: str):
    lines = [line.rstrip() for line in block.split("\n") if line.strip()]
    if len(lines) < 2:
        return
    declared = None
    if match := FRAME_FOOTER.match(lines[-1].strip()):
        declared = int(match[1])
        lines.pop()
    elif match := SERIES_FOOTER.match(lines[-1].strip()):
        lines.pop()
        yield series_table(lines, name=match[1] or "", declared=match[2])
        return
    table = frame_table(lines)
    if table is not None:
        if declared is not None:
            table.rows = declared
        yield table


def tokens(line: str) -> dict[int, str]:
    return {m.end(): m.group() for m in TOKEN.finditer(line)}


def series_table(lines, name: str, declared) -> Table:
    """Values are right-aligned: rows end where most lines end (not the index names line)."""
    value_end = Counter(len(line) for line in lines).most_common(1)[0][0]
    values, index = [], []
    for line in lines:
        found = TOKEN.findall(line)
        if len(line) == value_end and len(found) >= 2 and found[-1] != "...":
            values.append(found[-1])
            index.append(" ".join(found[:-1]))
    return Table([name], [values], int(declared) if declared else len(values), index)


def frame_table(lines) -> Table | None:
    # Header lines: the first, then any that start blank (lower levels of MultiIndex columns).
    split = 1
    while split < len(lines) and lines[split][:1] == " " and lines[0][:1] == " ":
        split += 1
    header, body = [tokens(line) for line in lines[:split]], [tokens(x) for x in lines[split:]]
    if not body:
        return None
    label_at = {end: label for row in header for end, label in row.items()}
    ends = Counter(end for row in body for end in row)
    data_ends = sorted(end for end in label_at if ends[end] * 2 >= len(body))
    if not data_ends:
        return None
    columns, index = [[] for _ in data_ends], []
    for row in body:
        cells = [row.get(end) for end in data_ends]
        if all(cell in (None, "...") for cell in cells):
            continue  # the index names line, or pandas' "..." truncation row
        index.append(" ".join(v for end, v in row.items() if end not in data_ends))
        for column, cell in zip(columns, cells, strict=True):
            column.append(cell or "")
    return Table([label_at[end] for end in data_ends], columns, len(index), index)


def html_text(fragment: str) -> str:
    return html.unescape(HTML_TAG.sub("", fragment)).strip()


def html_tables(text: str):
    if "<table" not in text.lower():
        return
    for match in HTML_TABLE.finditer(text):
        source = match.group()
        head = HTML_THEAD.search(source)
        body = source[head.end() :] if head else source
        header_rows, data_rows, index = [], [], []
        for row in HTML_ROW.findall(head.group() if head else ""):
            header_rows.append(expand_colspan(HTML_CELL.findall(row)))
        for row in HTML_ROW.findall(body):
            cells = HTML_CELL.findall(row)
            if cells and all(tag.lower() == "th" for tag, _, _ in cells) and not data_rows:
                header_rows.append(expand_colspan(cells))
                continue
            data_rows.append([html_text(v) for tag, _, v in cells if tag.lower() == "td"])
            index.append(" ".join(html_text(v) for tag, _, v in cells if tag.lower() == "th"))
        width = max((len(r) for r in data_rows), default=0)
        if not width:
            continue
        labels = [""] * width
        for row in header_rows:  # the lowest header row that names the data columns wins
            tail = row[-width:] if len(row) >= width else [""] * width
            if any(tail):
                labels = tail
        columns = [[r[j] if j < len(r) else "" for r in data_rows] for j in range(width)]
        rows = int(match[1]) if match[1] else len(data_rows)
        yield Table(labels, columns, rows, index)


def expand_colspan(cells) -> list[str]:
    out = []
    for _, attrs, value in cells:
        span = HTML_COLSPAN.search(attrs)
        out.extend([html_text(value)] * (int(span[1]) if span else 1))
    return out


def markdown_tables(text: str):
    if "|" not in text:
        return
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if not MD_RULE.match(lines[i]) or "|" not in lines[i - 1]:
            continue
        rows = []
        for line in lines[i + 1 :]:
            if "|" not in line:
                break
            rows.append(pipe_cells(line))
        header = pipe_cells(lines[i - 1])
        yield label_first_column(header, rows)


def pipe_cells(line: str) -> list[str]:
    cells = [c.strip() for c in line.strip().split("|")]
    if line.strip().startswith("|"):
        cells = cells[1:]
    if line.strip().endswith("|"):
        cells = cells[:-1]
    return cells


def latex_tables(text: str):
    for match in LATEX_TABULAR.finditer(text):
        inner = LATEX_RULE.sub("", match.group().split("}", 2)[-1])
        lines = [r for r in inner.split("\\\\") if r.strip() and "\\end{" not in r]
        rows = [[c.strip() for c in r.split("&")] for r in lines]
        if len(rows) >= 2:
            yield label_first_column(rows[0], rows[1:])


def label_first_column(header: list[str], rows: list[list[str]]) -> Table:
    """Hand-made tables put row labels in the first column."""
    width = max(len(header), *(len(r) for r in rows)) if rows else len(header)
    columns = [[r[j] if j < len(r) else "" for r in rows] for j in range(1, width)]
    labels = [header[j] if j < len(header) else "" for j in range(1, width)]
    return Table(labels, columns, len(rows), [r[0] if r else "" for r in rows])


def dict_tables(text: str):
    """A printed dict, Counter or JSON object of counts: its values are data, its keys labels."""
    if "{" not in text:
        return
    for match in DICT.finditer(text):
        try:
            value = ast.literal_eval(match.group())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict) and len(value) >= 2:
            yield Table(
                ["value"], [list(map(str, value.values()))], len(value), list(map(str, value))
            )


NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def whole_number(cell: str) -> int | None:
    """The integer a cell shows (``5``, ``5.0``, ``1,234``), else None (text, ``3.5``, ``45%``)."""
    if not NUMBER.fullmatch(cell):
        return None
    number, _, fraction = cell.replace(",", "").partition(".")
    if fraction.strip("0"):
        return None
    return int(number)
