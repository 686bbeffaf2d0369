"""Outputs the gate cannot read as tables or text: JSON, JavaScript, widgets, scripts and any
mimetype it does not know. Deny by default: unknown means a person must look."""

import re

from traitlets import List, Unicode

from enclave.output_review.checks.base import OutputCheck
from enclave.output_review.structured import MIMETYPE
from enclave.output_review.texts import cell_texts

SCRIPT = re.compile(r"<script\b|javascript:|\son[a-z]+\s*=")


def has_script(html: str, low: str | None = None) -> bool:
    """``low``: the text in lower case, when the caller has it."""
    low = html.lower() if low is None else low
    return ("script" in low or " on" in low) and bool(SCRIPT.search(low))


class OpaqueOutputs(OutputCheck):
    rule = "opaque-output"
    advice = (
        "it cannot be screened automatically: a reviewer must inspect it, or show the result "
        "as a table or text instead."
    )

    known_mimetypes = List(
        Unicode(),
        [
            "text/plain",
            "text/html",
            "text/markdown",
            "text/latex",
            "image/png",
            "image/jpeg",
            "image/svg+xml",
            "image/gif",
            MIMETYPE,  # the kernel's structured data: read (or distrusted) by the gate itself
        ],
        help="Mimetypes the gate reads; every other one (JSON, JavaScript, widgets) is reviewed.",
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        texts = {}  # output -> its texts, whose lower case other checks share
        for text in cell_texts(cell):
            texts.setdefault(text.output, []).append(text)
        for number, output in enumerate(cell.get("outputs", ())):
            data = output.get("data", {})
            unknown = [m for m in data if m not in self.known_mimetypes]
            if unknown:
                self.flag(
                    resources, index, number, "review", f"an output of type {unknown[0][:60]}"
                )
            # any text a frontend may render (HTML, markdown, SVG...) can carry a script
            scripted = [
                text.kind
                for text in texts.get(number, ())
                if text.kind.startswith(("text/", "image/svg"))
                and isinstance(data.get(text.kind), str)
                and has_script(text.text, text.lower)
            ]
            if scripted:
                self.flag(resources, index, number, "review", f"{scripted[0][:60]} with a script")
        if cell.cell_type == "markdown" and has_script(cell.source):
            self.flag(resources, index, None, "review", "markdown with a script")
        return cell, resources

    def check_notebook(self, nb, resources):
        if "widgets" in nb.metadata:
            self.flag(resources, None, None, "review", "saved widget state")
