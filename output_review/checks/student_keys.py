"""Pseudonymous keys (``stu_``/``per_``/``emp_`` + 26 Crockford base32) must never leave."""

import json
import re

from traitlets import List, Unicode

from enclave.output_review.checks.base import OutputCheck
from enclave.output_review.texts import cell_texts

KEY_BODY = re.compile(r"_[0-9a-hjkmnp-tv-z]{26}")


def mask(value: str) -> str:
    """Enough of a value to find it again, never the whole of it."""
    return value[:6] + "…"


class StudentKeys(OutputCheck):
    rule = "student-key"

    prefixes = List(
        Unicode(),
        ["stu", "per", "emp"],
        help="Prefixes of the warehouse's pseudonymous keys (followed by ``_`` and 26 characters).",
    ).tag(config=True)

    def pattern(self) -> re.Pattern:
        alternatives = "|".join(map(re.escape, self.prefixes))
        return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives}){KEY_BODY.pattern}")

    def found(self, text: str, resources, cell, output, where: str) -> None:
        if not KEY_BODY.search(text):  # a literal start: rules out most text at memory speed
            return
        match = self.pattern().search(text)
        if match:
            self.report(
                resources,
                cell,
                output,
                "block",
                f"{where} contains a pseudonymous student key ({mask(match.group())}); "
                "remove record-level identifiers and show only aggregates.",
            )

    def preprocess_cell(self, cell, resources, index):
        for text in cell_texts(cell):
            self.found(text.text, resources, index, text.output, f"the {text.kind}")
        return cell, resources

    def check_notebook(self, nb, resources):
        self.found(json.dumps(nb.metadata), resources, None, None, "the notebook metadata")
