"""Helpers for the output review tests: notebooks built in memory, the corpus on disk."""

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

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


@pytest.fixture
def write_nb(tmp_path):
    def write(nb, name="nb.ipynb"):
        path = tmp_path / name
        nbformat.write(nb, path)
        return path

    return write


__all__ = ["CORPUS", "new_markdown_cell", "notebook", "result", "stream"]
