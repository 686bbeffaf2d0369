"""The default policy rule by rule, on real pandas reprs made in-process (the corpus covers
the same on kernel output). Each case names the verdict the whole notebook must get."""

import numpy as np
import pandas as pd
import pytest
from gate_helpers import notebook, result, stream
from nbformat.v4 import new_markdown_cell, new_raw_cell

from enclave.output_review.gate import Gate

KEY = "stu_" + "0123456789abcdefghjkmnpqrs"


def frame_output(obj):
    data = {"text/plain": repr(obj)}
    if hasattr(obj, "_repr_html_") and obj._repr_html_():
        data["text/html"] = obj._repr_html_()
    return result(data)


def verdict(*outputs, source="x"):
    return Gate().screen(notebook((source, list(outputs)))).verdict


GRADES = pd.Series([120, 131, 140, 98, 77, 64], index=pd.Index(range(3, 9), name="grade_level"))
CROSS = pd.DataFrame(
    {"F": [12, 15, 27], "M": [14, 11, 25], "All": [26, 26, 52]},
    index=pd.Index(["CC-101", "CC-102", "All"], name="institution"),
)
CROSS.columns.name = "gender"

PASSES = {
    "numeric-index-labels": GRADES,
    "crosstab-all-margin": CROSS,
    "years-in-index": pd.Series([1200, 1350], index=pd.Index([2019, 2020], name="year")),
    "years-in-data": pd.DataFrame({"academic_year": [2019, 2020], "n": [1200, 1350]}),
    "means": pd.Series([3.12, 2.87], index=["CC-101", "UNI-201"], name="mean_gpa"),
    "percentages": pd.Series([4.0, 96.0], index=["CC-101", "CC-102"], name="pct"),
    "thousands": pd.DataFrame({"n": ["1,234", "12,010"]}, index=["CC-101", "CC-102"]),
    "model-summary": pd.DataFrame(
        {"coef": [1.2, 0.03], "std_err": [0.2, 0.01], "t": [6.0, 3.0], "p_value": [0.0, 0.003]},
        index=["const", "units"],
    ),
    "multiindex-counts": pd.Series(
        [40, 51, 33, 20],
        index=pd.MultiIndex.from_product([["CC-101", "CC-102"], ["F", "M"]]),
    ),
}

BLOCKS = {
    "small-in-crosstab": CROSS.replace({15: 4}),
    "whole-float-counts": pd.Series([5.0, 40.0], index=["a", "b"], name="count"),
    "small-in-multiindex": pd.Series(
        [40, 3], index=pd.MultiIndex.from_tuples([("CC-101", "F"), ("CC-101", "M")])
    ),
    "small-with-nan": pd.DataFrame({"F": [2.0, np.nan], "M": [np.nan, 30.0]}, index=["a", "b"]),
}


@pytest.mark.parametrize("name", PASSES)
def test_safe_tables_pass(name):
    assert verdict(frame_output(PASSES[name])) == "pass"


@pytest.mark.parametrize("name", BLOCKS)
def test_small_counts_block(name):
    assert verdict(frame_output(BLOCKS[name])) == "block"


def test_a_zero_count_blocks_unless_the_policy_says_otherwise():
    from traitlets.config import Config

    zero = notebook(("x", [frame_output(CROSS.replace({15: 0}))]))
    assert Gate().screen(zero).verdict == "block"  # ACRO's zeros_are_disclosive
    config = Config()
    config.DisclosurePolicy.zeros = "review"
    assert Gate(config=config).screen(zero).verdict == "review"


@pytest.mark.parametrize(
    "text",
    [
        "{'CC-101': 4, 'CC-102': 40}",
        "Counter({'Asian': 31, 'Pacific Islander': 2})",
        "| group | n |\n|---|---|\n| a | 3 |\n| b | 30 |",
        "\\begin{tabular}{lr}\n\\toprule\n & n \\\\\n\\midrule\n"
        "a & 3 \\\\\nb & 30 \\\\\n\\end{tabular}",
    ],
    ids=["dict", "counter", "markdown", "latex"],
)
def test_small_counts_in_other_table_forms(text):
    kind = "text/latex" if "tabular" in text else "text/plain"
    assert verdict(result({kind: text})) == "block"
    assert verdict(stream(text)) == ("block" if kind == "text/plain" else "pass")


@pytest.mark.parametrize("make", [new_markdown_cell, new_raw_cell], ids=["markdown", "raw"])
def test_a_table_typed_in_a_text_cell_is_checked(make):
    nb = notebook(make("| group | n |\n|---|---|\n| a | 3 |\n| b | 30 |"))
    assert [(f.cell, f.output, f.rule) for f in Gate().screen(nb).findings] == [
        (0, None, "small-counts")
    ]


@pytest.mark.parametrize(
    "text",
    [
        f"key {KEY}",
        "SSN 123-45-6789",
        "write to jane.doe@example.edu",
        "call (415) 555-0134",
        "call 415.555.0134",
        "lives at 742 Evergreen Terrace",
        "{'date_of_birth': '2006-04-12'}",
        "{'student_name': 'Maria Lopez'}",
    ],
    ids=["key", "ssn", "email", "phone", "phone-dotted", "address", "dob", "name"],
)
def test_direct_identifiers_block(text):
    assert verdict(stream(text)) == "block"


@pytest.mark.parametrize(
    "text",
    [
        "CC-101 and UNI-201 in 2019-2020, 12,345 students",
        "{'name': 'Riverside Community College', 'sector': 'cc'}",
        "mean GPA 3.1 (sd 0.4), p = 0.003, n = 2,345",
        "per_student_rates are computed in term 2019FA",
    ],
    ids=["codes", "institution-name", "stats", "per-prefix-word"],
)
def test_safe_text_passes(text):
    assert verdict(stream(text)) == "pass"


def test_identifiers_are_found_in_every_place():
    places = {
        "source": notebook((f'k = "{KEY}"', [])),
        "stderr": notebook(("x", [stream(KEY, name="stderr")])),
        "traceback": notebook(
            ("x", [{"output_type": "error", "ename": "KeyError", "evalue": KEY, "traceback": []}])
        ),
        "cell-metadata": notebook(new_markdown_cell("ok")),
        "latex": notebook(("x", [result({"text/latex": KEY})])),
    }
    places["cell-metadata"].cells[0].metadata["note"] = KEY
    for name, nb in places.items():
        from nbformat import from_dict

        report = Gate().screen(from_dict(nb))
        assert report.verdict == "block", name
    nb = notebook(("x", []))
    nb.metadata["author"] = KEY
    assert [f.cell for f in Gate().screen(nb).findings] == [None]


def test_hidden_cells_are_checked_like_any_other():
    nb = notebook(("x", [stream(KEY)]))
    nb.cells[0].metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
    assert Gate().screen(nb).verdict == "block"


def test_record_listing_review_and_block():
    students = pd.DataFrame(
        {"birth_year": [2004, 2005], "gender": ["F", "M"], "zip3": ["913", "900"]}
    )
    assert verdict(frame_output(students)) == "review"
    assert verdict(frame_output(students.assign(ssn=["x", "y"]))) == "block"
    grouped = students.groupby(["gender", "zip3"]).size().rename("n").reset_index()
    assert verdict(frame_output(grouped.assign(n=[25, 31]))) == "pass"


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"image/svg+xml": "<svg></svg>", "text/plain": "<Figure>"}, "review"),
        ({"application/json": {"a": 1}, "text/plain": "x"}, "review"),
        ({"application/javascript": "alert(1)", "text/plain": "x"}, "review"),
        ({"application/vnd.jupyter.widget-view+json": {"model_id": "1"}}, "review"),
        ({"text/html": '<b onclick="x()">hi</b>'}, "review"),
        ({"application/x-unknown": "?"}, "review"),
        ({"text/plain": "x" * 100_001}, "review"),
        ({"text/markdown": "**fine**", "text/plain": "fine"}, "pass"),
        ({"text/markdown": "<script>fetch('x')</script>", "text/plain": "x"}, "review"),
        ({"text/markdown": "[go](javascript:alert(1))", "text/plain": "go"}, "review"),
        ({"text/latex": '$x$ <b onclick="f()">x</b>', "text/plain": "x"}, "review"),
    ],
    ids=[
        "svg",
        "json",
        "js",
        "widget",
        "html-handler",
        "unknown",
        "long",
        "markdown",
        "markdown-script",
        "markdown-js-link",
        "latex-handler",
    ],
)
def test_images_opaque_and_oversized_outputs(data, expected):
    assert verdict(result(data)) == expected


def test_tables_over_1000_rows_need_review():
    big = pd.DataFrame({"n": np.arange(100, 1300)})
    assert verdict(frame_output(big)) == "review"


def test_notebook_widget_state_needs_review():
    nb = notebook(("x", []))
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    assert [(f.cell, f.rule) for f in Gate().screen(nb).findings] == [(None, "opaque-output")]


def test_describe_and_quantiles_only_count_their_count_row():
    small = pd.DataFrame({"credits": [1, 2, 3, 4, 5]}).describe()
    large = pd.DataFrame({"credits": range(1, 40)}).describe()
    quantiles = pd.Series(range(1, 40), name="credits").quantile([0.1, 0.5, 0.9])
    assert verdict(frame_output(small)) == "block"
    assert verdict(frame_output(large)) == "pass"
    assert verdict(frame_output(quantiles)) == "pass"


def test_statistics_tables_are_only_read_as_such_up_to_the_configured_length():
    from traitlets.config import Config

    stats = pd.DataFrame({"n": [50, 2, 90]}, index=["count", "min", "max"])
    assert verdict(frame_output(stats)) == "pass"  # only the count row holds a count
    config = Config()
    config.SmallCounts.statistics_table_rows = 2
    nb = notebook(("x", [frame_output(stats)]))
    assert Gate(config=config).screen(nb).verdict == "block"


def test_printed_tables_are_read_without_their_html_twin():
    """print(df) has only the text form: labels on several header lines, counts below."""
    gpa = pd.DataFrame(
        {
            "institution": ["CC-101"] * 30 + ["CC-102"] * 33,
            "gender": ["F"] * 27 + ["X"] * 3 + ["M"] * 33,
            "gpa": np.linspace(1.5, 4.0, 63),
        }
    )
    pivot = gpa.pivot_table(
        index="institution", columns="gender", values="gpa", aggfunc=["count", "mean"]
    )
    assert verdict(stream(pivot.to_string())) == "block"
    safe = (
        gpa[gpa.gender != "X"]
        .pivot_table(index="institution", columns="gender", values="gpa", aggfunc=["count", "mean"])
        .fillna(0)
    )
    assert verdict(stream(safe.to_string())) == "block"  # the zero cells, not the labels
    grades = pd.crosstab(
        pd.Series([3, 4] * 20, name="grade_level"), pd.Series([2019] * 40, name="year")
    )
    assert verdict(stream(grades.to_string())) == "pass"
