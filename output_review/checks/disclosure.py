"""Exact disclosure checks where the kernel recorded how each cell was made (ACRO's rules and
more): counts and the records behind every statistic against the threshold, N-K and p%
dominance, residual degrees of freedom, single-record statistics, proportions over small
numerators or denominators, zeros and extreme proportions. The rule values come from the
policy of the institutions whose data the output used (``policy.py``).

Model summaries printed as text (``print(results.summary())``) carry no structure: their
residual degrees of freedom are read from the text.
"""

import re

from enclave.output_review.checks.base import (
    INSTITUTIONS,
    POLICY,
    PRINTED,
    STRUCTURES,
    OutputCheck,
)
from enclave.output_review.texts import cell_texts

COUNTS = ("count",)
MAGNITUDES = ("sum", "mean", "prod")
SPREADS = ("std", "var", "sem")
ORDER_STATISTICS = ("min", "max", "median", "quantile", "first", "last", "mode")
# statsmodels' summary in text, HTML and LaTeX; linearmodels' "Residual DoF" alike
RESIDUAL_DOF = re.compile(
    r"(?:Df Residuals|Residual DoF|Df\.? Resid(?:uals)?)\s*:?\s*(?:</th>\s*<td>|}?\s*&)?\s*(\d+)",
    re.I,
)


def whole(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == int(value)


class Problems:
    """The first offending cell and how many cells break each rule, for one output."""

    def __init__(self, structure):
        self.structure = structure
        self.found = {}  # (rule, severity) -> [first cell, count, what, fix]

    def add(self, rule, severity, cell, what, fix):
        entry = self.found.setdefault((rule, severity), [cell, 0, what, fix])
        entry[1] += 1

    def where(self, cell) -> str:
        s = self.structure
        parts = []
        if s.row_labels and cell.row < len(s.row_labels) and s.row_label(cell.row):
            parts.append(f"row {s.row_label(cell.row)[:20]!r}")
        if s.column_label(cell.column):
            parts.append(f"column {s.column_label(cell.column)[:20]!r}")
        return " ".join(parts) or "a cell"


class StatisticalDisclosure(OutputCheck):
    rule = "small-counts"

    def preprocess_cell(self, cell, resources, index):
        structures = resources.get(STRUCTURES, {})
        for number, structure in structures.items():
            self.check_structure(structure, resources, index, number)
        for number, printed in resources.get(PRINTED, {}).items():
            for structure in printed:  # reported on the stream it was printed to
                self.check_structure(structure, resources, index, number)
        for text in cell_texts(cell):
            if text.output is None or text.output in structures:
                continue
            self.check_model_text(text, resources, index)
        return cell, resources

    def rules_for(self, resources, institutions):
        return resources[POLICY].for_institutions(institutions or resources.get(INSTITUTIONS))

    # -- structured outputs --------------------------------------------------------------------

    def check_structure(self, structure, resources, cell_index, output) -> None:
        rules = self.rules_for(resources, structure.institutions)
        if structure.model is not None:
            dof = structure.model["df_resid"]
            if dof < rules.min_dof:
                self.report(
                    resources,
                    cell_index,
                    output,
                    "block",
                    f"the model has {dof:g} residual degrees of freedom, fewer than "
                    f"{rules.min_dof}; fit it on more records or with fewer parameters.",
                    rule="residual-dof",
                )
        problems = Problems(structure)
        enough = max(rules.min_count, 1)
        for cell in structure.cells():
            records = cell.records
            common = cell.statistic == "count" and not cell.derived and records is not None
            if common and records >= enough:  # a count of enough records: no call needed
                continue
            self.check_cell(cell, rules, problems)
        for (rule, severity), (cell, count, what, fix) in problems.found.items():
            others = f" (and {count - 1} more cell{'s' * (count > 2)})" if count > 1 else ""
            self.report(
                resources,
                cell_index,
                output,
                severity,
                f"{problems.where(cell)}{others}: {what}",
                rule=rule,
                fix=fix,
            )

    def check_cell(self, cell, rules, problems) -> None:
        stat = cell.statistic
        if stat is None or stat in ("key", "distinct") or cell.value is None:
            return  # unknown, a label, or hidden (the suppression check looks at hidden cells)
        records = cell.records
        if stat in COUNTS:
            counts = {records} if records is not None else set()
            if whole(cell.value) and (records is None or cell.derived):
                counts.add(int(cell.value))
            self.check_count(cell, counts, rules, problems)
        elif stat == "proportion":
            self.check_proportion(cell, rules, problems)
        elif stat in MAGNITUDES:
            if not self.enough_records(cell, rules, problems, stat):
                return
            self.check_dominance(cell, rules, problems)
        elif stat in SPREADS:
            if records is not None and records - 1 < rules.min_dof:
                problems.add(
                    "residual-dof",
                    "block",
                    cell,
                    f"a {stat} over {records} records has fewer than {rules.min_dof} degrees "
                    f"of freedom; combine categories so it rests on {rules.min_dof + 1} or more.",
                    "combine categories",
                )
        elif stat in ORDER_STATISTICS:
            if not self.enough_records(cell, rules, problems, stat):
                return
            if rules.single_record != "pass":
                problems.add(
                    "single-record",
                    rules.single_record,
                    cell,
                    f"a {stat} is one record's value; a reviewer must confirm it discloses no "
                    "one, or show a mean or a rounded range instead.",
                    "",
                )

    def check_count(self, cell, counts, rules, problems) -> None:
        if any(0 < n < rules.min_count for n in counts):
            problems.add(
                "small-counts",
                "block",
                cell,
                f"a count below {rules.min_count}; suppress it or combine categories so every "
                f"count is {rules.min_count} or more.",
                "suppress",
            )
        elif 0 in counts and rules.zeros != "pass":
            problems.add(
                "small-counts",
                rules.zeros,
                cell,
                "a zero count, which tells everyone in the other groups apart (class "
                "disclosure); suppress it or combine categories.",
                "combine categories",
            )

    def enough_records(self, cell, rules, problems, stat) -> bool:
        if cell.records is None or cell.records >= rules.min_count:
            return True
        problems.add(
            "small-counts",
            "block",
            cell,
            f"a {stat} of fewer than {rules.min_count} records; suppress it or combine categories.",
            "suppress",
        )
        return False

    def check_dominance(self, cell, rules, problems) -> None:
        if cell.top is None or cell.total is None:
            return
        if cell.negative:
            problems.add(
                "dominance",
                "review",
                cell,
                "a sum or mean with negative contributions, where dominance is undefined; a "
                "reviewer must check that no one record dominates it.",
                "",
            )
            return
        top1, top2 = cell.top
        total = cell.total
        largest = top1 + (top2 if rules.nk_n >= 2 else 0.0)
        if total > 0 and largest / total >= rules.nk_k:
            problems.add(
                "dominance",
                "block",
                cell,
                f"its {rules.nk_n} largest contributions make up {rules.nk_k:.0%} or more of "
                "it (N-K rule); suppress it or combine categories.",
                "suppress",
            )
        elif top1 > 0 and (total - top1 - top2) / top1 < rules.p_ratio:
            problems.add(
                "dominance",
                "block",
                cell,
                f"the rest of it is less than {rules.p_ratio:.0%} of its largest contribution "
                "(p% rule); suppress it or combine categories.",
                "suppress",
            )

    def check_proportion(self, cell, rules, problems) -> None:
        numerator, denominator = cell.records, cell.denominator
        if denominator is not None and denominator < rules.min_count:
            problems.add(
                "small-denominator",
                "block",
                cell,
                f"a proportion of a group of fewer than {rules.min_count} records; combine "
                "categories so every group has "
                f"{rules.min_count} or more.",
                "combine categories",
            )
            return
        if numerator is None or denominator is None or denominator == 0:
            return
        counts = {numerator, denominator - numerator}  # those with and without the attribute
        if any(0 < n < rules.min_count for n in counts):
            problems.add(
                "small-counts",
                "block",
                cell,
                f"a proportion that rests on fewer than {rules.min_count} records (or leaves "
                "fewer outside it); suppress it or combine categories.",
                "suppress",
            )
        elif 0 in counts and rules.zeros != "pass":
            problems.add(
                "small-counts",
                rules.zeros,
                cell,
                "a proportion of 0% or 100%, which tells everyone in the group apart; "
                "suppress it or combine categories.",
                "combine categories",
            )
        elif rules.extreme_share:
            share = numerator / denominator
            if share < rules.extreme_share or share > 1 - rules.extreme_share:
                low = f"{rules.extreme_share:.0%}"
                high = f"{1 - rules.extreme_share:.0%}"
                problems.add(
                    "extreme-share",
                    "block",
                    cell,
                    f"a proportion below {low} or above {high}, which the policy of an "
                    f'institution whose data it uses forbids; report it as "<{low}" or '
                    f'">{high}".',
                    "round",
                )

    # -- model summaries shown as text ---------------------------------------------------------

    def check_model_text(self, text, resources, cell_index) -> None:
        if "resid" not in text.lower:
            return
        match = RESIDUAL_DOF.search(text.text)
        if not match:
            return
        rules = self.rules_for(resources, None)
        dof = int(match[1])
        if dof < rules.min_dof:
            self.report(
                resources,
                cell_index,
                text.output,
                "block",
                f"the {text.kind} shows a model with {dof} residual degrees of freedom, "
                f"fewer than {rules.min_dof}; fit it on more records or with fewer parameters.",
                rule="residual-dof",
            )
