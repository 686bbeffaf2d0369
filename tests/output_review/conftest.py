"""Fixtures for the gate tests (helpers live in ``gate_helpers.py``)."""

import nbformat
import pytest

from enclave.kernels import provenance


@pytest.fixture
def write_nb(tmp_path):
    def write(nb, name="nb.ipynb"):
        path = tmp_path / name
        nbformat.write(nb, path)
        return path

    return write


@pytest.fixture
def kernel_capture():
    """The Enclave kernel's instrumentation of pandas/numpy/statsmodels, in this process."""
    provenance.install()
    try:
        yield provenance.TRACKER
    finally:
        provenance.uninstall()
        provenance.TRACKER.institutions.clear()
