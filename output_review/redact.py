"""A releasable copy: blocked outputs replaced by a visible placeholder naming the rule,
outputs that need review kept and marked (``metadata.enclave_review``)."""

import copy
from collections import defaultdict

from enclave.output_review.findings import GateReport, worst
from enclave.output_review.node import Node as NotebookNode
from enclave.output_review.structured import MIMETYPE

KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")


def placeholder(findings) -> str:
    rules = ", ".join(sorted({f.rule for f in findings if f.severity == "block"}))
    return f"[removed by the output review gate: {rules}]"


def marks(findings) -> list[dict]:
    return [{"rule": f.rule, "severity": f.severity, "message": f.message} for f in findings]


def strip_structures(nb) -> None:
    """Remove the kernel's structured data (records behind cells, largest contributions):
    reviewers' evidence, never part of what leaves."""
    for cell in nb.get("cells", ()):
        for output in cell.get("outputs", ()):
            data = output.get("data")
            if isinstance(data, dict):
                data.pop(MIMETYPE, None)


def released_notebook(data: bytes) -> bytes:
    """The bytes of a notebook as it may leave: without the kernel's structured data. A
    notebook that carries none is returned unchanged, byte for byte."""
    import json

    if MIMETYPE.encode() not in data:
        return data
    nb = json.loads(data)
    strip_structures(nb)
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def redact(nb, report: GateReport):
    """Return a redacted deep copy of ``nb``; the original is left as it was."""
    out = copy.deepcopy(nb)
    strip_structures(out)
    places = defaultdict(list)
    for finding in report.findings:
        places[finding.cell, finding.output].append(finding)
    for (cell_index, output_index), findings in places.items():
        blocked = worst(f.severity for f in findings) == "block"
        if cell_index is None:
            redact_notebook(out, findings, blocked)
        elif output_index is None:
            redact_cell(out.cells[cell_index], findings, blocked)
        else:
            outputs = out.cells[cell_index].outputs
            if blocked:
                text = placeholder(findings)
                outputs[output_index] = NotebookNode(
                    output_type="display_data",
                    data={"text/plain": text, "text/html": f"<p><strong>{text}</strong></p>"},
                    metadata={"enclave_redacted": marks(findings)},
                )
            else:
                outputs[output_index].setdefault("metadata", NotebookNode())
                outputs[output_index].metadata["enclave_review"] = marks(findings)
    return out


def redact_cell(cell, findings, blocked: bool) -> None:
    if not blocked:
        cell.metadata["enclave_review"] = marks(findings)
        return
    text = placeholder(findings)
    cell.source = f"# {text}" if cell.cell_type == "code" else text
    cell.pop("attachments", None)
    cell.metadata = NotebookNode(enclave_redacted=marks(findings))


def redact_notebook(nb, findings, blocked: bool) -> None:
    if blocked:
        kept = {k: nb.metadata[k] for k in KEPT_NOTEBOOK_METADATA if k in nb.metadata}
        nb.metadata = NotebookNode(kept, enclave_redacted=marks(findings))
    else:
        nb.metadata["enclave_review"] = marks(findings)
