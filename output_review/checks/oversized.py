"""Oversized outputs: too long or too many rows for a reviewer to check line by line."""

from traitlets import Int

from enclave.output_review.checks.base import OutputCheck
from enclave.output_review.tables import find_tables, may_exceed_rows
from enclave.output_review.texts import cell_texts


class Oversized(OutputCheck):
    advice = "release a summary instead, or a reviewer must check it all."
    rule = "oversized"

    max_output_chars = Int(
        100_000, min=1, help="Longest representation of one output, in characters, that passes."
    ).tag(config=True)

    max_table_rows = Int(1_000, min=1, help="Most rows a table in an output may have.").tag(
        config=True
    )

    def preprocess_cell(self, cell, resources, index):
        for text in cell_texts(cell):
            if text.output is None:
                continue
            if len(text.text) > self.max_output_chars:
                what = f"the output has {len(text.text):,} characters"
                self.flag(resources, index, text.output, "review", what)
            elif may_exceed_rows(text.text, self.max_table_rows) and any(
                t.rows > self.max_table_rows for t in find_tables(text.kind, text.text)
            ):
                what = f"the output has a table of more than {self.max_table_rows:,} rows"
                self.flag(resources, index, text.output, "review", what)
        return cell, resources
