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
from functools import lru_cache


class Table:
    """Labels are read at once; a column's cells and the row labels only when a check asks
    (most checks decide on labels alone, and reading every cell is the expensive part)."""

    def __init__(self, labels: list[str], rows: int, column, index, dtype=None, named=None):
        self.labels = labels  # one per data column ("" when unknown)
        self.rows = rows  # rows of data, or the count pandas declares for a truncated table
        self._column = column  # j -> that column's data cells
        self._index = index  # () -> each row's labels, joined
        self.dtype = dtype  # a Series' dtype from its footer ("int64"), else None
        self.named = named  # whether the row labels have a name (a groupby key), if known
        self._cache = {}

    def column(self, j: int) -> list[str]:
        if j not in self._cache:
            self._cache[j] = self._column(j)
        return self._cache[j]

    @property
    def columns(self) -> list[list[str]]:
        return [self.column(j) for j in range(len(self.labels))]

    @property
    def index(self) -> list[str]:
        if "index" not in self._cache:
            self._cache["index"] = self._index()
        return self._cache["index"]

    @property
    def keys(self) -> list[int]:
        """The leading label columns (one to three) of a table listed by position whose rows
        each show a different combination of them, in order: a grouped result
        (``reset_index()``, a query's ``GROUP BY``); [] for any other table (a listing
        repeats its labels, a sample is out of order)."""
        if "keys" not in self._cache:
            self._cache["keys"] = self._keys()
        return self._cache["keys"]

    def _keys(self) -> list[int]:
        kinds = []
        for k in range(len(self.labels)):
            cells = [c for c in self.column(k) if c not in MISSING]
            kinds.append(bool(cells) and not all(NUMERIC.fullmatch(c) for c in cells))
        keys = [k for k, is_label in enumerate(kinds) if is_label]
        if not 1 <= len(keys) <= 3 or keys != list(range(len(keys))) or len(keys) == len(kinds):
            return []
        if self.rows > len(self.column(keys[0])):
            return []  # truncated: whether rows repeat cannot be seen
        if self.index != [str(i) for i in range(len(self.index))]:
            return []  # a sample or a filtered listing, not a fresh result
        rows = list(zip(*(self.column(k) for k in keys), strict=True))
        # grouped results list each group once, in order (pandas sorts its groups)
        return keys if len(set(rows)) == len(rows) >= 2 and rows == sorted(rows) else []

    @property
    def positional(self) -> bool:
        """Rows labelled by their position (pandas' default row numbers, maybe filtered), not
        by groups: a listing of records or a query's rows."""
        if self.named:
            return False
        numbers = [int(x) for x in self.index if x.isdigit()]
        return len(numbers) == len(self.index) > 0 and all(
            a < b for a, b in zip(numbers, numbers[1:], strict=False)
        )


def listed(labels, index, columns) -> Table:
    """A table whose cells are already split (markdown, LaTeX, dicts)."""
    return Table(labels, len(index), columns.__getitem__, lambda: index)


PLAIN_KINDS = ("text/plain", "stdout", "stderr")
MISSING = {"", "NaN", "nan", "<NA>", "None", "NaT", "...", "-", "—"}
NUMERIC = re.compile(r"-?[\d,]*\.?\d+(?:e[+-]?\d+)?%?|NaN|nan|<NA>|True|False", re.I)

ALIGNMENT_SAMPLE = 8  # rows enough to see which label ends the data cells share
DIGIT = re.compile(r"\d")
TOKEN = re.compile(r"\S+(?: \S+)*")  # pandas separates data columns by two or more spaces
WORD_END = re.compile(r"\S(?=\s|$)")
FRAME_FOOTER = re.compile(r"\[(\d+) rows x \d+ columns\]$")
SERIES_FOOTER = re.compile(r"(?:Name: (.*?), )?(?:Length: (\d+), )?dtype: (\w+)$")
HTML_TABLE = re.compile(r"<table\b.*?</table>(?:\s*<p>(\d+) rows × \d+ columns</p>)?", re.S | re.I)
HTML_DECLARED = re.compile(r"\s*<p>(\d+) rows × \d+ columns</p>")
HTML_THEAD = re.compile(r"<thead\b.*?</thead>", re.S | re.I)
HTML_ROW = re.compile(r"<tr\b[^>]*>(.*?)</tr>", re.S | re.I)
HTML_CELL = re.compile(r"<(t[hd])\b([^>]*)>(.*?)</t[hd]\s*>", re.S | re.I)
HTML_TD = re.compile(r"<td\b[^>]*>(.*?)</td\s*>", re.S | re.I)
PLAIN_TD = re.compile(r"<td>([^<]*)</td>")
HTML_TH = re.compile(r"<th\b[^>]*>(.*?)</th\s*>", re.S | re.I)
HTML_COLSPAN = re.compile(r"colspan\s*=\s*[\"']?(\d+)", re.I)
HTML_TAG = re.compile(r"<[^>]*>")
MD_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
LATEX_TABULAR = re.compile(
    r"\\begin\{(?:tabular|longtable)\}.*?\\end\{(?:tabular|longtable)\}", re.S
)
LATEX_RULE = re.compile(r"\\(?:toprule|midrule|bottomrule|hline|cline\{[^}]*\})")
DICT = re.compile(r"\{[^{}]{1,20000}\}")
# numpy 2 scalars inside printed containers: np.int64(3), np.float64(0.5), np.str_('A')
NUMPY_SCALAR = re.compile(r"\bnp\.[a-z_]+\d*\(([^()]*)\)")
PAIRS = re.compile(r"\[\s*\((?:[^()\[\]]{1,200}\)\s*,\s*\()*[^()\[\]]{1,200}\)\s*\]")
ARRAY_PAIR = re.compile(
    r"\(array\((\[[^()]*?\])(?:,\s*dtype=[^()]*?)?\),\s*array\((\[[^()]*?\])(?:,\s*dtype=[^()]*?)?\)\)"
)


def literal(text: str):
    """A Python literal as printed (numpy scalars unwrapped), or None."""
    if "np." in text:
        text = NUMPY_SCALAR.sub(r"\1", text)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def pair_tables(text: str):
    """``Counter.most_common()`` and ``list(d.items())``: a list of (label, value) pairs."""
    if "[(" not in text and "[ (" not in text:
        return
    for match in PAIRS.finditer(text):
        value = literal(match.group())
        if (
            isinstance(value, list)
            and len(value) >= 2
            and all(isinstance(p, tuple) and len(p) == 2 for p in value)
        ):
            yield listed(["value"], [str(p[0]) for p in value], [[str(p[1]) for p in value]])


def unique_tables(text: str):
    """``np.unique(x, return_counts=True)``: values and their counts as two arrays."""
    if "array(" not in text:
        return
    for match in ARRAY_PAIR.finditer(text):
        labels, counts = literal(match[1]), literal(match[2])
        if isinstance(labels, list) and isinstance(counts, list) and len(labels) == len(counts):
            yield listed(["count"], list(map(str, labels)), [list(map(str, counts))])


@lru_cache(maxsize=64)
def find_tables(kind: str, text: str) -> tuple[Table, ...]:
    """Every table in one representation (``kind`` is a mimetype, a stream name or "markdown")."""
    found = []
    if kind in PLAIN_KINDS:
        for block in re.split(r"\n\s*\n", text):
            found.extend(plain_tables(block))
        found.extend(dict_tables(text))
        found.extend(pair_tables(text))
        found.extend(unique_tables(text))
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
        yield series_table(lines, name=match[1] or "", declared=match[2], dtype=match[3])
        return
    table = frame_table(lines)
    if table is not None:
        if declared is not None:
            table.rows = declared
        yield table


def series_table(lines, name: str, declared, dtype=None) -> Table:
    """Values are right-aligned: rows end where most lines end (not the index names line)."""
    value_end = Counter(len(line) for line in lines).most_common(1)[0][0]
    rows = [line.rpartition("  ") for line in lines if len(line) == value_end]
    rows = [(label, value) for label, _, value in rows if value.strip() != "..."]
    return Table(
        [name],
        int(declared) if declared else len(rows),
        lambda _: [value.strip() for _, value in rows],
        lambda: [label.strip() for label, _ in rows],
        dtype=dtype,
        named=len(lines[0]) != value_end,
    )


def frame_table(lines) -> Table | None:
    # Header lines: the first, then lower levels of MultiIndex columns and the index names
    # line: lines that start blank or hold no digit (a data row's first label starts at 0,
    # and the table has numbers to read or nothing to count).
    split = 1
    while split < len(lines) and (lines[split][:1] == " " or not DIGIT.search(lines[split])):
        split += 1
    header, body = lines[:split], lines[split:]
    if not body:
        return None
    # A data column's cells end where its label ends (right-aligned), in most rows. Labels
    # are two spaces apart, except above a one-character column ("units grade"): any word
    # of the header may end a label.
    sample = body[:ALIGNMENT_SAMPLE]
    ends = {m.end() for line in header for m in WORD_END.finditer(line)}
    shown = Counter(e for line in sample for e in {m.end() for m in WORD_END.finditer(line)})
    data_ends = sorted(e for e in ends if shown[e] * 2 >= len(sample))
    if not data_ends:
        return None
    label_at = labels_at(header, data_ends)
    rows = []

    def data_rows() -> list[str]:
        """Lines with a cell in the last column (pandas shows NaN, never nothing): not the
        index names line, and not pandas' "..." truncation row. Computed on demand."""
        if not rows:
            last = data_ends[-1]
            rows.extend(
                x
                for x in body
                if x[last - 1 : last] not in BLANK and x[last : last + 1] in BLANK and x.strip(". ")
            )
        return rows

    def column(j: int) -> list[str]:
        # a cell ends at ``end`` (a blank after it) and starts after the last double space
        # before it; written inline: this runs for every row of every column read
        end = data_ends[j]
        return [
            x[:end].rpartition("  ")[2].strip()
            if x[end - 1 : end] not in BLANK and x[end : end + 1] in BLANK
            else ""
            for x in data_rows()
        ]

    def index() -> list[str]:
        first = data_ends[0]
        return [line[: cell_start(line, first) - 2].strip() for line in data_rows()]

    named = any(line[:1] not in ("", " ") for line in header[1:])
    return Table([label_at[e] for e in data_ends], len(body), column, index, named=named)


def labels_at(header: list[str], data_ends: list[int]) -> dict[int, str]:
    """The header text ending at each data end (the lowest header line naming it wins)."""
    cuts = set(data_ends)
    label_at = {}
    for line in header:
        for m in TOKEN.finditer(line):
            start = m.start()
            for end in sorted(e for e in cuts if m.start() < e <= m.end()):
                label_at[end] = line[start:end].strip()
                start = end
    return {e: label_at.get(e, "") for e in data_ends}


BLANK = ("", " ")  # what is beside a cell's end: its line's end or a space


def cell_start(line: str, end: int) -> int:
    gap = line.rfind("  ", 0, end)
    return gap + 2 if gap >= 0 else 0


def html_text(fragment: str) -> str:
    if "<" in fragment or "&" in fragment:
        fragment = html.unescape(HTML_TAG.sub("", fragment))
    return fragment.strip()


def html_table_sources(text: str):
    """Each ``<table>...</table>`` with the row count pandas declares after it, if any:
    found with plain substring searches (pandas writes lower case); any other case with the
    regex."""
    if "<table" not in text:
        if "<" in text and "<table" in text.lower():
            yield from ((m.group(), m[1]) for m in HTML_TABLE.finditer(text))
        return
    start = text.find("<table")
    while start >= 0:
        end = text.find("</table>", start)
        if end < 0:
            return
        end += len("</table>")
        tail = HTML_DECLARED.match(text, end)
        yield text[start:end], tail[1] if tail else None
        start = text.find("<table", end)


def html_tables(text: str):
    for source, declared in html_table_sources(text):
        head = HTML_THEAD.search(source)
        body = source[head.end() :] if head else source
        header_rows = HTML_ROW.findall(head.group()) if head else []
        while (first := HTML_ROW.search(body)) and "<td" not in first[1].lower():
            header_rows.append(first[1])  # a table without <thead>: leading rows of <th>
            body = body[first.end() :]
        width = first[1].lower().count("<td") if first else 0
        if not width:
            continue
        labels, named = [""] * width, False
        for row in map(expand_colspan, map(HTML_CELL.findall, header_rows)):
            tail = row[-width:] if len(row) >= width else [""] * width
            if any(tail):  # the lowest header row that names the data columns wins
                labels = tail
            elif len(row) > width and any(row[:-width]):  # pandas' index names row
                named = True
        rows = int(declared) if declared else html_rows(body)
        yield Table(
            labels,
            rows,
            html_column(body, width),
            lambda body=body: html_index(body),
            named=named,
        )


def html_rows(body: str) -> int:
    return body.count("<tr") + body.count("<TR")


def html_column(body: str, width: int):
    """pandas writes every row with the same cells: column j is every width-th <td>."""
    cells = []

    def column(j: int) -> list[str]:
        if not cells:
            expected = html_rows(body) * width
            flat = PLAIN_TD.findall(body)  # pandas' own form, twice as fast to find
            if len(flat) != expected:
                flat = HTML_TD.findall(body)
            if len(flat) == expected:
                cells.extend(flat)
            else:  # ragged rows: pad each one
                for row in HTML_ROW.findall(body):
                    data = HTML_TD.findall(row)[:width]
                    cells.extend(data + [""] * (width - len(data)))
            joined = "".join(cells)
            if "<" in joined or "&" in joined:
                cells[:] = map(html_text, cells)
            else:
                cells[:] = map(str.strip, cells)
        return cells[j::width]

    return column


def html_index(body: str) -> list[str]:
    return [" ".join(map(html_text, HTML_TH.findall(row))) for row in HTML_ROW.findall(body)]


def expand_colspan(cells) -> list[str]:
    out = []
    for _, attrs, value in cells:
        span = HTML_COLSPAN.search(attrs) if "=" in attrs else None
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
    return listed(labels, [r[0] if r else "" for r in rows], columns)


def dict_tables(text: str):
    """A printed dict, Counter or JSON object of counts: its values are data, its keys labels."""
    if "{" not in text:
        return
    for match in DICT.finditer(text):
        value = literal(match.group())
        if isinstance(value, dict) and len(value) >= 2:
            yield listed(["value"], list(map(str, value)), [list(map(str, value.values()))])


NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")

# Cheap first tests, each a search with a literal first character (at memory speed): a table
# that fails one cannot hold what the rule looks for, so it is not parsed at all.
SMALL_PLAIN = re.compile(r" (\d{1,%d})(?:\.0+)?(?=[\s,)\]}|&\\]|$)(?! columns\])")
SMALL_OPENING = re.compile(r"[\[(:](\d{1,%d})(?:\.0+)?(?=[\s,)\]}]|$)")
SMALL_HTML = re.compile(r"<td[^>]*>\s*(\d{1,%d})(?:\.0+)?\s*</td>")
ROW_NUMBER = (re.compile(r"\n\d+ "), re.compile(r"<th[^>]*>\d+</th>"))
DECLARED_ROWS = (re.compile(r"\[(\d+) rows x"), re.compile(r"<p>(\d+) rows ×"))


@lru_cache(maxsize=8)
def small_patterns(limit: int) -> tuple[re.Pattern, ...]:
    digits = len(str(max(limit - 1, 0)))
    return tuple(re.compile(p.pattern % digits) for p in (SMALL_PLAIN, SMALL_OPENING, SMALL_HTML))


def may_hold_small(kind: str, text: str, limit: int) -> bool:
    """Whether ``text`` shows a whole number below ``limit`` where a table cell can be (after
    a space, an opening bracket or a colon, or alone in an HTML cell)."""
    plain, opening, html = small_patterns(limit)
    patterns = (html,) if kind == "text/html" else (plain, opening, html)
    if limit == 10 ** len(str(limit - 1)):  # every match is below it: the first one decides
        return any(p.search(text) for p in patterns)
    return any(int(m[1]) < limit for p in patterns for m in p.finditer(text))


def may_list_rows(kind: str, text: str) -> bool:
    """Whether a table in ``text`` could have rows labelled by position (row numbers)."""
    return any(p.search(text) for p in ROW_NUMBER)


def may_exceed_rows(text: str, limit: int) -> bool:
    """Whether a table in ``text`` could have more than ``limit`` rows."""
    if text.count("\n") > limit or text.count("<tr") > limit:
        return True
    return any(int(m[1]) > limit for p in DECLARED_ROWS for m in p.finditer(text))


def whole_number(cell: str) -> int | None:
    """The integer a cell shows (``5``, ``5.0``, ``1,234``), else None (text, ``3.5``, ``45%``)."""
    if not NUMBER.fullmatch(cell):
        return None
    number, _, fraction = cell.replace(",", "").partition(".")
    if fraction.strip("0"):
        return None
    return int(number)
