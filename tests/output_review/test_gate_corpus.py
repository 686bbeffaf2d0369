"""The labelled corpus: notebooks executed for real over synthetic consortium data; every
output (and every source) must get exactly the severity its label says."""

import importlib.util

import nbformat
import pytest
from gate_helpers import CORPUS
from nbclient import NotebookClient

from enclave.output_review.findings import worst
from enclave.output_review.gate import Gate, read_notebook

NOTEBOOKS = sorted(CORPUS.glob("*.ipynb"))


def load_generator():
    """The corpus script, loaded from its file (the test folder is not a package)."""
    spec = importlib.util.spec_from_file_location("make_gate_corpus", CORPUS / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verdicts(nb, report):
    """(cell, output) -> (expected, actual) for every place the labels name."""
    found = {}
    for i, cell in enumerate(nb.cells):
        expected = cell.metadata.get("enclave_expected", {})
        places = [(None, expected.get("source", "pass"))]
        places += list(enumerate(expected.get("outputs", [])))
        for output, label in places:
            actual = worst(f.severity for f in report.for_output(i, output))
            found[i, output] = (label, actual)
        if cell.cell_type == "code":
            assert len(cell.outputs) == len(expected.get("outputs", [])), f"cell {i} unlabelled"
    found[None, None] = (
        nb.metadata.get("enclave_expected", "pass"),
        worst(f.severity for f in report.for_output(None, None)),
    )
    return found


def test_corpus_covers_every_severity_and_rule():
    labels, rules = set(), set()
    for path in NOTEBOOKS:
        nb = read_notebook(path)
        report = Gate().screen(nb)
        labels |= {expected for expected, _ in verdicts(nb, report).values()}
        rules |= {f.rule for f in report.findings}
    assert labels == {"pass", "review", "block"}
    assert rules >= {
        "small-counts",
        "student-key",
        "direct-identifier",
        "record-listing",
        "image",
        "opaque-output",
        "oversized",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_output_gets_its_labelled_verdict(path):
    nb = read_notebook(path)
    report = Gate().screen(nb, path.name)
    wrong = {place: pair for place, pair in verdicts(nb, report).items() if pair[0] != pair[1]}
    assert not wrong, f"(cell, output): (expected, actual) {wrong}"


def test_fresh_execution_on_a_real_kernel(tmp_path):
    """The pipeline on outputs a kernel produces now, not only on the committed files."""
    make_corpus = load_generator()
    nb = make_corpus.notebook(
        [
            make_corpus.cell("pd.crosstab(students.institution, students.gender)", ["pass"]),
            make_corpus.cell("students.ethnicity.value_counts()", ["block"]),
            make_corpus.cell("print(students.student_key.iloc[5])", ["block"]),
        ]
    )
    NotebookClient(nb, kernel_name="python3", timeout=60).execute()
    path = tmp_path / "fresh.ipynb"
    nbformat.write(nb, path)
    fresh = read_notebook(path)
    report = Gate().screen(fresh)
    assert all(expected == actual for expected, actual in verdicts(fresh, report).values())
    assert report.verdict == "block"
