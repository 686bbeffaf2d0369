"""The text heuristics, for outputs that carry no structured data (print, f-strings, Counter,
outputs of other libraries, notebooks from elsewhere): every leak and every false block named
in issue 11, on real reprs made here. Each test failed before its fix."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from gate_helpers import notebook, result, stream

from enclave.output_review.gate import Gate

RNG = np.random.default_rng(11)
N = 80
STUDENTS = pd.DataFrame(
    {
        "school": RNG.choice(["Bayview", "Hillcrest", "Lakeside"], N),
        "student_key": [f"key{i}" for i in range(N)],
        "gpa": RNG.uniform(0, 4, N).round(2),
        "grade_level": RNG.integers(3, 9, N),
        "academic_year": RNG.choice([2019, 2020], N),
    }
)
STUDENTS.loc[:2, "school"] = "Seaside"  # three students: a count that must not leave


def screened(text: str, kind: str = "stdout"):
    output = stream(text) if kind == "stdout" else result({kind: text})
    return Gate().screen(notebook(("x", [output])))


def rules(text: str, kind: str = "stdout") -> set[tuple[str, str]]:
    return {(f.rule, f.severity) for f in screened(text, kind).findings}


def old_value_counts(column: str) -> pd.Series:
    """``value_counts()`` as pandas before 2.0 named it: the Series after the counted column,
    the index unnamed (pandas 2 names the Series "count" and the index after the column)."""
    return STUDENTS[column].value_counts().rename(column).rename_axis(None)


LEAKS = {
    "count-of-a-key-column": lambda: repr(STUDENTS.groupby("school")["student_key"].count()),
    "count-of-a-gpa-column": lambda: repr(STUDENTS.groupby("school")[["gpa"]].count()),
    "value-counts-pandas-1-grade-level": lambda: repr(old_value_counts("grade_level")),
    "value-counts-pandas-1-school": lambda: repr(old_value_counts("school")),
    "counter-most-common": lambda: str(Counter(STUDENTS.school).most_common()),
    "np-unique-return-counts": lambda: str(np.unique(STUDENTS.school, return_counts=True)),
    "dict-of-numpy-counts": lambda: str(
        dict(zip(*np.unique(STUDENTS.school, return_counts=True), strict=True))
    ),
    "nested-dict-of-counts": lambda: str({"CC-101": {"F": 3, "M": 40}, "CC-102": {"F": 31}}),
}


@pytest.mark.parametrize("name", LEAKS)
def test_small_counts_in_text_block(name):
    assert ("small-counts", "block") in rules(LEAKS[name]())


def test_a_count_of_a_year_column_is_a_count():
    counts = STUDENTS.groupby("school")["academic_year"].count()
    assert ("small-counts", "block") in rules(repr(counts))
    latest = STUDENTS.groupby("school")["academic_year"].max()  # years: not counts
    assert screened(repr(latest)).verdict == "pass"


@pytest.mark.parametrize(
    "labels",
    [
        pd.Series([3.9, 3.7], index=["Ada Lovelace", "Alan Turing"], name="gpa"),
        pd.DataFrame([[3.9, 3.7]], columns=["Grace Hopper", "Alan Turing"], index=["gpa"]),
        pd.Series([3.9, 3.7], index=["Lovelace, Ada", "Braund, Mr. Owen Harris"], name="gpa"),
    ],
    ids=["row-labels", "column-labels", "family-name-first"],
)
def test_person_names_as_labels_block(labels):
    assert ("direct-identifier", "block") in rules(repr(labels), "text/plain")


LISTINGS = {
    # person-level rows without any identifier or student-data column name
    "titanic-like": pd.DataFrame(
        {
            "Pclass": [3, 1, 3, 1, 3],
            "Sex": ["male", "female", "female", "female", "male"],
            "Age": [22, 38, 26, 35, 35],
            "Fare": [7.25, 71.28, 7.93, 53.1, 8.05],
        }
    ),
    # a long table printed as text: the whole of a data set
    "long-to-string": pd.DataFrame(
        {
            "term": RNG.choice(["2019FA", "2020SP"], 300),
            "units": RNG.integers(1, 20, 300),
            "grade": RNG.choice(list("ABCDF"), 300),
        }
    ),
}


@pytest.mark.parametrize("name", LISTINGS)
def test_listings_of_rows_need_review_whatever_their_columns(name):
    text = LISTINGS[name].to_string()
    assert rules(text) == {("record-listing", "review")}


def test_a_grouped_result_listed_by_position_is_not_a_listing():
    grouped = STUDENTS.groupby("school").agg(gpa=("gpa", "mean"), year=("academic_year", "max"))
    text = grouped.reset_index().to_string()
    assert screened(text).verdict == "pass"


def test_a_query_result_grouped_in_sql_is_checked_for_counts():
    """``SELECT term, COUNT(*) AS completers ... GROUP BY term``: a keyed table by position."""
    rows = pd.DataFrame({"term": ["2019FA", "2020SP", "2020FA"], "completers": [120, 4, 98]})
    assert ("small-counts", "block") in rules(repr(rows), "text/plain")


FALSE_BLOCKS = {
    # pandas' Series footer names the Series, not a person
    "series-footer": repr(pd.Series([120, 98], index=["F", "M"], name="Gender")),
    "index-repr-name": repr(pd.Index(["US", "FR"], name="Country")),
    "pokemon-in-name-column": repr(
        pd.DataFrame(
            {"name": ["Bulbasaur", "Mr. Mime", "Charmander"], "type": ["Grass", "Psychic", "Fire"]}
        )
    ),
    "city-in-name-column": repr(
        pd.DataFrame(
            {
                "name": ["San Francisco", "Paris", "Austin"],
                "population": [873_965, 2_102_650, 961_855],
            }
        )
    ),
    "min-max-table": repr(pd.DataFrame({"feature": ["age", "fare"], "min": [1, 0], "max": [8, 5]})),
    "statsmodels-latex-summary": "",  # filled below: 0.000 p-values are not zero counts
}


@pytest.mark.parametrize("name", FALSE_BLOCKS)
def test_false_blocks_of_the_text_heuristics_pass(name):
    text, kind = FALSE_BLOCKS[name], "text/plain"
    if name == "statsmodels-latex-summary":
        x = sm.add_constant(RNG.normal(size=(100, 2)))
        y = x @ [1.0, 2.0, 3.0] + RNG.normal(size=100)
        text, kind = sm.OLS(y, x).fit().summary().as_latex(), "text/latex"
        assert "0.000" in text
    assert screened(text, kind).verdict == "pass"


def test_record_attributes_in_a_listing_are_not_counts():
    """ids, quantities, 0/1 dummies in ``df.head()``: a listing to review, not small counts."""
    head = pd.DataFrame(
        {
            "PassengerId": [1, 2, 3, 4, 5],
            "Survived": [0, 1, 1, 1, 0],
            "SibSp": [1, 1, 0, 1, 0],
            "Parch": [0, 0, 0, 0, 0],
            "Quantity": [2, 5, 1, 3, 8],
        }
    )
    assert rules(repr(head), "text/plain") == {("record-listing", "review")}


@pytest.mark.parametrize("form", ["as_text", "as_html", "as_latex"])
def test_a_model_summary_with_few_residual_degrees_of_freedom_blocks(form):
    x = sm.add_constant(RNG.normal(size=(10, 2)))
    y = x @ [1.0, 2.0, 3.0] + RNG.normal(size=10)
    summary = sm.OLS(y, x).fit().summary()
    kind = {"as_text": "stdout", "as_html": "text/html", "as_latex": "text/latex"}[form]
    assert rules(getattr(summary, form)(), kind) == {("residual-dof", "block")}
