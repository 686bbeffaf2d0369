"""The release package, built from the frozen copy once every approval is in.

A zip with three files: ``report.html`` (self-contained, rendered by the gate's renderer with
``templates/service/release``, stamped with request id, approvers, time and hash), the
notebook exactly as approved, and ``manifest.json`` (SHA-256 of each file and the gate's
machine-readable record). Nothing else goes in.
"""

import hashlib
import io
import json
import posixpath
import zipfile
from datetime import UTC, datetime

from enclave.output_review.findings import Finding, GateReport

RELEASE_TEMPLATE = "service/release"  # a folder under templates.templates_root()


def gate_report_from_record(record: dict) -> GateReport:
    return GateReport(record["notebook"], [Finding(**f) for f in record["findings"]])


def build_package(
    request, progress, notebook_bytes: bytes, nb, reexecution=None, members=None
) -> bytes:
    """Return the zip bytes for ``request`` (a row) approved by ``progress``: of the
    re-executed notebook when ``reexecution`` (the run's result) is given, screened by the
    gate as re-executed; else of the submitted one, "released without re-execution".
    ``members``: code -> name of the consortium's institutions (for the permitted use)."""
    from enclave.output_review.redact import released_notebook, strip_structures
    from enclave.output_review.render import render_html
    from enclave.review_service.rules import permitted_use

    # the kernel's structured data holds reviewers' evidence (records behind each cell, the
    # largest contributions): it never leaves
    notebook_bytes = released_notebook(notebook_bytes)
    strip_structures(nb)

    built = datetime.now(UTC).replace(microsecond=0)
    gate = reexecution["gate"] if reexecution else json.loads(request.gate_report)
    recipients = json.loads(request.recipients) if request.recipients else []
    stamp = {
        "request_id": request.id,
        "project": request.project,
        "notebook": request.notebook,
        "sha256": request.sha256,
        "approvers": progress.approvers,
        "reviewers": progress.reviewers,
        "stewards": progress.stewards,
        "released": built.isoformat(),
        "purpose": request.purpose,
        "release_use": request.release_use,
        "recipients": recipients,
        "permitted_use": permitted_use(request.release_use, recipients, members or {}),
    }
    report_html = render_html(
        nb, gate_report_from_record(gate), template=RELEASE_TEMPLATE, extra=stamp
    ).encode()
    notebook_name = posixpath.basename(request.notebook)
    files = {"report.html": report_html, notebook_name: notebook_bytes}
    manifest = {
        **stamp,
        "round": request.round,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        "gate": gate,
        "institutions": json.loads(request.institutions),
        "reexecution": reexecution_record(request, reexecution),
    }
    files["manifest.json"] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(f"{request.id}/{name}", date_time=built.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def reexecution_record(request, reexecution) -> dict:
    """The manifest's account of where the released outputs came from."""
    if not reexecution:
        return {"released_without_reexecution": True, "submitted_sha256": request.sha256}
    marks = reexecution.get("marks", {})
    return {
        "submitted_sha256": reexecution["submitted_sha256"],
        "reexecuted_sha256": reexecution["reexecuted_sha256"],
        "marks": {m: list(marks.values()).count(m) for m in sorted(set(marks.values()))},
        "seconds": reexecution["seconds"],
        "institutions_read": reexecution["institutions"],
        "relations_read": reexecution["relations"],
        **reexecution["versions"],
    }
