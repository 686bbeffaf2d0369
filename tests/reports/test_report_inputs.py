"""Bad input to `enclave report` is refused with one clear line before any kernel starts, and
nothing is written; the pieces that keep a run inside the enclave."""

import json
import os
import zipfile

import pytest

from enclave.cli import main
from enclave.reports.kernel import IpcKernelManager
from enclave.reports.papermill_local import papermill  # noqa: F401  (trims papermill's I/O registry)
from enclave.reports.parameters import parse_parameters_cell
from enclave.reports.runner import current_run, run_key
from enclave.reports.template import load_template
from tests.reports.report_test_helpers import filed


def refused(capsys, argv):
    assert main(argv) == 2  # bad input: nothing ran
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


PARAMS = "cohort: int = 2019  # first cohort\nlabel = 'all'\nshare: float = 0.5\nwide: bool = False"


def test_unknown_parameter_is_refused(capsys, session_env, make_template):
    template = make_template("t", PARAMS, "print(cohort)")
    err = refused(capsys, ["report", "run", str(template), "-p", "cohrt", "2020"])
    assert "unknown parameter 'cohrt'" in err and "did you mean 'cohort'" in err
    assert filed(session_env["output"]) == []


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("cohort", "2019.5", "expected int"),
        ("share", "half", "expected float"),
        ("wide", "maybe", "expected true or false"),
    ],
)
def test_wrong_type_is_refused(capsys, session_env, make_template, name, value, expected):
    template = make_template("t", PARAMS, "print(cohort)")
    err = refused(capsys, ["report", "run", str(template), "-p", name, value])
    assert expected in err and repr(name) in err
    assert filed(session_env["output"]) == []


def test_parameter_given_twice_is_refused(capsys, session_env, make_template):
    template = make_template("t", PARAMS, "print(cohort)")
    err = refused(
        capsys, ["report", "run", str(template), "-p", "cohort", "1", "-p", "cohort", "2"]
    )
    assert "given twice" in err


def test_template_without_parameters_cell_is_refused(capsys, session_env, make_template):
    template = make_template("t", None, "print(1)")
    err = refused(capsys, ["report", "run", str(template)])
    assert "no cell tagged 'parameters'" in err


def test_text_file_is_not_a_template(capsys, session_env, tmp_path):
    fake = tmp_path / "report.ipynb"
    fake.write_text("cohort = 2019\n")
    err = refused(capsys, ["report", "run", str(fake)])
    assert "not a Jupyter notebook" in err


def test_zip_file_is_not_a_template(capsys, session_env, tmp_path):
    fake = tmp_path / "report.ipynb"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("a.txt", "x" * 100)
    err = refused(capsys, ["report", "run", str(fake)])
    assert "not a Jupyter notebook" in err


def test_remote_template_is_refused(capsys, session_env):
    err = refused(capsys, ["report", "run", "https://example.org/report.ipynb"])
    assert "must be local files" in err


def test_grid_that_is_not_yaml_is_refused(capsys, session_env, make_template, tmp_path):
    template = make_template("t", PARAMS, "print(cohort)")
    grid = tmp_path / "grid.yaml"
    grid.write_text("cohort: [2019, 2020\nlabel: a\n")
    err = refused(capsys, ["report", "batch", str(template), "--grid", str(grid)])
    assert "not valid YAML at line" in err
    assert filed(session_env["output"]) == []


def test_a_grid_or_template_that_is_a_pipe_is_refused_at_once(
    capsys, session_env, make_template, tmp_path, no_hang
):
    template = make_template("t", PARAMS, "print(cohort)")
    grid = tmp_path / "grid.yaml"
    os.mkfifo(grid)
    with no_hang(10):
        err = refused(capsys, ["report", "batch", str(template), "--grid", str(grid)])
    assert f"{grid}: is a named pipe (FIFO), not a regular file" in err
    device = tmp_path / "device.ipynb"
    device.symlink_to("/dev/zero")
    with no_hang(10):
        err = refused(capsys, ["report", "run", str(device)])
    assert "no such template" in err  # only a regular file is taken for a template
    assert filed(session_env["output"]) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("- 2019\n- 2020\n", "maps parameter names"),
        ("cohort: []\n", "empty list"),
        ("cohort: [2019, x]\n", "expected int"),
        ("cohrt: [2019]\n", "unknown parameter"),
    ],
)
def test_bad_grids_are_refused(capsys, session_env, make_template, tmp_path, text, expected):
    template = make_template("t", PARAMS, "print(cohort)")
    grid = tmp_path / "grid.yaml"
    grid.write_text(text)
    err = refused(capsys, ["report", "batch", str(template), "--grid", str(grid)])
    assert expected in err


def test_a_report_for_another_project_is_refused(capsys, session_env):
    err = refused(capsys, ["report", "run", "pipeline", "--project", "other"])
    assert "belongs to project 'study'" in err


def test_a_cell_timeout_below_one_second_in_the_config_is_refused(capsys, session_env, tmp_path):
    config = tmp_path / "enclave_config.py"
    config.write_text("c.ReportRunner.cell_timeout = 0\n")
    err = refused(capsys, ["report", "run", "pipeline", "--config", str(config)])
    assert str(config) in err and "cell_timeout" in err
    assert filed(session_env["output"]) == []


def _context(argv):
    from enclave.cli import build_parser
    from enclave.reports.session import context_from

    return context_from(build_parser().parse_args(["report", "run", "pipeline", *argv]))


def test_the_cell_timeout_comes_from_the_config(session_env, tmp_path):
    config = tmp_path / "enclave_config.py"
    config.write_text("c.ReportRunner.cell_timeout = 60\n")
    assert _context(["--config", str(config)]).cell_timeout == 60
    assert _context(["--config", str(config), "--cell-timeout", "5"]).cell_timeout == 5


def test_a_sqlite_file_is_refused_before_running(capsys, session_env, monkeypatch):
    """A kernel reads SQLite only through a query process, which records every statement."""
    monkeypatch.setenv("ENCLAVE_WAREHOUSE_URL", "/srv/warehouse/projects/study.sqlite")
    err = refused(capsys, ["report", "run", "pipeline"])
    assert "through its query process" in err
    assert filed(session_env["output"]) == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("x = compute()", "not a literal"),
        ("print(1)", "only assignments"),
        ("x: set = {1}", "unsupported annotation"),
        ("x = None", "annotate x"),
    ],
)
def test_unusable_parameters_cells(source, expected):
    with pytest.raises(ValueError, match=expected):
        parse_parameters_cell(source)


def test_optional_and_inferred_parameter_types():
    declared = parse_parameters_cell("a: str | None = None  # maybe\nb = 3\nc = [1, 2]")
    assert (declared["a"].type, declared["a"].optional, declared["a"].help) == (
        "str",
        True,
        "maybe",
    )
    assert declared["b"].type == "int" and declared["c"].type == "list"


def test_papermill_keeps_only_local_io():
    from papermill.iorw import LocalHandler, papermill_io

    assert [scheme for scheme, _ in papermill_io._handlers] == ["local"]
    assert isinstance(papermill_io.get_handler("https://example.org/x.ipynb"), LocalHandler)


def test_report_kernels_use_ipc_with_unique_sockets():
    first, second = IpcKernelManager(), IpcKernelManager()
    assert first.transport == second.transport == "ipc"
    assert first.connection_file != second.connection_file
    assert first.ip != second.ip and first.ip.endswith("-ipc")


def test_run_key_changes_with_code_parameters_and_data(make_template, tmp_path):
    template = load_template(str(make_template("t", PARAMS, "print(cohort)")))
    changed = load_template(str(make_template("t", PARAMS, "print(cohort + 1)")))
    values = {"cohort": 2019, "label": "all", "share": 0.5, "wide": False}
    key = run_key(template, values, "v1")
    assert (
        len(
            {
                key,
                run_key(changed, values, "v1"),
                run_key(template, values, "v2"),
                run_key(template, {**values, "cohort": 2020}, "v1"),
            }
        )
        == 4
    )
    stored = tmp_path / "run.ipynb"
    stored.write_text(json.dumps({"metadata": {"enclave": {"report": {"run_key": key}}}}))
    assert current_run(stored, key) is not None
    assert current_run(stored, run_key(changed, values, "v1")) is None


def test_list_shows_the_bundled_templates_and_their_parameters(capsys, tmp_path):
    config = tmp_path / "enclave_config.py"
    config.write_text("")
    assert main(["report", "list", "--config", str(config)]) == 0  # every command takes --config
    out = capsys.readouterr().out
    for name in ("pipeline", "course_success", "time_to_degree"):
        assert f"{name}\n" in out
    assert "group_by: str = 'gender'" in out
