"""Small counts: a count table with any cell from 1 to ``min_count - 1`` is blocked.

A column is a count column when every data cell it shows is a whole number (``5``, ``5.0``,
``1,234``), none negative, and its label is not one of ``not_count_columns`` (years, grade
levels, scores, means, percentages...). Index, row and column labels are never data.
"""

import re

from traitlets import Enum, Int, Unicode

from output_review.checks.base import OutputCheck
from output_review.tables import MISSING, find_tables
from output_review.texts import cell_texts

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

    def preprocess_cell(self, cell, resources, index):
        for text in cell_texts(cell):
            if text.output is None and not (cell.cell_type != "code" and text.kind == "source"):
                continue
            kind = "markdown" if text.kind == "source" else text.kind
            for table in find_tables(kind, text.text):
                self.check_table(table, resources, index, text.output, f"the {text.kind}")
        return cell, resources

    def check_table(self, table, resources, cell, output, where) -> None:
        zero, min_count = None, self.min_count
        for j, label in enumerate(table.labels):
            counts = self.counts(label, table, j)
            small = [n for n in counts if 0 < n < min_count]
            if small:
                self.report(
                    resources,
                    cell,
                    output,
                    "block",
                    f"{where} has a count below {self.min_count} in column {label[:20]!r}; "
                    f"suppress or combine categories so every count is {self.min_count} or more.",
                )
                return
            if 0 in counts and zero is None:
                zero = label
        if zero is not None:
            self.report(
                resources,
                cell,
                output,
                self.zero_severity,
                f"{where} has a zero count in column {zero[:20]!r}; a reviewer must check "
                "that it discloses nothing by difference.",
            )

    def counts(self, label: str, table, j: int) -> list[int]:
        """The column's counts, or [] when it is not a count column."""
        if self.matches("not_count_columns", label):
            return []
        cells = [cell for cell in table.column(j) if cell not in MISSING]
        if not cells or not WHOLE_NUMBERS.fullmatch("\n".join(cells)):
            return []
        return [int(cell.replace(",", "").partition(".")[0]) for cell in cells]
