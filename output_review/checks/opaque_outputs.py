"""Outputs the gate cannot read as tables or text: JSON, JavaScript, widgets, scripts and any
mimetype it does not know. Deny by default: unknown means a person must look."""

import re

from traitlets import List, Unicode

from enclave.output_review.checks.base import OutputCheck
from enclave.output_review.structured import MIMETYPE

SCRIPT = re.compile(r"<script\b|javascript:|\son[a-z]+\s*=")


def has_script(html: str) -> bool:
    low = html.lower()
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
        for number, output in enumerate(cell.get("outputs", ())):
            data = output.get("data", {})
            unknown = [m for m in data if m not in self.known_mimetypes]
            if unknown:
                self.flag(
                    resources, index, number, "review", f"an output of type {unknown[0][:60]}"
                )
            # any text a frontend may render (HTML, markdown, SVG...) can carry a script
            scripted = [
                mime
                for mime, value in data.items()
                if mime.startswith(("text/", "image/svg"))
                and isinstance(value, str)
                and has_script(value)
            ]
            if scripted:
                self.flag(resources, index, number, "review", f"{scripted[0][:60]} with a script")
        if cell.cell_type == "markdown" and has_script(cell.source):
            self.flag(resources, index, None, "review", "markdown with a script")
        return cell, resources

    def check_notebook(self, nb, resources):
        if "widgets" in nb.metadata:
            self.flag(resources, None, None, "review", "saved widget state")
