"""The gate fails closed: checks on by default, none = refusal, a crash = review, a plug-in
that cannot load = refusal; configuration reaches every check."""

from importlib.metadata import EntryPoint

import pytest
from gate_helpers import notebook, result
from traitlets.config import Config

from enclave.errors import EnclaveError
from enclave.output_review import gate as gate_module
from enclave.output_review.checks.base import OutputCheck
from enclave.output_review.gate import BUILT_IN_CHECKS, Gate

PNG = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}


def all_disabled() -> Config:
    c = Config()
    for cls in BUILT_IN_CHECKS:
        c[cls.__name__].enabled = False
    return c


def test_every_built_in_check_is_on_by_default():
    assert {type(c) for c in Gate().checks} == set(BUILT_IN_CHECKS)


def test_a_gate_with_no_checks_refuses_to_run():
    with pytest.raises(EnclaveError, match="every check is disabled") as e:
        Gate(config=all_disabled())
    assert e.value.exit_code == 2


def test_a_disabled_check_does_not_run():
    c = Config()
    c.Images.enabled = False
    nb = notebook(("plot()", [result(PNG)]))
    assert Gate().screen(nb).verdict == "review"
    assert Gate(config=c).screen(nb).verdict == "pass"


class Exploding(OutputCheck):
    rule = "exploding"

    def preprocess_cell(self, cell, resources, index):
        if index == 1:
            raise ValueError("secret value stu_0123456789abcdefghjkmnpqrs")
        return cell, resources


class CountsOnes(OutputCheck):
    rule = "no-ones"

    def preprocess_cell(self, cell, resources, index):
        for number, output in enumerate(cell.outputs):
            if "1" in output.get("text", ""):
                self.report(resources, index, number, "block", "a one")
        return cell, resources


def plug_in(monkeypatch, *points):
    monkeypatch.setattr(
        gate_module,
        "entry_points",
        lambda group: [EntryPoint(name, value, group) for name, value in points],
    )


def test_a_check_that_raises_gives_review_for_that_cell_and_hides_the_error(monkeypatch):
    plug_in(monkeypatch, ("exploding", f"{__name__}:Exploding"))
    nb = notebook(("a = 1", []), ("b = 2", []), ("c = 3", []))
    report = Gate().screen(nb)
    assert [(f.cell, f.rule, f.severity) for f in report.findings] == [
        (1, "check-failed", "review")
    ]
    assert report.verdict == "review"
    assert "stu_" not in report.findings[0].message and "secret" not in report.findings[0].message


def test_an_entry_point_check_runs_alongside_the_built_ins(monkeypatch):
    plug_in(monkeypatch, ("no_ones", f"{__name__}:CountsOnes"))
    from gate_helpers import stream

    report = Gate().screen(notebook(("print(1)", [stream("1\n")])))
    assert [(f.rule, f.severity) for f in report.findings] == [("no-ones", "block")]


def test_an_entry_point_that_cannot_load_stops_the_gate(monkeypatch):
    plug_in(monkeypatch, ("broken", "no_such_module_here:Check"))
    with pytest.raises(EnclaveError, match="'broken'.*cannot be loaded"):
        Gate()


def test_an_entry_point_that_is_not_a_check_stops_the_gate(monkeypatch):
    plug_in(monkeypatch, ("wrong", "json:dumps"))
    with pytest.raises(EnclaveError, match="not a subclass"):
        Gate()


def test_an_unwanted_entry_point_can_be_left_out(monkeypatch):
    plug_in(monkeypatch, ("broken", "no_such_module_here:Check"))
    c = Config()
    c.Gate.disabled_entry_points = ["broken"]
    assert len(Gate(config=c).checks) == len(BUILT_IN_CHECKS)


def test_policy_values_come_from_a_config_file(tmp_path, write_nb, capsys):
    from enclave.cli import main

    table = "   n\nA  7\nB  12\n"
    path = write_nb(notebook(("t", [result({"text/plain": table})])))
    assert main(["review", "check", str(path)]) == 1
    config = tmp_path / "enclave_config.py"
    config.write_text("c.DisclosurePolicy.min_count = 5\n")
    assert main(["review", "check", str(path), "--config", str(config)]) == 0
    config.write_text(
        "for name in %r:\n    c[name].enabled = False\n" % [cls.__name__ for cls in BUILT_IN_CHECKS]
    )
    capsys.readouterr()
    assert main(["review", "check", str(path), "--config", str(config)]) == 2
    assert "every check is disabled" in capsys.readouterr().err


class Interrupted(OutputCheck):
    """Reads a table (filling the table cache with output text), then is interrupted."""

    rule = "interrupted"

    def preprocess_cell(self, cell, resources, index):
        from enclave.output_review.tables import find_tables

        find_tables("text/plain", "   n\nA  70\nB  12\n")
        raise KeyboardInterrupt


def test_an_interrupted_screen_keeps_no_output_text(monkeypatch):
    from enclave.output_review.tables import find_tables

    plug_in(monkeypatch, ("interrupted", f"{__name__}:Interrupted"))
    with pytest.raises(KeyboardInterrupt):
        Gate().screen(notebook(("t", [result({"text/plain": "   n\nA  70\n"})])))
    assert find_tables.cache_info().currsize == 0


def test_the_cycle_collector_is_paused_only_while_the_gate_runs(tmp_path):
    import gc

    import nbformat
    from gate_helpers import executed

    from enclave.output_review.gate import read_notebook

    path = tmp_path / "nb.ipynb"
    nbformat.write(executed(result({"text/plain": "n\n5"})), path)
    assert gc.isenabled()
    Gate().screen(read_notebook(path))
    assert gc.isenabled()
    gc.disable()  # a caller that turned it off keeps it off
    try:
        Gate().screen(read_notebook(path))
        assert not gc.isenabled()
    finally:
        gc.enable()
