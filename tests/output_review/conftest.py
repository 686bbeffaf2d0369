"""Fixtures for the gate tests (helpers live in ``gate_helpers.py``)."""

import nbformat
import pytest


@pytest.fixture
def write_nb(tmp_path):
    def write(nb, name="nb.ipynb"):
        path = tmp_path / name
        nbformat.write(nb, path)
        return path

    return write
