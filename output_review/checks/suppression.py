"""Suppression that does not hide: a suppressed count recoverable from what else is shown
blocks; a table that hides cells which nothing here gives back needs review (an output
released before might).

A count table with hidden cells (NaN, ``*``, ``<10``, ``suppressed``...) gives a hidden cell back
when a total is shown for its row or column and it is the only hidden cell there (the margin
less the cells shown), or when another table in the notebook holds those totals (a table of
counts by the same labels that agrees with every complete row). Solved cells help solve others,
as a person would. Any recovered cell blocks the table: suppress more cells (secondary
suppression) or drop the margins.
"""

import re

from enclave.output_review.checks.base import STRUCTURES, OutputCheck
from enclave.output_review.structured import Structure
from enclave.output_review.tables import find_tables, whole_number
from enclave.output_review.texts import cell_texts, output_texts

HIDDEN = "hidden"
GRIDS = "enclave_count_grids"  # resources: the tables kept for the notebook-level solve
HIDDEN_TEXT = re.compile(r"NaN|nan|<NA>|\*+|<\s*\d+|c|x|s|S|suppressed|redacted|—|–|\.\.")
MARGIN = re.compile(r"(?:all|total|totals|grand total|overall|sum)", re.I)


class Grid:
    """A table of counts: rows x columns of int | HIDDEN | None, and its margin positions."""

    def __init__(self, where, rows: list[str], columns: list[str], values: list[list]):
        self.where = where  # (cell, output)
        self.rows, self.columns, self.values = rows, columns, values
        self.margin_row = next((i for i, r in enumerate(rows) if MARGIN.fullmatch(r)), None)
        self.margin_col = next((j for j, c in enumerate(columns) if MARGIN.fullmatch(c)), None)

    @property
    def totals_only(self) -> bool:
        """One column of counts: it may hold another table's totals."""
        return len(self.columns) == 1

    def hidden(self):
        return [
            (i, j) for i, row in enumerate(self.values) for j, v in enumerate(row) if v == HIDDEN
        ]

    def inner_rows(self):
        return [i for i in range(len(self.rows)) if i != self.margin_row]

    def inner_columns(self):
        return [j for j in range(len(self.columns)) if j != self.margin_col]

    def row_sums(self) -> dict:
        """Row label -> sum of its inner cells, for rows with every inner cell shown."""
        out = {}
        for i in self.inner_rows():
            cells = [self.values[i][j] for j in self.inner_columns()]
            if all(isinstance(v, int) for v in cells):
                out[self.rows[i]] = sum(cells)
        return out

    def column_sums(self) -> dict:
        out = {}
        for j in self.inner_columns():
            cells = [self.values[i][j] for i in self.inner_rows()]
            if all(isinstance(v, int) for v in cells):
                out[self.columns[j]] = sum(cells)
        return out


def solve(grid: Grid, row_totals: dict, column_totals: dict) -> list[tuple[int, int]]:
    """Hidden inner cells that the totals give back, by repeated one-unknown elimination."""
    values = [list(row) for row in grid.values]
    recovered = []
    if grid.margin_col is not None:
        for i in grid.inner_rows():
            total = values[i][grid.margin_col]
            if isinstance(total, int):
                row_totals.setdefault(grid.rows[i], total)
    if grid.margin_row is not None:
        for j in grid.inner_columns():
            total = values[grid.margin_row][j]
            if isinstance(total, int):
                column_totals.setdefault(grid.columns[j], total)
    lines = [
        ([(i, j) for j in grid.inner_columns()], row_totals.get(grid.rows[i]))
        for i in grid.inner_rows()
    ] + [
        ([(i, j) for i in grid.inner_rows()], column_totals.get(grid.columns[j]))
        for j in grid.inner_columns()
    ]
    if not additive(values, lines):
        return []  # the totals are not sums of the cells (means, rates): nothing to solve
    progress = True
    while progress:
        progress = False
        for cells, total in lines:
            if total is None:
                continue
            unknown = [(i, j) for i, j in cells if values[i][j] == HIDDEN]
            if len(unknown) != 1 or not all(
                isinstance(values[i][j], int) for i, j in cells if (i, j) not in unknown
            ):
                continue
            i, j = unknown[0]
            value = total - sum(values[a][b] for a, b in cells if (a, b) != (i, j))
            if value < 0:
                return []  # totals that cannot be sums of these cells
            values[i][j] = value
            if value > 0:  # 0: the totals leave the hidden records out (as ACRO redacts)
                recovered.append((i, j))
            progress = True
    return recovered


def additive(values, lines) -> bool:
    """Whether every complete line sums to its total, and at least one line is complete."""
    complete = [
        (cells, total)
        for cells, total in lines
        if total is not None and all(isinstance(values[i][j], int) for i, j in cells)
    ]
    return bool(complete) and all(
        sum(values[i][j] for i, j in cells) == total for cells, total in complete
    )


def totals_from(grid: Grid, other: Grid) -> tuple[dict, dict]:
    """Row and column totals of ``grid`` that a one-column table ``other`` gives, if it agrees
    with every complete row (or column) of ``grid`` it names, and names at least one."""
    if len(other.columns) != 1 or other is grid:
        return {}, {}
    shown = {label: row[0] for label, row in zip(other.rows, other.values, strict=True) if row}
    shown = {k: v for k, v in shown.items() if isinstance(v, int)}
    found = []
    for sums in (grid.row_sums(), grid.column_sums()):
        common = [k for k in sums if k in shown]
        agrees = bool(common) and all(sums[k] == shown[k] for k in common)
        found.append(shown if agrees else {})
    return found[0], found[1]


class Suppression(OutputCheck):
    """Collects, cell by cell, the count tables that hide cells and those that could give
    their totals (one column of counts); solves once every cell has been seen."""

    rule = "suppression"
    fix = "suppress"

    def preprocess_cell(self, cell, resources, index):
        structures = resources.get(STRUCTURES, {})
        hiding, others = resources.setdefault(GRIDS, ([], []))
        for number, output in enumerate(cell.get("outputs", ())):
            where = (index, number)
            if number in structures:
                source = structures[number]
                hides = any(None in row for row in source.payload["values"]) and any(
                    c.value is None and c.statistic not in (None, "key") for c in source.cells()
                )
            else:
                source = output
                hides = any(may_hide(t) for t in cell_texts(cell) if t.output == number)
            grids = [g for g in grids_of(where, source) if g.hidden()] if hides else []
            if not grids:
                others.append((where, source))  # may give totals; read only if a table hides
            hiding.extend(grids)
            if hides and not grids and number in structures:
                # hidden statistics (a mean, a sum): nothing to solve, a reviewer must look
                hiding.append(Grid(where, [], [], []))
        return cell, resources

    def check_notebook(self, nb, resources):
        hiding, others = resources.pop(GRIDS, ([], []))
        if not hiding:
            return
        totals = [g for where, source in others for g in grids_of(where, source, one_column=True)]
        grids = hiding + totals
        for grid in hiding:
            rows, columns, source = {}, {}, None
            recovered = solve(grid, rows, columns)
            for other in grids:
                if recovered:
                    break
                more_rows, more_columns = totals_from(grid, other)
                if more_rows or more_columns:
                    recovered = solve(grid, dict(more_rows), dict(more_columns))
                    source = other.where if recovered else None
            if recovered:
                i, j = recovered[0]
                place = f"row {grid.rows[i][:20]!r}, column {grid.columns[j][:20]!r}"
                by = (
                    f"the table in cell {source[0] + 1}"
                    if source and source[0] != grid.where[0]
                    else "its margins"
                )
                self.report(
                    resources,
                    grid.where[0],
                    grid.where[1],
                    "block",
                    f"the suppressed count at {place} can be recovered from {by} (the total "
                    "less the counts shown); suppress more cells so no hidden count is the "
                    "only one in its row or column, or remove the totals.",
                )
            else:
                self.report(
                    resources,
                    grid.where[0],
                    grid.where[1],
                    "review",
                    "the table hides cells, and nothing in this notebook gives them back; a "
                    "reviewer must confirm that no output released before does (differencing).",
                    fix="",
                )


# What a hidden cell shows, for a first test at memory speed (in the lower-case text): a
# marker, or a lone letter for a confidential cell as statistics offices print it (c, x, s),
# found as one byte class after the letters are translated to it.
HIDDEN_WORDS = ("nan", "<na>", "*", "suppress", "redact", "&lt;")
LONE_LETTER = bytes.maketrans(b"cxsS", b"\x00" * 4)
LONE_LETTER_NEEDLES = (b">\x00<", b" \x00\n", b"  \x00  ")
BELOW = re.compile(r"<\s*\d")  # "<10" (escaped in HTML: "&lt;")


def may_hide(text) -> bool:
    """Whether a text (a texts.Text) could show a hidden cell: substring searches at memory
    speed (pandas prints "..." for what it truncated, which hides nothing)."""
    if any(word in text.lower for word in HIDDEN_WORDS):
        return True
    if not text.text.isascii() and ("—" in text.text or "–" in text.text):
        return True
    letters = text.classes(LONE_LETTER)
    if any(needle in letters for needle in LONE_LETTER_NEEDLES):
        return True
    if ".." in text.text and ".." in text.text.replace("...", ""):
        return True
    return text.kind != "text/html" and bool(BELOW.search(text.text))


def grids_of(where, source, one_column: bool = False) -> list[Grid]:
    """The count tables of an output; ``one_column``: only those that may hold another
    table's totals (read without their cells otherwise)."""
    if isinstance(source, Structure):
        if one_column and len(source.column_labels) != 1:
            return []
        grid = structure_grid(where, source)
        return [grid] if grid is not None else []
    return text_grids(where, source, one_column)


def structure_grid(where, structure) -> Grid | None:
    """A structured count table (only count cells; a hidden cell shows no value)."""
    if structure.kind not in ("DataFrame", "Series") or not structure.has_evidence:
        return None
    values = [[None] * len(structure.column_labels) for _ in structure.row_labels]
    counting = False
    for cell in structure.cells():
        if cell.statistic != "count":
            continue
        counting = True
        if cell.value is None:
            values[cell.row][cell.column] = HIDDEN
        elif isinstance(cell.value, int | float) and cell.value == int(cell.value):
            values[cell.row][cell.column] = int(cell.value)
    if not counting:
        return None
    rows = [structure.row_label(i) for i in range(len(structure.row_labels))]
    columns = [structure.column_label(j) for j in range(len(structure.column_labels))]
    return Grid(where, rows, columns, values)


def text_grids(where, output, one_column: bool = False) -> list[Grid]:
    grids = []
    for text in output_texts(output, where[1]):
        if text.kind == "text/html" and grids:
            continue  # the HTML shows the same table as the text
        for table in find_tables(text.kind, text.text):
            if one_column and len(table.labels) != 1:
                continue
            grid = text_grid(where, table)
            if grid is not None:
                grids.append(grid)
    return grids


def text_grid(where, table) -> Grid | None:
    columns = [label.strip() for label in table.labels]
    if not columns or table.rows > 1000:
        return None
    rows = [label.strip() for label in table.index]
    values = []
    for j in range(len(columns)):
        column = []
        for cell in table.column(j):
            number = whole_number(cell.strip())
            if number is not None and number >= 0:
                column.append(number)
            elif HIDDEN_TEXT.fullmatch(cell.strip()):
                column.append(HIDDEN)
            else:
                return None  # not a count table
        values.append(column)
    if not values or len(values[0]) != len(rows):
        return None
    return Grid(where, rows, columns, [list(r) for r in zip(*values, strict=True)])
