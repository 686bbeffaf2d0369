"""Regenerate the labelled corpus: notebooks executed for real (nbclient, a python3 kernel)
over synthetic consortium data, each output labelled with the severity the gate must give.

    .venv/bin/python tests/output_review/corpus/make_corpus.py

Labels live in each cell's metadata: ``enclave_expected = {"source": SEV, "outputs": [SEV...]}``
(SEV is pass, review or block); notebook-level ones in ``metadata.enclave_expected``.
"""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent

SETUP = """
import numpy as np, pandas as pd
from IPython.display import HTML, JSON, Javascript, Latex, Markdown, display
rng = np.random.default_rng(7)
N = 3000
ALPHABET = list("0123456789abcdefghjkmnpqrstvwxyz")
students = pd.DataFrame({
    "student_key": ["stu_" + "".join(rng.choice(ALPHABET, 26)) for _ in range(N)],
    "institution": rng.choice(["K12-001", "K12-002", "CC-101", "CC-102", "UNI-201"], N),
    "birth_year": rng.integers(1998, 2008, N),
    "gender": rng.choice(["F", "M"], N),
    "ethnicity": rng.choice(["Asian", "Black", "Hispanic", "White"], N),
    "zip3": rng.choice(["900", "913", "917", "926"], N),
    "term": rng.choice(["2019FA", "2020SP", "2020FA"], N),
    "academic_year": rng.choice([2019, 2020], N),
    "grade_level": rng.integers(3, 9, N),
    "units": rng.integers(3, 16, N),
    "term_gpa": rng.uniform(1.5, 4.0, N).round(2),
})
# A handful of students in a rare category: the small cells a table must not show.
students.loc[:3, "ethnicity"] = "Pacific Islander"
"""


def cell(source, outputs=(), cell_source="pass", markdown=False, **metadata):
    make = new_markdown_cell if markdown else new_code_cell
    c = make(source.strip())
    c.metadata.update(metadata)
    c.metadata["enclave_expected"] = {"source": cell_source, "outputs": list(outputs)}
    return c


def aggregates_pass():
    """Safe outputs a naive check would block: years, CC-101, separators, margins, means."""
    return [
        cell(
            "# Completion by institution\nCounts below cover CC-101 and UNI-201, 2019-2020.",
            markdown=True,
        ),
        cell("pd.crosstab(students.institution, students.gender, margins=True)", ["pass"]),
        cell("students.groupby('academic_year').size()", ["pass"]),
        cell("students.groupby('grade_level').size()", ["pass"]),
        cell("students.groupby(['institution', 'academic_year']).size().unstack()", ["pass"]),
        cell("students.groupby('institution')['term_gpa'].mean().round(2)", ["pass"]),
        cell("students.institution.value_counts(normalize=True).mul(100).round(1)", ["pass"]),
        cell("print(f'Students in the cohort: {len(students) * 1000:,}')", ["pass"]),
        cell(
            "students.pivot_table(index='term', columns='zip3', values='units', "
            "aggfunc='count', margins=True)",
            ["pass"],
        ),
        cell("print(students.gender.value_counts().to_dict())", ["pass"]),
        cell(
            "X = np.column_stack([np.ones(N), students.units])\n"
            "coef, res, *_ = np.linalg.lstsq(X, students.term_gpa, rcond=None)\n"
            "pd.DataFrame({'coef': coef.round(4), 'std_err': [0.0312, 0.0041]}, "
            "index=['const', 'units'])",
            ["pass"],
        ),
        cell("print(f'OLS term_gpa ~ units: R2 = 0.013, n = {N:,}, df_model = 1')", ["pass"]),
        cell(
            "students.groupby('institution').agg(n=('units', 'size'), "
            "mean_units=('units', 'mean')).round(2)",
            ["pass"],
        ),
        cell("students[['birth_year', 'units', 'term_gpa']].describe().round(2)", ["pass"]),
        cell("Institutions: K12-001, CC-101 and UNI-201 joined in 2019.", markdown=True),
    ]


def small_counts_block():
    return [
        cell("pd.crosstab(students.ethnicity, students.institution, margins=True)", ["block"]),
        cell("students.ethnicity.value_counts()", ["block"]),
        cell("print(students.ethnicity.value_counts().to_dict())", ["block"]),
        cell("print(pd.crosstab(students.ethnicity, students.gender))", ["block"]),
        cell("students.ethnicity.value_counts().astype(float)", ["block"]),
        cell("display(HTML(pd.crosstab(students.ethnicity, students.zip3).to_html()))", ["block"]),
        cell(
            "display(Latex(pd.crosstab(students.ethnicity, students.gender).style.to_latex()))",
            ["block"],
        ),
        cell(
            "| group | n |\n|---|---|\n| Pacific Islander | 4 |\n| Other | 2,996 |",
            cell_source="block",
            markdown=True,
        ),
        cell(
            "band = np.where(students.birth_year < 2003, 'before 2003', '2003 or later')\n"
            "pd.crosstab(students.birth_year, band)",
            ["block"],  # zeros are disclosive (DisclosurePolicy.zeros, ACRO's default)
        ),
        cell("students.groupby(['institution', 'ethnicity']).size()", ["block"]),
        cell(
            "pd.crosstab(students.ethnicity, students.gender)",
            ["block"],
            jupyter={"source_hidden": True, "outputs_hidden": True},
        ),
    ]


def identifiers_block():
    return [
        cell("students.head()", ["block"]),
        cell("print(students.student_key.iloc[0])", ["block"]),
        cell('lookup = "stu_0123456789abcdefghjkmnpqrs"', cell_source="block"),
        cell("raise KeyError(students.student_key.iloc[1])", ["block"]),
        cell(
            "from faker import Faker\nfake = Faker('en_US'); Faker.seed(3)\n"
            "pd.DataFrame({'student_name': [fake.name() for _ in range(3)], "
            "'ethnicity': ['Asian', 'Black', 'White']})",
            ["block"],
        ),
        cell("print('contact:', fake.email())", ["block"]),
        cell("print('phone', fake.numerify('(###) 555-0###'))", ["block"]),
        cell("print('ssn', fake.ssn())", ["block"]),
        cell("print('home:', fake.street_address())", ["block"]),
        cell("print({'dob': '2006-04-12', 'grade_level': 8})", ["block"]),
        cell(
            "import sys; print('warning for', students.student_key.iloc[2], file=sys.stderr)",
            ["block"],
        ),
    ]


def listings_and_opaque_review():
    png = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
        "RU5ErkJggg=="
    )
    attached = cell("Figure: ![fig](attachment:fig.png)", cell_source="review", markdown=True)
    attached.attachments = {"fig.png": {"image/png": png}}
    return [
        cell(
            "students[['birth_year', 'gender', 'ethnicity', 'zip3', 'grade_level']].head()",
            ["review"],
        ),
        cell(
            "import matplotlib\nmatplotlib.use('module://matplotlib_inline.backend_inline')\n"
            "import matplotlib.pyplot as plt\n"
            "students.groupby('academic_year').size().plot.bar(); plt.show()",
            ["review"],
        ),
        cell("display(JSON({'cohort': 'all'}))", ["review"]),
        cell("display(Javascript('console.log(1)'))", ["review"]),
        cell("display(HTML('<b>done</b><script>alert(1)</script>'))", ["review"]),
        cell("print('x' * 120_000)", ["review"]),
        cell("pd.DataFrame({'n': np.arange(10, 1210)})", ["review"]),
        cell(
            "from IPython.display import display_markdown\n"
            "display({'application/x-custom': 'opaque'}, raw=True)",
            ["review"],
        ),
        attached,
    ]


OUTCOMES = """
courses = pd.DataFrame({
    "student_key": rng.choice(students.student_key, 6000),
    "institution": rng.choice(["CC-101", "CC-102"], 6000),
    "term": rng.choice(["2019FA", "2020SP", "2020FA"], 6000),
    "course_id": rng.choice(["MATH-101", "ENGL-001", "BIOL-110", "HIST-017"], 6000),
    "grade": rng.choice(list("ABCDF") + ["P", "W"], 6000),
    "units": rng.choice([3.0, 4.0, 5.0], 6000),
})
courses["success"] = courses.grade.isin(list("ABCP"))
awards = pd.DataFrame({
    "institution": ["CC-101"] * 60 + ["CC-102"] * 43,
    "award_type": ["AA"] * 30 + ["AS"] * 18 + ["CERT"] * 12 + ["AA"] * 25 + ["ADT"] * 18,
})
"""


def course_outcomes_mixed():
    """Another analyst's style: course outcomes and awards, as the warehouse shapes them."""
    return [
        cell(OUTCOMES),
        cell(
            "courses.groupby(['institution', 'course_id']).success.mean().mul(100).round(1)"
            ".unstack()",
            ["pass"],
        ),
        cell(
            "pd.crosstab(courses.course_id, courses.grade, margins=True, margins_name='Total')",
            ["pass"],
        ),
        cell("pd.crosstab(awards.award_type, awards.institution)", ["block"]),  # zeros
        cell("awards.groupby('institution').award_type.value_counts()", ["pass"]),
        cell(
            "early = awards.index < 5  # the first awards of the year\n"
            "awards.groupby(['institution', early]).size()",
            ["block"],
        ),
        cell(
            "courses[['term', 'course_id', 'grade', 'units']].sample(5, random_state=1)", ["review"]
        ),
        cell("courses.head(3)", ["block"]),
        cell(
            "print('Success rate by term (%):')\n"
            "print(courses.groupby('term').success.mean().mul(100).round(1).to_string())",
            ["pass"],
        ),
        cell(
            "summary = courses.groupby('term').agg(enrollments=('grade', 'size'), "
            "units=('units', 'sum'))\nsummary.style.format('{:,.0f}')",
            ["pass"],
        ),
        cell(
            "The success rate in MATH-101 rose by 3.2 points between 2019FA and 2020FA "
            "(n = 1,480 enrollments).",
            markdown=True,
        ),
    ]


def notebook_level():
    nb = notebook(
        [cell("students.groupby('term').size()", ["pass"])],
    )
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["enclave_expected"] = "review"
    return nb


def notebook(cells):
    nb = new_notebook(cells=[cell(SETUP), *cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def execute(nb):
    NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True).execute()
    return nb


CORPUS = {
    "aggregates_pass": lambda: notebook(aggregates_pass()),
    "small_counts_block": lambda: notebook(small_counts_block()),
    "identifiers_block": lambda: notebook(identifiers_block()),
    "listings_and_opaque_review": lambda: notebook(listings_and_opaque_review()),
    "notebook_level_review": notebook_level,
    "course_outcomes_mixed": lambda: notebook(course_outcomes_mixed()),
}


def main(names=()):
    for name, build in CORPUS.items():
        if names and name not in names:
            continue
        nb = execute(build())
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print(f"wrote {name}.ipynb ({len(nb.cells)} cells)")


if __name__ == "__main__":
    main(sys.argv[1:])
