"""ACRO's example analyses: (id, ACRO's call, the plain pandas/statsmodels equivalent).

Both sides see ``nursery`` (ACRO's demo data, children made numeric as in the demos, with a
fixed seed) and ``charities`` (ACRO's test data); ACRO's side has ``acro`` (an ``ACRO``
session, suppression set per analysis: ids ending in ``:suppressed``). The plain side of a
suppressed analysis hides what ACRO hides (cells under the threshold, zeros) by hand, as a
researcher without ACRO would. Importable by both venvs: only numpy, pandas and scipy.
"""

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent

SETUP = """
import numpy as np, pandas as pd, statsmodels.api as sm
from benchmarks.acro_examples.analyses import load
nursery, charities = load()
grants = charities[["inc_activity", "inc_grants", "inc_donations", "total_costs"]].dropna()
survivors = charities[
    ["survivor", "inc_activity", "inc_grants", "inc_donations", "total_costs"]
].dropna()
survivors = survivors.assign(survivor=survivors.survivor.cat.codes)
recommend = nursery.assign(recommend=nursery.recommend.map(
    {"not_recom": 0, "recommend": 1, "very_recom": 2, "priority": 3, "spec_prior": 4}))
finance = nursery.assign(finance=nursery.finance.astype("category").cat.codes)


def redacted(index, columns, values=None, aggfunc=None, margins=False):
    \"\"\"What ACRO's suppression outputs, in plain pandas: the records of every cell of fewer
    than 10 dropped, the table made again (its margins too), empty cells hidden.\"\"\"
    index = index if isinstance(index, list) else [index]
    keys = pd.concat([*index, columns], axis=1)
    counts = keys.value_counts()
    keep = ~pd.MultiIndex.from_frame(keys).isin(counts[counts < 10].index)

    def kept(series):  # every category stays, as ACRO keeps them
        categories = pd.Categorical(series, categories=sorted(series.unique()))
        return pd.Series(categories, index=series.index, name=series.name)[keep]

    table = pd.crosstab(
        [kept(s) for s in index], kept(columns),
        values=None if values is None else values[keep], aggfunc=aggfunc,
        margins=margins, dropna=False,
    )
    return table.replace(0, np.nan)
"""


def load():
    from scipy.io.arff import loadarff

    with gzip.open(HERE / "nursery.arff.gz", "rt") as f:
        data = loadarff(io.StringIO(f.read()))
    nursery = pd.DataFrame(data[0]).select_dtypes([object])
    nursery = nursery.stack().str.decode("utf-8").unstack()
    nursery = nursery.rename(columns={"class": "recommend"})
    children = pd.to_numeric(nursery["children"].replace({"more": "4"}))
    rng = np.random.default_rng(2023)
    nursery["children"] = np.where(children <= 3, children, rng.integers(4, 10, len(children)))
    with gzip.open(HERE / "test_data.dta.gz") as f:
        charities = pd.read_stata(io.BytesIO(f.read()))
    return nursery, charities


CT = "pd.crosstab(nursery.recommend, nursery.parents)"
CT_M = "pd.crosstab(nursery.recommend, nursery.parents, margins=True)"
MEAN_PF = (
    "pd.crosstab([nursery.parents, nursery.finance], nursery.recommend, "
    "values=nursery.children, aggfunc='{agg}', margins={margins})"
)


def year_grant(agg=None, margins=False) -> str:
    extra = f", values=charities.inc_grants, aggfunc='{agg}'" if agg else ""
    extra += ", margins=True" if margins else ""
    return f"pd.crosstab(charities.year, charities.grant_type{extra})"


def acro_of(plain: str) -> str:
    return "acro." + plain.removeprefix("pd.")


ANALYSES = [
    # acro_demo_2026.ipynb, acro_demo.py, acro_demo_v2.py, test-nursery.ipynb
    ("demo:crosstab", "acro.crosstab(nursery.recommend, nursery.parents)", CT),
    (
        "demo:crosstab-names",
        "acro.crosstab(nursery.recommend, nursery.parents, rownames=['recommendation'], "
        "colnames=['parents'])",
        "pd.crosstab(nursery.recommend, nursery.parents, rownames=['recommendation'], "
        "colnames=['parents'])",
    ),
    (
        "demo:crosstab:suppressed",
        "acro.crosstab(nursery.recommend, nursery.parents)",
        "redacted(nursery.recommend, nursery.parents)",
    ),
    (
        "demo:crosstab-margins",
        "acro.crosstab(nursery.recommend, nursery.parents, margins=True)",
        CT_M,
    ),
    (
        "demo:crosstab-margins:suppressed",
        "acro.crosstab(nursery.recommend, nursery.parents, margins=True)",
        "redacted(nursery.recommend, nursery.parents, margins=True)",
    ),
    (
        "demo:crosstab-count-values",
        "acro.crosstab(nursery.recommend, nursery.parents, values=nursery.children, "
        "aggfunc='count')",
        "pd.crosstab(nursery.recommend, nursery.parents, values=nursery.children, aggfunc='count')",
    ),
    (
        "demo:crosstab-mode-mean",
        "acro.crosstab(nursery.recommend, nursery.parents, values=nursery.children, "
        "aggfunc=['mode', 'mean'])",
        "pd.crosstab(nursery.recommend, nursery.parents, values=nursery.children, "
        "aggfunc=[lambda x: x.mode().iloc[0], 'mean'])",
    ),
    (
        "demo:mean-parents-finance-margins",
        "acro.crosstab(index=[nursery.parents, nursery.finance], columns=nursery.recommend, "
        "values=nursery.children, aggfunc='mean', margins=True)",
        MEAN_PF.format(agg="mean", margins=True),
    ),
    (
        "demo:mean-parents-finance-margins:suppressed",
        "acro.crosstab(index=[nursery.parents, nursery.finance], columns=nursery.recommend, "
        "values=nursery.children, aggfunc='mean', margins=True)",
        "redacted([nursery.parents, nursery.finance], nursery.recommend, "
        "values=nursery.children, aggfunc='mean', margins=True)",
    ),
    (
        "demo:pivot-mean-std",
        "acro.pivot_table(nursery, index=['parents'], values=['children'], "
        "aggfunc=['mean', 'std'])",
        "nursery.pivot_table(index=['parents'], values=['children'], aggfunc=['mean', 'std'])",
    ),
    (
        "demo:pivot-recommend-margins",
        "acro.pivot_table(nursery, columns=['recommend'], index=['parents'], "
        "values=['children'], margins=True)",
        "nursery.pivot_table(columns=['recommend'], index=['parents'], values=['children'], "
        "margins=True)",
    ),
    (
        "demo:ols",
        "acro.ols(recommend.recommend, sm.add_constant(recommend.children))",
        "sm.OLS(recommend.recommend, sm.add_constant(recommend.children)).fit().summary()",
    ),
    (
        "demo:olsr",
        "acro.olsr(formula='recommend ~ children', data=recommend)",
        "import statsmodels.formula.api as smf\n"
        "smf.ols('recommend ~ children', data=recommend).fit().summary()",
    ),
    (
        "demo:probit",
        "acro.probit(finance.finance, sm.add_constant(finance.children))",
        "sm.Probit(finance.finance, sm.add_constant(finance.children)).fit(disp=0).summary()",
    ),
    (
        "demo:logit",
        "acro.logit(finance.finance, sm.add_constant(finance.children))",
        "sm.Logit(finance.finance, sm.add_constant(finance.children)).fit(disp=0).summary()",
    ),
    # test.Rmd (ACRO for R) on the charity data
    (
        "rmd:crosstab-mean",
        "acro.crosstab(charities.year, charities.grant_type, values=charities.inc_grants, "
        "aggfunc='mean')",
        year_grant("mean"),
    ),
    (
        "rmd:pivot-mean-std",
        "acro.pivot_table(charities, index='grant_type', values='inc_grants', "
        "aggfunc=['mean', 'std'])",
        "charities.pivot_table(index='grant_type', values='inc_grants', aggfunc=['mean', 'std'])",
    ),
    (
        "rmd:lm",
        "acro.ols(grants.inc_activity, sm.add_constant(grants[['inc_grants', 'inc_donations', "
        "'total_costs']]))",
        "sm.OLS(grants.inc_activity, sm.add_constant(grants[['inc_grants', 'inc_donations', "
        "'total_costs']])).fit().summary()",
    ),
    (
        "rmd:logit",
        "acro.logit(survivors.survivor, sm.add_constant(survivors.drop(columns='survivor')))",
        "sm.Logit(survivors.survivor, sm.add_constant(survivors.drop(columns='survivor')))"
        ".fit(disp=0).summary()",
    ),
    (
        "rmd:probit",
        "acro.probit(survivors.survivor, sm.add_constant(survivors.drop(columns='survivor')))",
        "sm.Probit(survivors.survivor, sm.add_constant(survivors.drop(columns='survivor')))"
        ".fit(disp=0).summary()",
    ),
    # ACRO's tests of tables and regressions (test/test_tables.py, test/test_regressions.py)
    ("test:crosstab", acro_of(year_grant()), year_grant()),
    ("test:crosstab-margins", acro_of(year_grant(margins=True)), year_grant(margins=True)),
    *(
        (f"test:crosstab-{agg}", acro_of(year_grant(agg)), year_grant(agg))
        for agg in ("sum", "std", "median", "max")
    ),
    (
        "test:crosstab-mean-std",
        "acro.crosstab(charities.year, charities.grant_type, values=charities.inc_grants, "
        "aggfunc=['mean', 'std'])",
        "pd.crosstab(charities.year, charities.grant_type, values=charities.inc_grants, "
        "aggfunc=['mean', 'std'])",
    ),
    (
        "test:crosstab-hierarchical",
        "acro.crosstab([charities.year, charities.survivor], charities.grant_type)",
        "pd.crosstab([charities.year, charities.survivor], charities.grant_type)",
    ),
    (
        "test:crosstab-negatives",
        "acro.crosstab(charities.year, charities.grant_type, values=charities.balance, "
        "aggfunc='mean')",
        "pd.crosstab(charities.year, charities.grant_type, values=charities.balance, "
        "aggfunc='mean')",
    ),
    (
        "test:pivot-sum",
        "acro.pivot_table(charities, index=['grant_type'], values=['inc_grants'], aggfunc=['sum'])",
        "charities.pivot_table(index=['grant_type'], values=['inc_grants'], aggfunc=['sum'])",
    ),
    (
        "test:pivot-year-grant",
        "acro.pivot_table(charities, index=['year'], columns=['grant_type'], "
        "values=['inc_grants'], aggfunc=['mean'])",
        "charities.pivot_table(index=['year'], columns=['grant_type'], values=['inc_grants'], "
        "aggfunc=['mean'])",
    ),
    (
        "test:crosstab:suppressed",
        acro_of(year_grant()),
        "redacted(charities.year, charities.grant_type)",
    ),
    (
        "test:crosstab-margins:suppressed",
        acro_of(year_grant(margins=True)),
        "redacted(charities.year, charities.grant_type, margins=True)",
    ),
    (
        "test:ols-10-rows",
        "acro.ols(grants.inc_activity.iloc[:10], grants[['inc_grants', 'inc_donations', "
        "'total_costs']].iloc[:10])",
        "sm.OLS(grants.inc_activity.iloc[:10], grants[['inc_grants', 'inc_donations', "
        "'total_costs']].iloc[:10]).fit().summary()",
    ),
    (
        "test:ols-11-rows",
        "acro.ols(grants.inc_activity.iloc[:11], grants[['inc_grants', 'inc_donations', "
        "'total_costs']].iloc[:11])",
        "sm.OLS(grants.inc_activity.iloc[:11], grants[['inc_grants', 'inc_donations', "
        "'total_costs']].iloc[:11]).fit().summary()",
    ),
    (
        "test:ols",
        "acro.ols(grants.inc_activity, grants[['inc_grants', 'inc_donations', 'total_costs']])",
        "sm.OLS(grants.inc_activity, grants[['inc_grants', 'inc_donations', 'total_costs']])"
        ".fit().summary()",
    ),
]
