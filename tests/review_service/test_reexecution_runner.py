"""The runner: a clean copy of a notebook run in a sandboxed Enclave kernel, as the
re-executions' own account, reading the extract only through a query process of its own;
failures named by cell and error class, never by the error's message."""

import asyncio
import os
import pwd
import shutil
import tempfile

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from traitlets.config import Config

from enclave.review_service.reexecution import Reexecution, Runner, clean_copy
from enclave.warehouse.query_process import QueryProcess
from tests.kernels.enclave_test_warehouse import build_sqlite, grant


@pytest.fixture
def runs_dir():
    """A runs directory whose sockets fit a Unix socket's 108 bytes (pytest's paths are long)."""
    path = tempfile.mkdtemp(prefix="rx-", dir="/tmp")  # noqa: S108
    yield path
    shutil.rmtree(path, ignore_errors=True)


pytestmark = pytest.mark.e2e  # real kernels in real sandboxes, as root
SECRET_VALUE = "7310-unique-value"


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    root = tmp_path_factory.mktemp("warehouse")
    return grant(str(build_sqlite(root)), "cconly", "CC-101")


def run(extract, runs_dir, *sources, **settings):
    config = Config()
    config.Reexecution.session_venv = os.environ.get("ENCLAVE_SESSION_VENV", "/opt/enclave/venv")
    config.Reexecution.runs_dir = runs_dir
    config.QueryProcess.python = f"{config.Reexecution.session_venv}/bin/python"
    for key, value in settings.items():
        setattr(config.Reexecution, key, value)
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    seen = []
    runner = Runner(Reexecution(config=config), QueryProcess(config=config))
    result = asyncio.run(
        runner.run(
            nb,
            run_id="r-0123456789-1",
            extract=extract,
            project="cconly",
            user="rita",
            progress=lambda done, total: seen.append((done, total)),
        )
    )
    return result, seen


def test_a_clean_run_as_its_own_account_with_its_own_lineage(extract, runs_dir):
    result, seen = run(
        extract,
        runs_dir,
        "df = warehouse.query('SELECT term, COUNT(*) AS n FROM cc_enrollments GROUP BY term')\n"
        "len(df) > 0",
        "import os, pathlib\n"
        "print(os.getuid(), sorted(p.name for p in pathlib.Path('.').iterdir()))",
        "import pathlib, sys\nk = pathlib.Path(sys.argv[sys.argv.index('-f') + 1]).parent\n"
        "try:\n    (k / 'swapped').symlink_to('/run')\nexcept OSError as e:\n"
        "    print('kernel dir locked', type(e).__name__)",
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
        "except OSError as e:\n    print('no network', type(e).__name__)",
        f"print(pathlib.Path('{extract}').exists())",
    )
    assert result.failure is None
    cells = result.notebook.cells
    assert cells[0].outputs[0]["data"]["text/plain"] == "True"
    uid, listing = cells[1].outputs[0]["text"].split(" ", 1)
    assert int(uid) == pwd.getpwnam("enclave-rerun").pw_uid != os.getuid()
    assert listing.strip() == "[]"  # an empty home: nothing of the researcher's
    assert cells[2].outputs[0]["text"] == "kernel dir locked PermissionError\n"
    assert cells[3].outputs[0]["text"].startswith("no network")
    assert cells[4].outputs[0]["text"] == "False\n"  # the extract is not in the sandbox
    assert result.institutions == ["CC-101"]
    assert result.relations == ["warehouse.cc_enrollments"]
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    assert os.listdir(runs_dir) == []  # nothing left


def test_a_raising_cell_is_named_with_its_error_class_only(extract, runs_dir):
    result, _ = run(
        extract, runs_dir, "x = 1", f"raise KeyError('{SECRET_VALUE}')", "print('never')"
    )
    failure = result.failure.to_dict()
    assert failure["kind"] == "error" and failure["error"] == "KeyError"
    assert failure["place"] == "cell 2 [2]"
    assert SECRET_VALUE not in str(failure)
    assert result.notebook.cells[2].outputs == []


def test_memory_and_time_limits(extract, runs_dir):
    memory, _ = run(extract, runs_dir, "x = bytearray(3 * 1024**3)", memory_limit=1024**3)
    assert memory.failure.kind == "memory" and memory.failure.place == "cell 1 [1]"
    slow, _ = run(extract, runs_dir, "1", "import time\ntime.sleep(30)", cell_timeout=2.0)
    assert slow.failure.kind == "cell-timeout" and slow.failure.cell == 1
    long, _ = run(extract, runs_dir, "import time", "time.sleep(30)", total_timeout=6.0)
    assert long.failure.kind == "too-long"


def test_a_missing_extract_is_the_services_failure_not_the_researchers(tmp_path, runs_dir):
    result, _ = run(str(tmp_path / "gone.sqlite"), runs_dir, "1")
    assert result.failure.kind == "unavailable"


def test_the_clean_copy_holds_inputs_only():
    nb = new_notebook(
        cells=[new_code_cell("print(1)"), new_markdown_cell("# notes")],
        metadata={"widgets": {"state": {}}, "kernelspec": {"name": "python3", "display_name": "P"}},
    )
    nb.cells[0].outputs = [new_output("stream", name="stdout", text="edited by hand\n")]
    nb.cells[0].execution_count = 7
    nb.cells[0].metadata["execution"] = {"iopub.status.idle": "2026-12-01"}
    clean = clean_copy(nb)
    assert clean.cells[0].outputs == [] and clean.cells[0].execution_count is None
    assert "execution" not in clean.cells[0].metadata and "widgets" not in clean.metadata
    assert clean.metadata.kernelspec.name == "enclave-python"
    assert clean.cells[1].source == "# notes"
    assert nb.cells[0].outputs  # the frozen notebook itself is untouched
    nbformat.validate(clean)


def batch(*runs):
    """A report batch as ``reports.submission.bundle`` makes it: per run a heading ``run<i>``,
    its injected parameters, its cells."""
    nb = new_notebook(metadata={"enclave": {"batch": {"template": "t", "runs": list(runs)}}})
    for i, (parameters, *sources) in enumerate(runs, 1):
        heading = new_markdown_cell(f"# Run {i}: {parameters}")
        heading.id = f"run{i}"
        nb.cells.append(heading)
        injected = new_code_cell(parameters, metadata={"tags": ["injected-parameters"]})
        for n, cell in enumerate([injected, *map(new_code_cell, sources)]):
            cell.id = f"run{i}-{n}"
            nb.cells.append(cell)
    return nb


def run_notebook(extract, runs_dir, nb):
    config = Config()
    config.Reexecution.session_venv = os.environ.get("ENCLAVE_SESSION_VENV", "/opt/enclave/venv")
    config.Reexecution.runs_dir = runs_dir
    config.QueryProcess.python = f"{config.Reexecution.session_venv}/bin/python"
    runner = Runner(Reexecution(config=config), QueryProcess(config=config))
    return asyncio.run(
        runner.run(nb, run_id="r-batch-1", extract=extract, project="cconly", user="rita")
    )


def test_each_run_of_a_report_batch_runs_with_its_parameters_in_a_fresh_kernel(extract, runs_dir):
    nb = batch(
        ("n = 3", "left_over = 'from run 1'\nprint('run 1', n)"),
        ("n = 5", "print('run 2', n, 'left_over' in dir())"),
    )
    result = run_notebook(extract, runs_dir, nb)
    assert result.failure is None
    printed = [c.outputs[0]["text"] for c in result.notebook.cells if c.get("outputs")]
    assert printed == ["run 1 3\n", "run 2 5 False\n"]


def test_a_failing_run_of_a_batch_is_placed_in_the_bundle(extract, runs_dir):
    nb = batch(("n = 3", "print(n)"), ("n = 5", "print(1 / (n - 5))"))
    result = run_notebook(extract, runs_dir, nb)
    assert result.failure.kind == "error" and result.failure.error == "ZeroDivisionError"
    assert result.failure.cell == 5 and result.failure.place == "cell 6 [2]"
