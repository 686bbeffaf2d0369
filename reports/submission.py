"""``--submit``: file report runs for output review through the review service's client.

One run is submitted as its own notebook. A batch is submitted as ONE review request: its runs'
notebooks are bundled into one notebook, a section per run headed by its parameters, with every
run's template hash, parameters and run key in ``metadata.enclave.batch``: one queue entry and
one request. The review service re-executes each run of it in a fresh kernel of its own from
its recorded (injected) parameters (``batch_runs``), and the stewards are those whose data the
re-executed runs read.
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
        title = nbformat.v4.new_markdown_cell(f"# Run {i}: {heading}")
        title.id = f"run{i}"  # where the review service's re-execution starts a fresh kernel
        combined.cells.append(title)
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


def batch_runs(nb) -> list[list[int]] | None:
    """The cells of each run of a bundle made by ``bundle`` (its heading ``run<i>``, then its
    cells), in order; None for a notebook that is not a batch. The review service re-executes
    each run in a fresh kernel of its own, as the batch ran them."""
    runs = ((nb.get("metadata") or {}).get("enclave") or {}).get("batch", {}).get("runs")
    if not runs:
        return None
    headings = {f"run{i}" for i in range(1, len(runs) + 1)}
    sections: list[list[int]] = []
    for index, cell in enumerate(nb.cells):
        if cell.get("id") in headings or not sections:
            sections.append([])
        sections[-1].append(index)
    return sections


def submit_runs(template: Template, results: list[RunResult], purpose: str) -> str:
    """Submit and return a one-line confirmation naming the request."""
    from enclave.kernels.submit import submit

    path = results[0].path if len(results) == 1 else bundle(template, results)
    answer = submit(path, purpose=purpose, summary=describe(template, results))
    return f"submitted {path.name} as review request {answer['id']} (gate {answer['verdict']})"
