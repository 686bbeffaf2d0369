"""Small counts read from text: a count table with any cell from 1 to ``min_count - 1`` is
blocked (``DisclosurePolicy.min_count``, the strictest among the institutions whose data the
notebook used). Outputs whose structured data says what every cell is are left to the exact
checks (``disclosure.py``).

A column is a count column when every data cell it shows is a whole number (``5``, ``5.0``,
``1,234``), none negative, and:

- its label names no measure (``measure_columns``: GPA, means, rates...) unless it shows no
  decimal point where a measure would (a GPA column of ``19``, ``3``: ``[["gpa"]].count()``),
  and no attribute (``attribute_columns``: years, grade levels, ids...) unless its values
  cannot be one (a "year" column of ``12``, ``3``);
- in a table whose rows are listed by position (``df.head()``, a query's rows), only columns
  named as counts (``count_columns``) or the table is keyed (label columns first, each row a
  different group, as a query's ``GROUP BY`` gives): record attributes are not counts;
- a Series whose rows are labelled by values, not positions, with an unnamed index is
  ``value_counts()`` as pandas before 2.0 printed it: counts whatever its name.

Index, row and column labels are never data. Model summaries (statsmodels) are not count
tables: the residual degrees of freedom rule reads them.
"""

import re
from functools import lru_cache
from itertools import filterfalse

from traitlets import Int, Unicode

from enclave.output_review.checks.base import (
    INSTITUTIONS,
    POLICY,
    OutputCheck,
    described,
    uncovered,
)
from enclave.output_review.tables import MISSING, find_tables, may_hold_small
from enclave.output_review.texts import cell_texts

# Whole, non-negative numbers one a line: 5, 5.0, 1,234 (one regex for a whole column).
WHOLE_NUMBERS = re.compile(
    r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?\n)*(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?"
)
MODEL_SUMMARY = re.compile(r"Regression Results|Dep\. Variable|Df Residuals|No\. Observations")
YEARS = range(1900, 2101)


@lru_cache(maxsize=8)
def small_lines(digits: int) -> re.Pattern:
    """Whole numbers one a line (as WHOLE_NUMBERS) whose value may have at most ``digits``
    digits (leading zeros aside); numbers with thousands separators are all kept."""
    return re.compile(rf"(?m)^[0,]*(\d{{1,{digits}}}|\d{{1,3}}(?:,\d{{3}})+)(?:\.0+)?$")


def whole(cell: str) -> int:
    return int(cell.replace(",", "").partition(".")[0])


class SmallCounts(OutputCheck):
    rule = "small-counts"

    measure_columns = Unicode(
        r"(?:.*_)?(?:gpa|mean\w*|avg\w*|average\w*|median\w*|std\w*|sd|se|sem|var\w*|"
        r"pct\w*|percent\w*|\w*_pct|\w*_rate|rate|share\w*|prop\w*|ratio|coef\w*|p_?value|"
        r"p>\|[tz]\||t|z|r2|r_squared|\w*score|weight|\w*_per_\w+)",
        help="""Regex (full match, any case) of column labels of measures (GPA, means, rates,
        shares, coefficients). Their whole numbers are not counts when the column prints as
        decimals; printed as integers (no decimal point anywhere in it) it holds counts, e.g.
        ``df.groupby(x)[["gpa"]].count()``.""",
    ).tag(config=True)

    attribute_columns = Unicode(
        r"(?:.*_)?(?:year|academic_year|birth_year|grade|grade_level|units(?:_\w+)?|zip3?|"
        r"age|term|\w*_code|\w*_id|id|\w*[a-z]id|rank|min|max|minimum|maximum|first|last|"
        r"mode|range|\d{1,3}%)",
        help="""Regex (full match, any case) of column labels of record attributes and
        single-record statistics (years, grade levels, ids, min/max) whose whole numbers are
        not counts. A label with "year" in it holds counts if its values are not years.""",
    ).tag(config=True)

    count_columns = Unicode(
        r"n|count|counts|\w*_count|count_\w+|counts_\w+|n_\w+|\w+_n|num_\w+|number_\w+|size|"
        r"total|totals|freq|frequency|students|persons|people|headcount|enrolled|enrollments?|"
        r"completers|awards|0|len",
        help="""Regex (full match, any case) of column labels that name counts: in a table of
        rows listed by position (a query's rows, ``reset_index()``) only these columns, or
        every whole-number column of a keyed table, are read as counts.""",
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
        rules = resources[POLICY].for_institutions(resources.get(INSTITUTIONS))
        self.min_count, self.zero_severity = rules.min_count, rules.zeros
        for text in cell_texts(cell):
            if text.output is None and not (cell.cell_type != "code" and text.kind == "source"):
                continue
            if described(resources, text.output) or self.is_model_summary(text.text):
                continue
            body = uncovered(resources, text)
            if not may_hold_small(text.kind, body, self.min_count):
                continue  # no whole number below the threshold where a cell can be
            kind = "markdown" if text.kind == "source" else text.kind
            for table in find_tables(kind, body):
                self.check_table(table, resources, index, text.output, f"the {text.kind}")
        return cell, resources

    @staticmethod
    def is_model_summary(text: str) -> bool:
        return ("Dep" in text or "Regression" in text) and len(MODEL_SUMMARY.findall(text)) >= 2

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
        if severity == "block" and not label.startswith("\x00zero"):
            what = f"{where} has a count below {self.min_count} in column {label[:20]!r}"
            advice = f"suppress or combine categories so every count is {self.min_count} or more."
            fix = "suppress"
        else:
            label = label.removeprefix("\x00zero")
            what = f"{where} has a zero count in column {label[:20]!r}"
            advice = "a zero tells everyone in the other groups apart; combine categories."
            fix = "combine categories"
        self.report(resources, cell, output, severity, f"{what}; {advice}", fix=fix)

    def smallest(self, table, keep) -> tuple[str, str] | None:
        """("block", label) for a small count, (zero_severity, label) for a zero, else None."""
        zero, min_count = None, self.min_count
        for j, label in enumerate(table.labels):
            counts = self.counts(label, table, j, keep)
            if any(0 < n < min_count for n in counts):
                return "block", label
            if 0 in counts and zero is None:
                zero = label
        if zero is None or self.zero_severity == "pass":
            return None
        return self.zero_severity, "\x00zero" + zero

    def count_rows_of_statistics(self, table) -> list[bool] | None:
        """For a table whose rows are all statistics (count, mean, 25%, 0.5...), which rows
        hold counts; None for any other table."""
        rows = table.index
        if rows and all(self.matches("statistic_rows", row) for row in rows):
            return [row.strip().lower() == "count" for row in rows]
        return None

    def below_threshold(self) -> re.Pattern:
        """Lines of whole numbers (as WHOLE_NUMBERS) with fewer digits than ``min_count``:
        every count below it is among them (larger ones too, compared after)."""
        digits = len(str(max(self.min_count - 1, 0)))
        return small_lines(digits)

    def counts(self, label: str, table, j: int, keep=None) -> list[int]:
        """The column's counts below ``min_count`` (zeros included; all that ``smallest``
        compares), or [] when it is not a count column."""
        column = table.column(j)
        if keep is not None:
            column = [cell for cell, kept in zip(column, keep, strict=False) if kept]
        cells = list(filterfalse(MISSING.__contains__, column))
        joined = "\n".join(cells)
        if not cells or not WHOLE_NUMBERS.fullmatch(joined):
            return []
        # only counts below the threshold matter to the caller: found by a regex, not a loop
        counts = [whole(n) for n in self.below_threshold().findall(joined)]
        if not counts:
            return []  # nothing below the threshold: what the column is does not matter
        label = label.strip()
        if self.matches("count_columns", label):
            return counts
        if self.old_value_counts(table):
            return counts
        if table.positional and (not table.keys or j in table.keys):
            return []  # attributes of listed records: ids, quantities, 0/1 dummies
        if self.matches("measure_columns", label):
            integers = table.dtype is not None and table.dtype.startswith(("int", "uint"))
            return counts if integers or not any("." in c for c in cells) else []
        if self.matches("attribute_columns", label):
            if "year" in label.lower() and not all(whole(c) in YEARS for c in cells):
                return counts  # no year is 3 or 12: counts of a year column
            return []
        return counts

    @staticmethod
    def old_value_counts(table) -> bool:
        """``value_counts()`` before pandas 2.0: a Series named after the counted column, its
        unnamed index the column's values, sorted by count (not positions)."""
        integers = table.dtype is not None and table.dtype.startswith(("int", "uint"))
        return integers and table.named is False and not table.positional
