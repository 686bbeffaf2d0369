"""Helpers for the gate tests: notebooks built in memory, the labelled corpus on disk."""

from pathlib import Path

from nbformat.v4 import new_code_cell, new_notebook, new_output

CORPUS = Path(__file__).parent / "corpus"


def result(data: dict, **metadata):
    return new_output("execute_result", data=data, metadata=metadata, execution_count=1)


def stream(text: str, name="stdout"):
    return new_output("stream", name=name, text=text)


def notebook(*cells):
    """Cells given as NotebookNodes, or (source, [outputs]) pairs for code cells."""
    nb = new_notebook()
    for cell in cells:
        if isinstance(cell, tuple):
            source, outputs = cell
            cell = new_code_cell(source)
            cell.outputs = list(outputs)
        nb.cells.append(cell)
    return nb


def displayed(obj, execution_count=1):
    """What the Enclave kernel shows for ``obj``: its text, HTML and structured form (built
    by the kernel's own code, so the provenance recorded when ``obj`` was computed is in it)."""
    from enclave.kernels.structured import digest, payload
    from enclave.output_review.structured import MIMETYPE

    data = {"text/plain": repr(obj)}
    html = getattr(obj, "_repr_html_", None)
    if html is not None and html():
        data["text/html"] = html()
    structure = payload(obj)
    if structure is not None:
        structure["digest"] = {mime: digest(text) for mime, text in data.items()}
        data[MIMETYPE] = structure
    out = new_output("execute_result", data=data, metadata={}, execution_count=execution_count)
    return out


def executed(*outputs, source="x"):
    """A one-cell notebook whose cell was run (so its structured data can be trusted)."""
    nb = notebook((source, list(outputs)))
    nb.cells[0].execution_count = 1
    return nb
