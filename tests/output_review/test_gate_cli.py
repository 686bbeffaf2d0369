"""``enclave review check|redact|render`` on the corpus: exit codes, the exact JSON shape,
masked values, redaction that re-screens clean, and a self-contained reviewer's view."""

import json
import re

import nbformat
import pytest
from gate_helpers import CORPUS

from enclave.cli import main
from enclave.output_review.gate import Gate, read_notebook
from enclave.output_review.redact import redact
from enclave.output_review.render import render_html

IDENTIFIERS = CORPUS / "identifiers_block.ipynb"
REVIEW = CORPUS / "listings_and_opaque_review.ipynb"
KEY = re.compile(r"(?:stu|per|emp)_[0-9a-hjkmnp-tv-z]{26}")


def run(capsys, *argv):
    code = main(["review", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "name, code",
    [("aggregates_pass", 0), ("listings_and_opaque_review", 1), ("identifiers_block", 1)],
)
def test_exit_codes(capsys, name, code):
    assert run(capsys, "check", CORPUS / f"{name}.ipynb")[0] == code


def test_json_has_exactly_the_documented_shape(capsys):
    code, out, _ = run(capsys, "check", IDENTIFIERS, "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert set(report) == {"notebook", "verdict", "findings"}
    assert report["notebook"] == str(IDENTIFIERS) and report["verdict"] == "block"
    for finding in report["findings"]:
        assert set(finding) == {
            "cell",
            "output",
            "rule",
            "severity",
            "message",
            "execution_count",
            "fix",
        }
        assert finding["cell"] is None or isinstance(finding["cell"], int)
        assert finding["execution_count"] is None or isinstance(finding["execution_count"], int)
        assert finding["output"] is None or isinstance(finding["output"], int)
        assert finding["severity"] in ("review", "block")
    places = {(f["cell"], f["output"]) for f in report["findings"]}
    assert (3, None) in places  # the key in cell 3's source
    assert (1, 0) in places  # students.head()


def test_no_format_prints_a_whole_identifier(capsys):
    nb = read_notebook(IDENTIFIERS)
    shown = {m for c in nb.cells for o in c.get("outputs", []) for m in KEY.findall(str(o))}
    assert shown, "the corpus must show keys for this test to mean anything"
    for fmt in ("text", "json"):
        _, out, _ = run(capsys, "check", IDENTIFIERS, "--format", fmt)
        assert not KEY.search(out)
        assert "@" not in out and not re.search(r"\d{3}-\d{2}-\d{4}", out)


def test_text_format_groups_findings_by_cell_as_jupyterlab_shows_it(capsys):
    _, out, _ = run(capsys, "check", REVIEW)
    lines = out.splitlines()
    assert lines[0].endswith("REVIEW (0 blocked, 9 to review)")
    # the second cell of the notebook, whose prompt reads [2]; a markdown cell has no prompt
    assert "cell 2 [2]" in lines and any(x.strip().startswith("output 0") for x in lines)


def test_redact_removes_blocked_outputs_and_marks_reviews(tmp_path, capsys):
    out = tmp_path / "redacted.ipynb"
    code, _, err = run(capsys, "redact", IDENTIFIERS, "-o", out)
    assert code == 0 and str(out) in err
    redacted = read_notebook(out)
    text = out.read_text()
    assert not KEY.search(text) and "@" not in text
    placeholder = redacted.cells[1].outputs[0].data["text/plain"]
    assert "removed by the output review gate" in placeholder and "student-key" in placeholder
    assert redacted.cells[3].source.startswith("# [removed by the output review gate")
    assert Gate().screen(redacted).verdict == "pass"

    code, _, _ = run(capsys, "redact", REVIEW, "-o", out)
    marked = read_notebook(out)
    original = read_notebook(REVIEW)
    assert marked.cells[2].outputs[0].data == original.cells[2].outputs[0].data
    assert marked.cells[2].outputs[0].metadata["enclave_review"][0]["rule"] == "image"
    assert Gate().screen(marked).verdict == "review"


def test_redact_does_not_touch_the_original():
    nb = read_notebook(IDENTIFIERS)
    before = nbformat.writes(nb)
    redact(nb, Gate().screen(nb))
    assert nbformat.writes(nb) == before


def test_render_is_self_contained_and_shows_findings_beside_outputs(tmp_path, capsys):
    out = tmp_path / "view.html"
    assert run(capsys, "render", REVIEW, "-o", out)[0] == 0
    page = out.read_text()
    assert "<script" not in page.lower()
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", page)
    assert "Output review: REVIEW" in page
    nb = read_notebook(REVIEW)
    report = Gate().screen(nb)
    for finding in report.findings:
        assert finding.message.replace("'", "&#39;") in page or finding.message in page
    # the image finding sits right after the image it is about
    image = page.index('src="data:image/png')
    assert page.index("enclave-finding enclave-review", image) - image < 100_000
    assert "<code>image</code>" in page[image : page.index("enclave-finding", image) + 200]


def test_render_passes_extra_values_to_the_template():
    nb = read_notebook(CORPUS / "aggregates_pass.ipynb")
    page = render_html(nb, Gate().screen(nb), extra={"request": "REQ-42", "approvers": "a, b"})
    assert "REQ-42" in page and "approvers" in page and "Output review: PASS" in page


def test_output_folder_must_exist(tmp_path, capsys):
    code, _, err = run(capsys, "redact", IDENTIFIERS, "-o", tmp_path / "no" / "x.ipynb")
    assert code == 1 and "does not exist" in err


def test_redact_clears_identifying_notebook_metadata_and_keeps_the_kernel():
    nb = read_notebook(CORPUS / "aggregates_pass.ipynb")
    nb.metadata["author"] = {"email": "analyst@example.edu"}
    report = Gate().screen(nb)
    assert [(f.cell, f.rule) for f in report.findings] == [(None, "direct-identifier")]
    redacted = redact(nb, report)
    assert "author" not in redacted.metadata and "kernelspec" in redacted.metadata
    assert redacted.metadata["enclave_redacted"][0]["rule"] == "direct-identifier"
    assert Gate().screen(redacted).verdict == "pass"
