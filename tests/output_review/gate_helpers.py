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
