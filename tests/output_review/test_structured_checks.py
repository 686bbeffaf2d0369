"""Exact checks on the structured data the Enclave kernel attaches (threshold on counts and on
records behind every statistic, N-K and p% dominance, residual degrees of freedom,
single-record statistics, proportions, zeros), and the text being read instead whenever the
structure cannot be trusted. Outputs are made by the kernel's own capture code, in-process."""

import copy

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from gate_helpers import displayed, executed, notebook, result
from traitlets.config import Config

from enclave.output_review.gate import Gate
from enclave.output_review.structured import MIMETYPE

pytestmark = pytest.mark.usefixtures("kernel_capture")


def students(n=400, seed=3):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "school": rng.choice(["Bayview", "Hillcrest", "Lakeside"], n),
            "gender": rng.choice(["F", "M"], n),
            "credits": rng.integers(1, 4, n) * 4,
            "gpa": rng.uniform(1, 4, n).round(2),
            "income": rng.exponential(1000, n).round(),
            "passed": rng.integers(0, 2, n),
        }
    )
    df.loc[:2, "school"] = "Seaside"  # three students
    return df


def findings(obj, config=None, **screen):
    report = Gate(config=config).screen(executed(displayed(obj)), **screen)
    return {(f.rule, f.severity) for f in report.findings}


def text_only(obj):
    """The same output as a notebook from elsewhere shows it: no structured data."""
    out = displayed(obj)
    out["data"].pop(MIMETYPE)
    return {(f.rule, f.severity) for f in Gate().screen(executed(out)).findings}


def test_counts_below_the_threshold_block_and_safe_counts_pass():
    df = students()
    assert findings(df.groupby("school").size()) == {("small-counts", "block")}
    assert findings(df[df.school != "Seaside"].groupby("school").size()) == set()
    assert findings(pd.crosstab(df.school, df.gender, margins=True)) == {("small-counts", "block")}


def test_a_zero_count_follows_the_policy():
    df = students()
    df.loc[df.school == "Lakeside", "gender"] = "F"
    table = pd.crosstab(df[df.school != "Seaside"].school, df.gender)
    assert findings(table) == {("small-counts", "block")}
    config = Config()
    config.DisclosurePolicy.zeros = "review"
    assert findings(table, config) == {("small-counts", "review")}


def test_the_records_behind_a_mean_are_counted_and_a_whole_mean_is_not_a_count():
    df = students()
    means = df.groupby("school")["credits"].mean().round()  # whole numbers, like counts
    assert ("small-counts", "block") in findings(means)  # Seaside: three records
    safe = df[df.school != "Seaside"].groupby("school")["credits"].mean().round()
    assert findings(safe) == set()
    assert ("small-counts", "block") in text_only(safe)  # the text alone reads them as counts


def test_dominance_nk_and_p_percent():
    df = students()
    df = df[df.school != "Seaside"].copy()
    df.loc[df.index[df.school == "Hillcrest"][0], "income"] = 10_000_000
    # one record is 90% or more of Hillcrest's sum (N-K rule)
    assert findings(df.groupby("school")["income"].sum()) == {("dominance", "block")}
    assert findings(df.groupby("school")["income"].mean()) == {("dominance", "block")}
    even = pd.DataFrame({"school": ["A"] * 20, "income": [100.0] * 20})
    assert findings(even.groupby("school")["income"].sum()) == set()


def test_p_percent_alone():
    # the rest (90) is less than 10% of the largest contribution (1000); N-K set out of reach
    cell = pd.DataFrame({"g": ["A"] * 12, "v": [1000, 1000] + [9] * 10})
    config = Config()
    config.DisclosurePolicy.nk_k = 0.99
    assert findings(cell.groupby("g")["v"].sum(), config) == {("dominance", "block")}
    config.DisclosurePolicy.p_ratio = 0.05
    assert findings(cell.groupby("g")["v"].sum(), config) == set()


def test_negative_contributions_need_review():
    cell = pd.DataFrame({"g": ["A"] * 12, "v": [-5.0] + [10.0] * 11})
    assert findings(cell.groupby("g")["v"].mean()) == {("dominance", "review")}


def test_min_max_and_quantiles_are_single_record_statistics():
    df = students()
    safe = df[df.school != "Seaside"]
    assert findings(safe.groupby("school")["gpa"].max()) == {("single-record", "review")}
    assert findings(safe.groupby("school")["gpa"].median()) == {("single-record", "review")}
    assert findings(df.groupby("school")["gpa"].max()) == {
        ("small-counts", "block"),  # Seaside: three records
        ("single-record", "review"),
    }
    assert findings(safe[["gpa", "credits"]].describe()) == {("single-record", "review")}


def test_a_standard_deviation_needs_degrees_of_freedom():
    ten = pd.DataFrame({"g": ["A"] * 10 + ["B"] * 11, "v": np.arange(21.0)})
    assert findings(ten.groupby("g")["v"].std()) == {("residual-dof", "block")}
    assert findings(ten[ten.g == "B"].groupby("g")["v"].std()) == set()


def test_models_need_ten_residual_degrees_of_freedom():
    rng = np.random.default_rng(0)
    for n, expected in ((10, {("residual-dof", "block")}), (60, set())):
        x = sm.add_constant(rng.normal(size=(n, 2)))
        y = x @ [1.0, 2.0, 3.0] + rng.normal(size=n)
        fitted = sm.OLS(y, x).fit()
        assert findings(fitted.summary()) == expected, n
        assert findings(fitted) == expected, n


def test_proportions_over_small_numerators_or_denominators():
    df = students()
    assert ("small-counts", "block") in findings(df.school.value_counts(normalize=True))
    shares = pd.crosstab(df.school, df.gender, normalize="index")
    assert findings(shares) == {("small-denominator", "block")}
    rates = df[df.school != "Seaside"].groupby("school")["passed"].mean()
    assert findings(rates) == set()
    percent = df.groupby("school").size() / len(df) * 100  # derived from counts
    assert ("small-counts", "block") in findings(percent)


def test_a_share_of_zero_or_one_is_a_zero():
    df = students()
    df = df[df.school != "Seaside"].copy()
    df.loc[df.school == "Lakeside", "passed"] = 1
    assert findings(df.groupby("school")["passed"].mean()) == {("small-counts", "block")}


def test_numpy_counts_and_counter_are_counts():
    from collections import Counter

    df = students()
    assert findings(np.unique(df.school, return_counts=True)) == {("small-counts", "block")}
    assert findings(Counter(df.school)) == {("small-counts", "block")}
    assert findings(Counter(df[df.school != "Seaside"].school)) == set()


def test_derived_objects_keep_their_provenance():
    df = students()
    counts = df.groupby(["school", "gender"]).size()
    for derived in (
        counts.unstack(),
        counts.reset_index(name="n"),
        counts.sort_values().head(20),
        counts.unstack().T,
        counts.to_frame("n"),
    ):
        assert findings(derived) == {("small-counts", "block")}, derived


def test_the_finding_names_the_cell_and_the_fix():
    df = students()
    out = displayed(df.groupby("school").size(), execution_count=7)
    nb = notebook(("x", []), ("counts", [out]))
    nb.cells[1].execution_count = 7
    (finding,) = Gate().screen(nb).findings
    assert finding.place == "cell 2 [7]" and finding.execution_count == 7
    assert finding.fix == "suppress" and "row 'Seaside'" in finding.message


# -- structured data the gate must not trust --------------------------------------------------


def untrusted(nb):
    report = Gate().screen(nb)
    return [f for f in report.findings if f.rule == "structured-data"], report


def safe_counts_output():
    df = students()
    return displayed(df[df.school != "Seaside"].groupby("school")["credits"].mean().round())


def test_edited_text_falls_back_to_the_text_checks():
    out = safe_counts_output()
    out["data"]["text/plain"] = out["data"]["text/plain"].replace("8.0", "3.0", 1)
    (distrust,), report = untrusted(executed(out))
    assert "changed after" in distrust.message and distrust.severity == "review"
    assert ("small-counts", "block") in {(f.rule, f.severity) for f in report.findings}


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda s: s.update(version=2), "version"),
        (lambda s: s.update(values="x"), "malformed"),
        (lambda s: s["cells"].update(statistic=[["mean"]]), "malformed"),
        (lambda s: s["cells"]["statistic"][0].__setitem__(0, "bogus"), "malformed"),
        (lambda s: s["values"][0].__setitem__(0, 99999.5), "numbers"),
        (lambda s: s.pop("digest"), "names no text"),
    ],
    ids=["unknown-version", "malformed", "ragged-cells", "unknown-statistic", "values", "digest"],
)
def test_bad_structured_data_is_reviewed_and_the_text_is_read(damage, reason):
    out = safe_counts_output()
    damage(out["data"][MIMETYPE])
    (distrust,), report = untrusted(executed(out))
    assert reason in distrust.message
    assert ("small-counts", "block") in {(f.rule, f.severity) for f in report.findings}


def test_structured_data_added_by_hand_is_not_trusted():
    out = safe_counts_output()
    never_run = notebook(("x", [copy.deepcopy(out)]))  # execution_count None
    assert "never run" in untrusted(never_run)[0][0].message
    as_stream = executed(result(out["data"]))
    as_stream.cells[0].outputs[0]["output_type"] = "display_data"
    assert untrusted(as_stream)[0] == []  # display_data is a real kernel output
    markdown = notebook(("x", []))
    markdown.cells[0]["cell_type"] = "markdown"
    markdown.cells[0]["outputs"] = [out]
    markdown.cells[0]["execution_count"] = 1
    assert "added by hand" in untrusted(markdown)[0][0].message


def test_numbers_are_compared_to_the_precision_shown():
    df = students()
    means = df.groupby("school")[["gpa", "income"]].mean()
    with pd.option_context("display.precision", 2):
        out = displayed(means)  # the text rounds to 2 decimals, the structure holds more
    assert untrusted(executed(copy.deepcopy(out)))[0] == []
    out["data"][MIMETYPE]["values"][1][0] += 0.01  # a mean the text does not show
    (distrust,), _ = untrusted(executed(out))
    assert "numbers" in distrust.message


def test_a_number_too_large_for_a_float_is_reviewed_not_a_crash():
    out = safe_counts_output()
    out["data"][MIMETYPE]["values"][0][0] = 10**400
    (distrust,), report = untrusted(executed(out))
    assert "numbers" in distrust.message and report.verdict != "pass"


def test_suppressed_cells_recoverable_from_margins_block():
    df = students()
    table = pd.crosstab(df.school, df.gender, margins=True)
    masked = table.mask(table < 10)
    assert findings(masked) == {("suppression", "block")}
    # the same in text only (ACRO's example: 4,318 shown against a total of 4,320)
    text = (
        "gender       F     M   All\nschool\nBayview    200   NaN   201\n"
        "Lakeside  2000  2118  4118\nAll       2200  2119  4319\n"
    )
    nb = executed(result({"text/plain": text}))
    assert ("suppression", "block") in {(f.rule, f.severity) for f in Gate().screen(nb).findings}


def test_suppression_that_holds_needs_review_not_a_block():
    table = pd.DataFrame(
        {"F": [np.nan, np.nan, 50, 100], "M": [np.nan, np.nan, 70, 120], "All": [40, 60, 120, 220]},
        index=pd.Index(["Bayview", "Hillcrest", "Lakeside", "All"], name="school"),
    )
    nb = executed(result({"text/plain": repr(table)}))  # two hidden cells in every line
    found = {(f.rule, f.severity) for f in Gate().screen(nb).findings}
    assert found == {("suppression", "review")}  # earlier releases may still give them back


def test_a_hidden_cell_recoverable_from_another_table_blocks():
    df = pd.DataFrame(
        {
            "school": ["Bayview"] * 60 + ["Seaside"] * 18,
            "gender": ["F", "M"] * 30 + ["F"] * 3 + ["M"] * 15,
        }
    )
    table = pd.crosstab(df.school, df.gender)
    masked = table.mask(table < 10)  # Seaside F (3) hidden, the only hidden cell of its row
    totals = df.groupby("school").size().rename("n")  # Seaside: 18
    nb = executed(displayed(masked))
    nb.cells.append(copy.deepcopy(nb.cells[0]))
    nb.cells[1].outputs = [displayed(totals)]
    found = {(f.cell, f.rule) for f in Gate().screen(nb).findings}
    assert (0, "suppression") in found
    alone = {(f.rule, f.severity) for f in Gate().screen(executed(displayed(masked))).findings}
    assert alone == {("suppression", "review")}


def test_a_table_of_totals_is_read_even_when_its_output_mentions_suppression():
    masked = "gender     F   M\nschool\nBayview   30  30\nSeaside  NaN  15\n"
    totals = "school\nBayview    60\nSeaside    18\nName: n, dtype: int64"
    nb = executed(result({"text/plain": masked}))
    nb.cells.append(copy.deepcopy(nb.cells[0]))
    # the words "suppressed" and "NaN" beside the totals: they still give Seaside F back
    nb.cells[1].outputs = [result({"text/plain": totals}, caption="no cell suppressed, no NaN")]
    found = {(f.cell, f.rule, f.severity) for f in Gate().screen(nb).findings}
    assert (0, "suppression", "block") in found


def test_structured_data_never_leaves_in_a_released_notebook(tmp_path):
    import json

    import nbformat

    from enclave.output_review.redact import redact, released_notebook

    nb = executed(displayed(students().groupby("school")["income"].mean()))
    data = nbformat.writes(nb).encode()
    assert MIMETYPE.encode() in data and b'"top"' in data
    released = released_notebook(data)
    assert MIMETYPE.encode() not in released
    assert json.loads(released)["cells"][0]["outputs"][0]["data"]["text/plain"]
    assert released_notebook(released) == released  # nothing to strip: unchanged bytes
    copy_ = redact(nb, Gate().screen(nb))
    assert MIMETYPE not in json.dumps(copy_)
