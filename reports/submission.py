"""``--submit``: file report runs for output review through the review service's client.

One run is submitted as its own notebook. A batch is submitted as ONE review request: its runs'
notebooks are bundled into one notebook, a section per run headed by its parameters, with every
run's template hash, parameters and run key in ``metadata.enclave.batch``. The service finds no
query lineage under the bundle's name, so every institution approved for the project must sign
off: conservative by design.
"""

import hashlib
import os
from pathlib import Path

import nbformat

from enclave.reports.runner import RunResult, canonical
from enclave.reports.template import Template


def describe(template: Template, results: list[RunResult]) -> str:
    """What reviewers are told about the run(s): template, its code hash, the parameters."""
    lines = [f"Report template {template.name} (sha256 {template.sha256})."]
    lines += [f"Run {i}: parameters {canonical(r.parameters)}" for i, r in enumerate(results, 1)]
    return "\n".join(lines)


def bundle(template: Template, results: list[RunResult]) -> Path:
    """One notebook holding every run of a batch, beside the runs in the output area."""
    runs = [nbformat.read(str(r.path), as_version=4) for r in results]
    combined = nbformat.v4.new_notebook(metadata={"kernelspec": runs[0].metadata.kernelspec})
    entries = []
    for i, (result, nb) in enumerate(zip(results, runs, strict=True), 1):
        report = nb.metadata.enclave.report
        entries.append({"file": result.path.name, **report})
        heading = ", ".join(f"{k} = {v!r}" for k, v in result.parameters.items())
        combined.cells.append(nbformat.v4.new_markdown_cell(f"# Run {i}: {heading}"))
        for cell in nb.cells:
            cell = nbformat.from_dict(cell)
            cell.id = f"run{i}-{cell.get('id', len(combined.cells))}"[:64]
            combined.cells.append(cell)
    combined.metadata["enclave"] = {
        "batch": {"template": template.name, "template_sha256": template.sha256, "runs": entries}
    }
    keys = "\n".join(e["run_key"] for e in entries)
    digest = hashlib.sha256(keys.encode()).hexdigest()[:10]
    path = results[0].path.parent / f"{template.name}__batch-of-{len(results)}__{digest}.ipynb"
    partial = path.with_name(f".{path.name}.partial")
    nbformat.write(combined, str(partial))
    os.replace(partial, path)
    return path


def submit_runs(template: Template, results: list[RunResult], purpose: str) -> str:
    """Submit and return a one-line confirmation naming the request."""
    from enclave.kernels.submit import submit

    path = results[0].path if len(results) == 1 else bundle(template, results)
    answer = submit(path, purpose=purpose, summary=describe(template, results))
    return f"submitted {path.name} as review request {answer['id']} (gate {answer['verdict']})"
