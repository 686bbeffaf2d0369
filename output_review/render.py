"""The reviewer's view: an nbconvert HTML export (template ``templates/review``) that shows
each finding beside its output. Self-contained: inline CSS, no script, sanitized outputs."""

import copy
import warnings

from nbconvert import HTMLExporter

from enclave.output_review.findings import GateReport
from enclave.output_review.redact import marks
from enclave.templates import templates_root


def annotate(nb, report: GateReport):
    """A copy of ``nb`` whose cells and outputs carry their findings for the template."""
    out = copy.deepcopy(nb)
    for cell_index, cell in enumerate(out.cells):
        if found := report.for_output(cell_index, None):
            cell.metadata["enclave_findings"] = marks(found)
        for output_index, output in enumerate(cell.get("outputs", ())):
            if found := report.for_output(cell_index, output_index):
                output.setdefault("metadata", {})["enclave_findings"] = marks(found)
    return out


def render_html(nb, report: GateReport, template: str = "review", extra=None) -> str:
    """HTML of ``nb`` with ``report``'s findings; ``extra`` (a dict) reaches the template as
    ``resources.enclave.extra`` (the release package stamps request id, approvers, hash)."""
    exporter = HTMLExporter(
        template_name=template,
        extra_template_basedirs=[str(templates_root())],
        sanitize_html=True,
        embed_images=True,
        exclude_anchor_links=True,
    )
    severities = [f.severity for f in report.findings]
    resources = {
        "enclave": {
            "notebook": report.notebook,
            "verdict": report.verdict,
            "counts": {s: severities.count(s) for s in ("block", "review")},
            "notebook_findings": marks(report.for_output(None, None)),
            "extra": dict(extra or {}),
        }
    }
    with warnings.catch_warnings():
        # an output nbconvert cannot show already has an opaque-output finding beside it
        warnings.filterwarnings("ignore", "Your element with mimetype", UserWarning)
        body, _ = exporter.from_notebook_node(annotate(nb, report), resources=resources)
    return body
