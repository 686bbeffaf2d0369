"""Real report runs: papermill and the enclave kernel against the synthetic warehouse, the gate,
the output area, and batches that redo only what failed or changed."""

import hashlib
import json

import nbformat
import pytest

from enclave.cli import main
from enclave.reports.template import bundled_templates
from tests.kernels.enclave_test_warehouse import build_sqlite, grant, load
from tests.reports.report_test_helpers import filed


@pytest.mark.parametrize("name", ["pipeline", "course_success", "time_to_degree"])
def test_default_run_of_each_template_passes_the_gate(capsys, session_env, name):
    assert main(["report", "run", name]) == 0
    assert "gate: pass" in capsys.readouterr().out
    (path,) = filed(session_env["output"])
    assert path.parent == session_env["output"] / "reports" / name
    nb = nbformat.read(path, as_version=4)
    report = nb.metadata.enclave.report
    source = bundled_templates()[name]
    assert report.template == name
    assert report.template_sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert report.project == "study"
    assert report.gate.verdict == "pass"
    assert dict(nb.metadata.papermill.parameters) == dict(report.parameters)
    assert set(report.parameters) == set(
        json.loads(json.dumps(report.parameters))
    )  # plain JSON values
    assert nb.metadata.papermill.output_path == str(path)
    queries = session_env["queries"]()
    assert queries and all(q["project"] == "study" and q["institutions"] for q in queries)
    # the template's own table output made it into the notebook
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_parameters_are_typed_and_recorded(capsys, session_env):
    argv = [
        "report",
        "run",
        "pipeline",
        "-p",
        "district",
        "K12-001",
        "-p",
        "by_district",
        "no",
        "-p",
        "first_cohort",
        "2014",
    ]
    assert main(argv) == 0
    (path,) = filed(session_env["output"])
    assert "district=K12-001" in path.name
    parameters = nbformat.read(path, as_version=4).metadata.papermill.parameters
    assert parameters["by_district"] is False and parameters["first_cohort"] == 2014
    (query,) = session_env["queries"]()
    assert query["institutions"] == ["CC-101", "CC-102", "K12-001", "K12-002", "UNI-201"]


def test_a_report_runs_on_a_postgres_project_role(
    capsys, session_env, pg_url, tmp_path, monkeypatch
):
    build_sqlite(tmp_path)  # the extracts, loaded once more into PostgreSQL
    load(tmp_path, pg_url)
    monkeypatch.setenv("ENCLAVE_WAREHOUSE_URL", grant(pg_url, "study", "CC-101"))
    assert main(["report", "run", "course_success", "-p", "group_by", "ethnicity"]) == 0
    (path,) = filed(session_env["output"])
    assert nbformat.read(path, as_version=4).metadata.enclave.report.gate.verdict == "pass"
    assert session_env["queries"]() == []  # (recorded by the server: pgAudit, tests/hub)


def test_a_kernel_that_dies_mid_run_files_nothing(capsys, session_env, make_template):
    template = make_template(
        "dies",
        "n: int = 1",
        "x = n + 1",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "print('never')",
    )
    assert main(["report", "run", str(template)]) == 3
    err = capsys.readouterr().err
    assert "report failed in cell 3" in err and "nothing was filed" in err
    assert filed(session_env["output"]) == []
    assert list((session_env["output"] / ".report-runs").iterdir()) == []


@pytest.mark.parametrize("where", ["option", "config"])
def test_a_hanging_cell_times_out_and_files_nothing(
    capsys, session_env, make_template, tmp_path, where
):
    template = make_template("hangs", "n: int = 1", "import time\ntime.sleep(60)")
    config = tmp_path / "enclave_config.py"
    config.write_text("c.ReportRunner.cell_timeout = 2\n")
    timeout = ["--cell-timeout", "2"] if where == "option" else ["--config", str(config)]
    assert main(["report", "run", str(template), *timeout]) == 3
    err = capsys.readouterr().err
    assert "report failed in cell 2" in err and "Timeout" in err
    assert filed(session_env["output"]) == []


def test_a_failed_run_names_the_error_never_its_message(capsys, session_env, make_template):
    """An exception's message may quote data values: only its name and the cell are printed."""
    template = make_template(
        "quotes",
        "n: int = 1",
        "key = warehouse.query('SELECT student_key FROM students LIMIT 1').student_key[0]\n"
        "raise ValueError(f'unexpected key {key}')",
    )
    assert main(["report", "run", str(template)]) == 3
    err = capsys.readouterr().err
    assert "report failed in cell 2: ValueError; nothing was filed" in err
    assert "stu_" not in err and "unexpected key" not in err


def test_batch_runs_the_grid_and_reruns_only_failures(capsys, session_env, make_template, tmp_path):
    template = make_template(
        "grid",
        "x: int = 1",
        "import pandas as pd\nif x == 3:\n    raise ValueError('x may not be 3')",
        "pd.DataFrame({'n': [3 if x == 2 else 30, 25]}, index=['a', 'b'])",
    )
    grid = tmp_path / "grid.yaml"
    grid.write_text("x: [1, 2, 3]\n")
    argv = ["report", "batch", str(template), "--grid", str(grid), "--workers", "2"]
    assert main(argv) == 3
    out = capsys.readouterr().out
    rows = {line.split()[1]: line.split()[2:] for line in out.splitlines()[1:4]}
    assert rows["x=1"] == ["ok", "pass"]
    assert rows["x=2"] == ["ok", "block"]  # small count: filed, but the gate blocks it
    assert rows["x=3"] == ["failed", "2", "ValueError"] and "may not be" not in out
    assert "3 runs: 2 ran, 0 already current, 1 failed" in out
    first = {p: p.stat().st_mtime_ns for p in filed(session_env["output"])}
    assert len(first) == 2

    assert main(argv) == 3  # again: the two good runs are kept, the failed one runs again
    out = capsys.readouterr().out
    assert "3 runs: 0 ran, 2 already current, 1 failed" in out
    assert {p: p.stat().st_mtime_ns for p in filed(session_env["output"])} == first
