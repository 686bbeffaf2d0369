"""What the review pages compute: places as JupyterLab shows them, what is still needed, the
steward's outputs, what changed between rounds."""

import copy

import nbformat
import review_notebooks as notebooks
from nbformat.v4 import new_code_cell, new_output
from review_factories import request_row

from enclave.output_review.findings import Finding, GateReport
from enclave.output_review.structured import MIMETYPE
from enclave.review_service import views
from enclave.review_service.approvals import Progress

INSTITUTIONS = {"CC-101": "Valley Community College", "UNI-201": "State University"}


def ranking_notebook():
    nb = notebooks.naming(["CC-101", "UNI-201"])  # cell 3 ranks both
    only_cc = notebooks.table_html([("Valley Community College", 120)])
    recorded = new_output("execute_result", data={"text/html": only_cc}, execution_count=4)
    recorded["data"][MIMETYPE] = {"version": 1, "institutions": ["CC-101"]}
    nb.cells.append(new_code_cell("cc_only", execution_count=4, outputs=[recorded]))
    return nbformat.from_dict(nb)


def test_outputs_are_named_as_jupyterlab_shows_their_cells():
    nb = ranking_notebook()
    report = GateReport("x", [Finding(2, 0, "small-counts", "review", "m", execution_count=2)])
    items = views.outputs_of(nb, report)
    assert [(o.place, o.output, o.kind) for o in items] == [
        ("cell 2 [1]", 0, "text"),
        ("cell 3 [2]", 0, "table"),
        ("cell 4 [4]", 0, "table"),
    ]
    assert items[1].anchor == "cell-3-output-1" and items[1].worst == "review"
    assert views.finding_anchor(report.findings[0]) == "cell-3-output-1"
    assert views.finding_anchor(Finding(None, None, "x", "review", "m")) == ""


def test_still_needed_names_who_for_each_status():
    row = request_row(status="in_review", author="rita", round=2)
    progress = Progress(
        reviewers=["rev1"], reviewers_needed=1, institutions_outstanding=["UNI-201"]
    )
    assert views.still_needed(row, progress) == [
        "1 more reviewer approval.",
        "a steward of UNI-201.",
    ]
    assert "resubmit" in views.still_needed(request_row(status="changes_requested"), progress)[0]
    assert "download" in views.still_needed(request_row(status="released"), progress)[0]


def test_steward_outputs_recorded_use_and_naming_with_the_others_named():
    nb = ranking_notebook()
    report = GateReport("x", [])
    cc = views.steward_outputs(nb, report, "CC-101", INSTITUTIONS)
    assert [o.place for o in cc.used] == ["cell 4 [4]"]
    assert [(o.place, others) for o, others in cc.named] == [("cell 3 [2]", 1), ("cell 4 [4]", 0)]
    uni = views.steward_outputs(nb, report, "UNI-201", INSTITUTIONS)
    assert uni.used == [] and [o.place for o, _ in uni.named] == ["cell 3 [2]"]


def test_round_changes_align_cells_and_show_what_a_table_says_now():
    before = ranking_notebook()
    after = copy.deepcopy(before)
    after.cells[2].outputs[0]["data"]["text/html"] = notebooks.table_html(
        [("CC-101", 100), ("UNI-201", 150)]
    )
    after.cells.insert(1, new_code_cell("new", execution_count=9))
    del after.cells[-1]
    changes = views.round_changes(before, after)
    kinds = [(c.change, c.old, c.new) for c in changes if c.change != "unchanged"]
    assert kinds == [
        ("added", None, "cell 2 [9]"),
        ("outputs changed", "cell 3 [2]", "cell 4 [2]"),
        ("removed", "cell 4 [4]", None),
    ]
    changed = next(c for c in changes if c.change == "outputs changed")
    assert "-UNI-201 | 110" in changed.text and "+UNI-201 | 150" in changed.text
    assert changed.new_anchor == "cell-4"


def test_round_changes_ignore_markup_that_shows_nothing_new():
    before = ranking_notebook()
    after = copy.deepcopy(before)
    html = after.cells[2].outputs[0]["data"]["text/html"]
    after.cells[2].outputs[0]["data"]["text/html"] = html.replace(
        'class="dataframe"', 'class="dataframe" id="T_5f1e"'
    )
    after.cells[2].execution_count = 7
    assert {c.change for c in views.round_changes(before, after)} == {"unchanged"}
