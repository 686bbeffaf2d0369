"""The labelled corpus: each case is the code of one output and the verdict and rules the
policy gives it, decided here from the data (group sizes, contributions, degrees of freedom)
by the policy's own rules — never by running the gate.

The policy (DisclosurePolicy's defaults, ACRO's): a count, or the records behind a statistic,
from 1 to 9 blocks (``small-counts``); a zero count or a share of 0 or 1 blocks; a proportion
of a group of fewer than 10 blocks (``small-denominator``); a standard deviation needs 11
records (``residual-dof``), a model 10 residual degrees of freedom; N-K (2, 90%) and p% (10%)
dominance block (``dominance``); min, max, median and quantiles need review
(``single-record``); a hidden cell that the table's margins or another table give back blocks,
one nothing here gives back needs review (``suppression``); a listing of records needs review
(``record-listing``), blocked with an identifier; keys and direct identifiers block;
images, scripts and unknown outputs need review. Every output is labelled the same whether it
is displayed (with the kernel's structured form) or printed (text only): what it discloses
does not depend on how it is shown.
"""

import numpy as np

from tests.output_review.labelled.data import frames

MIN, DOF = 10, 10
DATASETS = ("safe", "rare")
KEYS = ("school", "ethnicity", "gender")


def sizes(frame, keys):
    return frame.groupby(list(keys)).size()


def counts_label(frame, keys, complete=False):
    """Counts by ``keys``: any below MIN blocks; with ``complete``, every combination of the
    keys' values is a cell, so a missing one is a zero."""
    n = sizes(frame, keys)
    zero = complete and len(n) < np.prod([frame[k].nunique() for k in keys])
    return ("block", {"small-counts"}) if zero or (n < MIN).any() else ("pass", set())


def empties_hidden(label):
    """For a table that shows a group with no records as NaN (unstack, pivot_table, a
    crosstab of values): such a cell is a hidden cell, which needs review (``suppression``)
    unless the table blocks anyway."""

    def labelled(frame, keys):
        verdict, rules = label(frame, keys)
        empty = len(sizes(frame, keys)) < np.prod([frame[k].nunique() for k in keys])
        return (verdict, rules | {"suppression"}) if empty else (verdict, rules)

    return labelled


def magnitude_label(frame, keys):
    n = sizes(frame, keys)
    return ("block", {"small-counts"}) if (n < MIN).any() else ("pass", set())


def spread_label(frame, keys):
    n = sizes(frame, keys)
    return ("block", {"residual-dof"}) if (n - 1 < DOF).any() else ("pass", set())


def order_label(frame, keys):
    n = sizes(frame, keys)
    if (n < MIN).any():
        return "block", {"small-counts", "single-record"}
    return "review", {"single-record"}


def describe_label(frame, keys):
    """describe(): count, mean, std (which needs DOF + 1 records), min, quartiles, max."""
    verdict, rules = order_label(frame, keys)
    if (sizes(frame, keys) - 1 < DOF).any():
        rules = rules | {"residual-dof"}
    return verdict, rules


def share_label(frame, keys, column="passed"):
    """Means of a 0/1 column: a group under MIN is a small denominator; otherwise those
    with and without the attribute must each be MIN or more (or it is 0% / 100%)."""
    grouped = frame.groupby(list(keys))[column]
    n, k = grouped.size(), grouped.sum()
    if (n < MIN).any():
        return "block", {"small-denominator"}
    if (k < MIN).any() or (n - k < MIN).any():
        return "block", {"small-counts"}
    return "pass", set()


def normalized_label(frame, keys):
    """value_counts(normalize=True): each value's share of all rows."""
    n = sizes(frame, keys)
    if (n < MIN).any() or (len(frame) - n < MIN).any():
        return "block", {"small-counts"}
    return "pass", set()


def row_shares_label(frame, key, column="gender"):
    """crosstab(normalize='index'): each cell's share of its row."""
    rows = sizes(frame, [key])
    if (rows < MIN).any():
        return "block", {"small-denominator"}
    return counts_label(frame, [key, column], complete=True)


def indicator_sum_label(frame, keys, column="passed"):
    k = frame.groupby(list(keys))[column].sum()
    return ("block", {"small-counts"}) if (k < MIN).any() else ("pass", set())


# (code template, labeller); {d} is the data set, {k} the grouping column
OPERATIONS = [
    ("{d}.groupby('{k}').size()", lambda f, k: counts_label(f, [k])),
    ("{d}.groupby('{k}')['student_key'].count()", lambda f, k: counts_label(f, [k])),
    ("{d}.groupby('{k}')[['gpa']].count()", lambda f, k: counts_label(f, [k])),
    ("{d}['{k}'].value_counts()", lambda f, k: counts_label(f, [k])),
    (
        "{d}['{k}'].value_counts().rename('{k}').rename_axis(None)",
        lambda f, k: counts_label(f, [k]),
    ),
    ("{d}.groupby('{k}')['student_key'].nunique()", lambda f, k: counts_label(f, [k])),
    ("Counter({d}['{k}'])", lambda f, k: counts_label(f, [k])),
    ("Counter({d}['{k}']).most_common()", lambda f, k: counts_label(f, [k])),
    ("np.unique({d}['{k}'], return_counts=True)", lambda f, k: counts_label(f, [k])),
    ("dict({d}['{k}'].value_counts())", lambda f, k: counts_label(f, [k])),
    ("{d}.groupby('{k}').size().reset_index(name='n')", lambda f, k: counts_label(f, [k])),
    (
        "pd.crosstab({d}['{k}'], {d}.grade_level)",
        lambda f, k: counts_label(f, [k, "grade_level"], True),
    ),
    (
        "pd.crosstab({d}['{k}'], {d}.grade_level, margins=True)",
        lambda f, k: counts_label(f, [k, "grade_level"], True),
    ),
    (
        "{d}.groupby(['{k}', 'grade_level']).size().unstack()",
        lambda f, k: empties_hidden(lambda f, keys: counts_label(f, keys, True))(
            f, [k, "grade_level"]
        ),
    ),
    (
        "{d}.pivot_table(index='{k}', columns='grade_level', values='gpa', aggfunc='count')",
        lambda f, k: empties_hidden(lambda f, keys: counts_label(f, keys, True))(
            f, [k, "grade_level"]
        ),
    ),
    ("{d}.groupby('{k}')['gpa'].mean()", lambda f, k: magnitude_label(f, [k])),
    ("{d}.groupby('{k}')['gpa'].mean().round(2)", lambda f, k: magnitude_label(f, [k])),
    ("{d}.groupby('{k}')['income'].sum()", lambda f, k: magnitude_label(f, [k])),
    ("{d}.groupby('{k}')['credits'].mean()", lambda f, k: magnitude_label(f, [k])),
    (
        "{d}.groupby('{k}').agg(students=('gpa', 'size'), mean_gpa=('gpa', 'mean'))",
        lambda f, k: magnitude_label(f, [k]),
    ),
    (
        "pd.crosstab({d}['{k}'], {d}.academic_year, values={d}.gpa, aggfunc='mean')",
        lambda f, k: empties_hidden(magnitude_label)(f, [k, "academic_year"]),
    ),
    (
        "{d}.groupby(['{k}', 'academic_year'])['gpa'].mean().unstack()",
        lambda f, k: empties_hidden(magnitude_label)(f, [k, "academic_year"]),
    ),
    (
        "{d}.pivot_table(index='{k}', values='income', aggfunc='sum')",
        lambda f, k: magnitude_label(f, [k]),
    ),
    ("{d}.groupby('{k}')['gpa'].std()", lambda f, k: spread_label(f, [k])),
    ("{d}.groupby('{k}')['passed'].mean()", lambda f, k: share_label(f, [k])),
    ("{d}['{k}'].value_counts(normalize=True)", lambda f, k: normalized_label(f, [k])),
    (
        "pd.crosstab({d}['{k}'], {d}.grade_level, normalize='index')",
        lambda f, k: row_shares_label(f, k, "grade_level"),
    ),
    (
        "({d}.groupby('{k}').size() / len({d}) * 100).round(1)",
        lambda f, k: normalized_label(f, [k]),
    ),
    ("{d}.groupby('{k}')['passed'].sum()", lambda f, k: indicator_sum_label(f, [k])),
    ("{d}.groupby('{k}')['gpa'].max()", lambda f, k: order_label(f, [k])),
    ("{d}.groupby('{k}')['gpa'].median()", lambda f, k: order_label(f, [k])),
    ("{d}.groupby('{k}')['gpa'].agg(['min', 'max'])", lambda f, k: order_label(f, [k])),
    ("{d}.groupby('{k}')['gpa'].describe()", lambda f, k: describe_label(f, [k])),
]

# outputs with a verdict of their own: (code, verdict, rules)
FIXED = [
    ("safe[['gpa', 'income']].describe()", "review", {"single-record"}),
    ("rare[['gpa', 'credits']].describe()", "review", {"single-record"}),
    ("incomes.groupby('school')['income'].sum()", "block", {"dominance"}),
    ("incomes.groupby('school')['income'].mean()", "block", {"dominance"}),
    ("incomes[incomes.school != 'Hillcrest'].groupby('school')['income'].sum()", "pass", set()),
    ("safe.head()", "block", {"student-key", "record-listing"}),
    ("safe.drop(columns='student_key').head()", "review", {"record-listing"}),
    ("safe[['school', 'gender', 'gpa']].sample(5, random_state=1)", "review", {"record-listing"}),
    (
        "print(safe.drop(columns='student_key').iloc[:200].to_string())",
        "review",
        {"record-listing"},
    ),
    ("print(safe.iloc[:200].to_string())", "block", {"student-key", "record-listing"}),
    ("titanic.head()", "block", {"direct-identifier", "record-listing"}),
    ("titanic[['Pclass', 'Sex', 'Age', 'Fare']].head()", "review", {"record-listing"}),
    ("penguins.head()", "review", {"record-listing"}),
    ("pokemon", "review", {"record-listing"}),
    ("cities", "pass", set()),  # two columns: fewer than a listing needs (min_listing_columns)
    ("penguins.groupby('species')['body_mass_g'].mean()", "pass", set()),
    ("penguins.groupby('species').size()", "pass", set()),
    ("pd.crosstab(penguins.species, penguins.island)", "block", {"small-counts"}),
    ("penguins.groupby(['species', 'island']).size()", "pass", set()),
    ("titanic.groupby('Pclass')['Fare'].mean()", "pass", set()),
    ("titanic.groupby('Sex')['Survived'].mean()", "pass", set()),
    ("titanic.groupby(['Pclass', 'Sex']).size().unstack()", "pass", set()),
    ("titanic.Survived.value_counts()", "pass", set()),
    ("titanic.SibSp.value_counts()", "pass", set()),
    ("titanic.Parch.value_counts()", "pass", set()),
    ("titanic.groupby('Sex')['Age'].max()", "review", {"single-record"}),
    ("print(safe.student_key.iloc[0])", "block", {"student-key"}),
    ("print('contact: jane.doe@example.edu')", "block", {"direct-identifier"}),
    ("print('SSN 123-45-6789')", "block", {"direct-identifier"}),
    ("print({'student_name': 'Maria Lopez', 'gpa': 3.2})", "block", {"direct-identifier"}),
    (
        "pd.Series([3.9, 3.1], index=['Ada Lovelace', 'Alan Turing'], name='gpa')",
        "block",
        {"direct-identifier"},
    ),
    ("pd.Index(['US', 'FR', 'DE'], name='Country')", "pass", set()),
    ("safe.columns", "pass", set()),
    ("print(f'{len(safe):,} students in {safe.school.nunique()} schools')", "pass", set()),
    ("print('mean GPA', round(safe.gpa.mean(), 2))", "pass", set()),
    ("fit(safe.iloc[:60]).summary()", "pass", set()),
    ("fit(safe.iloc[:11]).summary()", "block", {"residual-dof"}),
    ("print(fit(safe.iloc[:60]).summary())", "pass", set()),
    ("print(fit(safe.iloc[:11]).summary())", "block", {"residual-dof"}),
    ("print(fit(safe.iloc[:12]).summary())", "block", {"residual-dof"}),
    ("display(Latex(fit(safe.iloc[:60]).summary().as_latex()))", "pass", set()),
    ("display(Latex(fit(safe.iloc[:11]).summary().as_latex()))", "block", {"residual-dof"}),
    ("display(HTML(fit(safe.iloc[:60]).summary().as_html()))", "pass", set()),
    ("display(HTML(fit(safe.iloc[:11]).summary().as_html()))", "block", {"residual-dof"}),
    ("fit(safe.iloc[:60])", "pass", set()),
    ("fit(safe.iloc[:11])", "block", {"residual-dof"}),
    ("logit(safe.iloc[:300]).summary()", "pass", set()),
    ("print(logit(safe.iloc[:300]).summary())", "pass", set()),
    ("suppressed(rare, margins=True)", "block", {"suppression"}),
    ("print(suppressed(rare, margins=True))", "block", {"suppression"}),
    # hidden cells nothing here gives back: a reviewer checks earlier releases (differencing)
    ("suppressed(rare, margins=False)", "review", {"suppression"}),
    ("print(suppressed(rare, margins=False))", "review", {"suppression"}),
    ("pd.crosstab(safe.school, safe.gender, margins=True)", "pass", set()),
    ("safe.groupby('school').size().plot.bar();", "review", {"image"}),
    ("display(JSON({'schools': 4}))", "review", {"opaque-output"}),
    ("display(HTML('<b>done</b><script>alert(1)</script>'))", "review", {"opaque-output"}),
    ("pd.DataFrame({'n': np.arange(100, 1300)})", "review", {"oversized"}),
]


def setup_code() -> str:
    return """
import numpy as np, pandas as pd, statsmodels.api as sm


from collections import Counter
from IPython.display import HTML, JSON, Latex, display
from tests.output_review.labelled.data import frames
globals().update(frames())

def fit(frame):
    return sm.OLS(frame.gpa, sm.add_constant(frame[["credits", "income"]])).fit()

def logit(frame):
    x = sm.add_constant(frame[["gpa", "credits"]])
    return sm.Logit(frame.passed, x).fit(disp=0)

def suppressed(frame, margins):
    \"\"\"Bayview and Seaside by gender, counts under 10 hidden (nothing else in the notebook
    gives these genders' totals).\"\"\"
    frame = frame[frame.school.isin(["Bayview", "Seaside"])]
    table = pd.crosstab(frame.school, frame.gender, margins=margins)
    return table.mask(table < 10)
"""


def cases():
    """(id, code, verdict, rules) for every output of the corpus."""
    data = frames()
    out = []
    for template, label in OPERATIONS:
        for name in DATASETS:
            for key in KEYS:
                expression = template.format(d=name, k=key)
                verdict, rules = label(data[name], key)
                stem = f"{name}:{key}:{template[:60]}"
                out.append((f"{stem}:display", expression, verdict, rules))
                out.append((f"{stem}:print", f"print({expression})", verdict, rules))
    for i, (code, verdict, rules) in enumerate(FIXED):
        out.append((f"fixed:{i}:{code[:60]}", code, verdict, set(rules)))
    return out
