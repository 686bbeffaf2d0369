"""A real synthetic warehouse, a project context and small test templates for report runs."""

import json
import os
import pwd
import sys

import nbformat
import pytest

from enclave.kernels.install import install
from enclave.warehouse.query_process import QueryProcess
from tests.kernels.enclave_test_warehouse import ALL, build_sqlite, grant


@pytest.fixture(scope="session", autouse=True)
def enclave_kernel_spec():
    """Report runs use the "Enclave (Python)" kernel: install its spec into this venv."""
    install(prefix=sys.prefix)


@pytest.fixture(scope="session")
def project_extract(tmp_path_factory):
    """The read-only extract of project `study` (all five institutions)."""
    db = build_sqlite(tmp_path_factory.mktemp("warehouse"))
    return grant(str(db), "study", ALL)


@pytest.fixture
def session_env(project_extract, tmp_path, monkeypatch):
    """What a hub session sets for `enclave report`: project, warehouse (its own query process,
    recording every statement into ``queries()``), output area."""
    output = tmp_path / "output"
    output.mkdir()
    log = tmp_path / "queries.jsonl"
    process = QueryProcess().start(
        project_extract,
        str(tmp_path / "warehouse.sock"),
        peer=pwd.getpwuid(os.getuid()),
        user="rita",
        project="study",
        log_file=str(log),
    )
    process.wait_ready()
    env = {
        "ENCLAVE_PROJECT": "study",
        "ENCLAVE_WAREHOUSE_URL": process.url,
        "ENCLAVE_OUTPUT_DIR": str(output),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def queries():
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    yield {"output": output, "queries": queries}
    process.stop()


@pytest.fixture
def make_template(tmp_path):
    """Write a template: a `parameters` cell with ``parameters`` and code cells ``cells``."""

    def make(name: str, parameters: str | None, *cells: str):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "enclave-python",
            "display_name": "Enclave (Python)",
            "language": "python",
        }
        nb.cells.append(nbformat.v4.new_markdown_cell(f"# {name}"))
        if parameters is not None:
            cell = nbformat.v4.new_code_cell(parameters)
            cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
        nb.cells.extend(nbformat.v4.new_code_cell(source) for source in cells)
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, path)
        return path

    return make
