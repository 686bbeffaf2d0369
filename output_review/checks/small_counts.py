"""Small counts: a count table with any cell from 1 to ``min_count - 1`` is blocked.

A column is a count column when every data cell it shows is a whole number (``5``, ``5.0``,
``1,234``), none negative, and its label is not one of ``not_count_columns`` (years, grade
levels, scores, means, percentages...). Index, row and column labels are never data.
"""

import re

from traitlets import Enum, Int, Unicode

from enclave.output_review.checks.base import OutputCheck
from enclave.output_review.tables import MISSING, find_tables
from enclave.output_review.texts import cell_texts

# Whole, non-negative numbers one a line: 5, 5.0, 1,234 (one regex for a whole column).
WHOLE_NUMBERS = re.compile(
    r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?\n)*(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?"
)


class SmallCounts(OutputCheck):
    rule = "small-counts"

    min_count = Int(
        10, help="Smallest count that may be released; counts from 1 to min_count-1 block."
    ).tag(config=True)

    zero_severity = Enum(
        ["review", "block"],
        "review",
        help="What a zero count (with no small count) needs: zeros can disclose by difference.",
    ).tag(config=True)

    not_count_columns = Unicode(
        r"(?:.*_)?(?:year|academic_year|birth_year|grade|grade_level|units(?:_\w+)?|\w*score|"
        r"zip3?|gpa|age|term|\w*_code|\w*_id|id|\w*_key|mean\w*|avg\w*|average\w*|median\w*|"
        r"std\w*|sd|se|var\w*|pct\w*|percent\w*|\w*_pct|\w*_rate|rate|share\w*|prop\w*|"
        r"ratio|coef\w*|p_?value|p>\|t\||t|z|r2|rank)",
        help="Regex (full match, any case) of column labels whose whole numbers are not counts.",
    ).tag(config=True)

    statistic_rows = Unicode(
        r"count|mean|std|sem|var|min|max|median|mode|sum|skew|kurt|\d{1,3}(?:\.\d+)?%|"
        r"0?\.\d+|1\.0|0\.0",
        help="""Regex (full match, any case) of row labels that name statistics (describe(),
        quantile()). In a table whose rows are all statistics only the "count" row holds
        counts.""",
    ).tag(config=True)

    statistics_table_rows = Int(
        16,
        min=1,
        help="""Longest table (in rows) that may be read as a table of statistics (see
        statistic_rows); a longer one is a count table whatever its row labels, so counts in
        its other rows are still checked.""",
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for text in cell_texts(cell):
            if text.output is None and not (cell.cell_type != "code" and text.kind == "source"):
                continue
            kind = "markdown" if text.kind == "source" else text.kind
            for table in find_tables(kind, text.text):
                self.check_table(table, resources, index, text.output, f"the {text.kind}")
        return cell, resources

    def check_table(self, table, resources, cell, output, where) -> None:
        # describe() and quantile() tables are short: only their "count" rows hold counts
        keep = (
            self.count_rows_of_statistics(table)
            if table.rows <= self.statistics_table_rows
            else None
        )
        found = self.smallest(table, keep)
        if not found:
            return
        severity, label = found
        if severity == "block":
            what = f"{where} has a count below {self.min_count} in column {label[:20]!r}"
            advice = f"suppress or combine categories so every count is {self.min_count} or more."
        else:
            what = f"{where} has a zero count in column {label[:20]!r}"
            advice = "a reviewer must check that it discloses nothing by difference."
        self.report(resources, cell, output, severity, f"{what}; {advice}")

    def smallest(self, table, keep) -> tuple[str, str] | None:
        """("block", label) for a small count, (zero_severity, label) for a zero, else None."""
        zero, min_count = None, self.min_count
        for j, label in enumerate(table.labels):
            counts = self.counts(label, table, j, keep)
            if any(0 < n < min_count for n in counts):
                return "block", label
            if 0 in counts and zero is None:
                zero = label
        return None if zero is None else (self.zero_severity, zero)

    def count_rows_of_statistics(self, table) -> list[bool] | None:
        """For a table whose rows are all statistics (count, mean, 25%, 0.5...), which rows
        hold counts; None for any other table."""
        rows = table.index
        if rows and all(self.matches("statistic_rows", row) for row in rows):
            return [row.strip().lower() == "count" for row in rows]
        return None

    def counts(self, label: str, table, j: int, keep=None) -> list[int]:
        """The column's counts, or [] when it is not a count column."""
        if self.matches("not_count_columns", label):
            return []
        column = table.column(j)
        if keep is not None:
            column = [cell for cell, kept in zip(column, keep, strict=False) if kept]
        cells = [cell for cell in column if cell not in MISSING]
        if not cells or not WHOLE_NUMBERS.fullmatch("\n".join(cells)):
            return []
        return [int(cell.replace(",", "").partition(".")[0]) for cell in cells]
