"""The kernel's structured outputs: provenance captured when pandas, numpy and statsmodels
compute, without changing what they return; the structured form attached to what a real
Enclave kernel displays, with the institutions its queries read."""

import json
import os
import sys

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from enclave.kernels import install, provenance
from enclave.kernels.structured import payload
from enclave.output_review.gate import Gate, read_notebook
from enclave.output_review.structured import MIMETYPE, fingerprint

FRAME = pd.DataFrame(
    {
        "school": list("ABCABCABCA") * 5,
        "gender": list("FM") * 25,
        "gpa": np.linspace(1.0, 4.0, 50),
        "units": np.arange(50) % 7,
        "flag": [True, False] * 25,
    }
)
OPERATIONS = {
    "size": lambda df: df.groupby("school").size(),
    "count": lambda df: df.groupby("school")["gpa"].count(),
    "mean": lambda df: df.groupby(["school", "gender"])["gpa"].mean(),
    "agg-named": lambda df: df.groupby("school").agg(n=("gpa", "size"), m=("gpa", "mean")),
    "agg-list": lambda df: df.groupby("school")[["gpa", "units"]].agg(["mean", "max"]),
    "agg-dict": lambda df: df.groupby("school").agg({"gpa": "mean", "units": "sum"}),
    "describe": lambda df: df.describe(),
    "groupby-describe": lambda df: df.groupby("school")["gpa"].describe(),
    "value-counts": lambda df: df.school.value_counts(normalize=True),
    "frame-value-counts": lambda df: df.value_counts("school"),
    "frame-value-counts-normalized": lambda df: df.value_counts(["school"], True),
    "crosstab": lambda df: pd.crosstab(df.school, df.gender, margins=True),
    "crosstab-mean": lambda df: pd.crosstab(
        df.school, df.gender, values=df.gpa, aggfunc="mean", margins=True
    ),
    "crosstab-normalize": lambda df: pd.crosstab(df.school, df.gender, normalize="index"),
    "pivot": lambda df: df.pivot_table(
        index="school", columns="gender", values="gpa", aggfunc=["mean", "count"]
    ),
    "pivot-one-aggregation": lambda df: df.pivot_table(
        index="school", columns="gender", values="gpa", aggfunc="sum"
    ),
    "pivot-margins": lambda df: pd.pivot_table(
        df, index="school", columns="gender", values="gpa", margins=True
    ),
    "reduction": lambda df: df[["gpa", "units"]].mean(),
    "unstack": lambda df: df.groupby(["school", "gender"]).size().unstack(),
}


@pytest.mark.parametrize("name", OPERATIONS)
def test_capturing_changes_no_result(name):
    plain = OPERATIONS[name](FRAME)
    provenance.install()
    try:
        captured = OPERATIONS[name](FRAME)
        assert provenance.provenance_of(captured) is not None
    finally:
        provenance.uninstall()
    if isinstance(plain, pd.DataFrame):
        pd.testing.assert_frame_equal(plain, captured)
    else:
        pd.testing.assert_series_equal(plain, captured)
    assert set(captured.attrs) == {provenance.ATTR}
    assert payload(captured)["cells"]["statistic"]


def recorded(result) -> dict:
    """Each cell's statistic and evidence, by the labels pandas shows."""
    cells = payload(result)["cells"]
    return {name: np.array(grid, dtype=object) for name, grid in cells.items()}


def test_a_frames_value_counts_are_counts_of_the_subset_it_names():
    # DataFrame.value_counts(subset, normalize, ...): the first argument is not normalize
    provenance.install()
    try:
        counts = recorded(FRAME.value_counts("school"))
        shares = recorded(FRAME.value_counts(["school"], True))
        expected = FRAME.value_counts(["school"])
    finally:
        provenance.uninstall()
    assert set(counts["statistic"].ravel()) == {"count"}
    assert set(shares["statistic"].ravel()) == {"proportion"}
    assert list(shares["records"].ravel()) == list(expected)  # each share's own count
    assert set(shares["denominator"].ravel()) == {len(FRAME)}


@pytest.mark.parametrize("aggfunc", ["mean", "sum", "max", "median"])
def test_a_plain_pivots_evidence_is_what_running_it_again_gives(aggfunc):
    frame = FRAME.assign(gpa=FRAME.gpa.where(FRAME.index % 6 != 0))  # some values missing
    frame.loc[:1, "school"] = "D"  # a school of two students, one of each gender
    call = {"index": "school", "columns": "gender", "values": "gpa", "aggfunc": aggfunc}
    provenance.install()
    try:
        fast = recorded(frame.pivot_table(**call))  # one numpy pass over the groups
        slow = provenance.table_evidence(
            lambda agg: provenance.rerun_pivot({**call, "data": frame}, aggfunc=agg),
            frame.pivot_table(**call),
            False,
        )
    finally:
        provenance.uninstall()
    assert provenance.pivot_evidence({**call, "data": frame}, frame.pivot_table(**call))
    tops = [[np.nan, np.nan] if t is None else t for t in fast["top"].ravel()]
    fast["top1"], fast["top2"] = (np.array([t[k] for t in tops], dtype=float) for k in (0, 1))
    for name, table in slow.items():
        np.testing.assert_allclose(
            np.array(fast[name], dtype=float).ravel(), table.to_numpy().ravel(), equal_nan=True
        )


def test_a_capture_that_fails_leaves_the_result_without_provenance(monkeypatch):
    def broken(*args):
        raise ValueError("stu_secret")

    expected = FRAME.groupby("school")["gpa"].mean()
    monkeypatch.setattr(provenance, "grouped_evidence", broken)
    provenance.install()
    try:
        means = FRAME.groupby("school")["gpa"].mean()
    finally:
        provenance.uninstall()
    assert provenance.provenance_of(means) is None
    pd.testing.assert_series_equal(means, expected)
    assert "cells" not in payload(means)  # shown as values and labels only: text rules apply


def test_uninstall_restores_pandas():
    original = pd.core.groupby.SeriesGroupBy.mean
    provenance.install()
    provenance.install()  # idempotent
    assert pd.core.groupby.SeriesGroupBy.mean is not original
    provenance.uninstall()
    assert pd.core.groupby.SeriesGroupBy.mean is original and pd.crosstab.__name__ == "crosstab"
    assert not hasattr(pd.crosstab, "__enclave_original__")


def test_structured_form_is_the_same_in_two_runs():
    provenance.install()
    try:
        first = payload(OPERATIONS["crosstab-mean"](FRAME))
        second = payload(OPERATIONS["crosstab-mean"](FRAME.copy()))
    finally:
        provenance.uninstall()
    assert fingerprint(first) == fingerprint(second)
    assert json.dumps(first, allow_nan=False)  # strict JSON: no NaN, no objects


@pytest.fixture
def kernel_env(sqlite_warehouse, query_process):
    install.install(prefix=sys.prefix)
    return {
        **os.environ,
        "ENCLAVE_WAREHOUSE_URL": query_process(sqlite_warehouse["all"], project="allinst"),
        "ENCLAVE_PROJECT": "allinst",
    }


def test_a_real_kernel_attaches_structured_outputs(kernel_env, tmp_path):
    cells = [
        "import pandas as pd, numpy as np\n"
        "df = warehouse.query(\n"
        "    'SELECT institution, term, units_attempted AS units FROM cc_enrollments')",
        "df.groupby('institution').size()",
        "df.groupby(['institution', 'term'])['units'].mean().unstack()",
        "import statsmodels.api as sm\n"
        "x = sm.add_constant(df['units'].iloc[:11].astype(float))\n"
        "sm.OLS(np.arange(11.0), x).fit().summary()",
        "print(df.groupby('institution').size())",
        "print(df.groupby(['institution', 'term']).size())",
    ]
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    client = NotebookClient(nb, kernel_name="enclave-python", timeout=120, coalesce_streams=True)
    client.execute(env=kernel_env)
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, path)
    shown = read_notebook(path)
    structures = [
        o["data"][MIMETYPE] for c in shown.cells for o in c.outputs if MIMETYPE in o.get("data", {})
    ]
    counts, means, model, *printed = structures
    assert len(printed) == 2 and all("printed" in p for p in printed)
    assert counts["institutions"] == ["CC-101", "CC-102"]
    assert {s for row in counts["cells"]["statistic"] for s in row} == {"count"}
    # a term a college did not teach has no cell (NaN, no statistic)
    assert {s for row in means["cells"]["statistic"] for s in row} <= {"mean", None}
    assert "mean" in {s for row in means["cells"]["statistic"] for s in row}
    assert model["kind"] == "model" and model["model"]["df_resid"] == 9.0
    report = Gate().screen(shown)
    found = {(f.cell, f.output, f.rule) for f in report.findings}
    assert (3, 0, "residual-dof") in found  # 11 rows, 2 parameters
    assert "structured-data" not in {rule for *_, rule in found}
    # a printed result: its structured form follows the cell's stdout, naming the text
    stream, printed = shown.cells[5].outputs
    assert stream.output_type == "stream" and printed.data["text/plain"] == ""
    assert printed.data[MIMETYPE]["printed"]["length"] == len(stream.text) - 1
    assert (5, 0, "small-counts") in found  # reported on the stream it was printed to
    # the printed text edited afterwards: the structure is distrusted, the text is read
    shown.cells[5].outputs[0]["text"] = stream.text.replace("CC-101", "CC-10l")
    edited = Gate().screen(shown)
    assert any(f.cell == 5 and f.rule == "structured-data" for f in edited.findings)


@pytest.mark.parametrize(
    "sql, grouped",
    [
        ("SELECT institution, units FROM cc_enrollments", False),
        ("SELECT term, COUNT(*) AS n FROM cc_enrollments GROUP BY term", True),
        ("WITH g AS (SELECT term, SUM(units) u FROM e GROUP BY term) SELECT * FROM g", True),
        ("SELECT 'count' AS label, units FROM cc_enrollments -- sum", False),
    ],
)
def test_pandas_over_a_query_that_aggregates_gets_no_provenance(sql, grouped):
    """Its rows are groups, not records: counting them as records would be wrong both ways."""
    frame = pd.DataFrame({"term": ["FA", "SP", "FA"], "units": [120, 4, 98]})
    provenance.install()
    try:
        provenance.note_query(frame, sql, ["CC-101"])
        summed = frame.groupby("term")["units"].sum()
        shown = frame[frame.units > 5].groupby("term").size()  # derived frames keep the mark
    finally:
        provenance.uninstall()
        provenance.TRACKER.institutions.clear()
    assert (provenance.provenance_of(summed) is None) is grouped
    assert (provenance.provenance_of(shown) is None) is grouped
