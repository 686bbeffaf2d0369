"""Which institutions must sign off: lineage, project fallback, names in output tables."""

from types import SimpleNamespace

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from output_review.service.stewards import (
    lineage_institutions,
    named_in_tables,
    required_institutions,
)

NAMES = {
    "K12-001": "Harbor Valley Unified School District",
    "CC-101": "Bayline Community College",
    "CC-102": "Sierra Foothill Community College",
    "UNI-201": "Pacific Coast State University",
}


def query(notebook, institutions):
    return SimpleNamespace(details={"notebook": notebook, "institutions": institutions})


def nb_with(*outputs, markdown=None):
    cells = [new_code_cell("x", outputs=list(outputs))]
    if markdown:
        cells.append(new_markdown_cell(markdown))
    return new_notebook(cells=cells)


def html_table(text):
    html = f"<p>{text}</p><table><tr><td>{text}</td></tr></table>"
    return new_output("execute_result", data={"text/html": html})


def test_lineage_is_matched_by_notebook_file_name():
    events = [
        query("work/analysis.ipynb", ["CC-101"]),
        query("other.ipynb", ["K12-001"]),
        query("analysis.ipynb", ["UNI-201"]),
    ]
    assert lineage_institutions(events, "analysis.ipynb") == {"CC-101", "UNI-201"}


def test_project_institutions_apply_only_without_lineage():
    nb = nb_with()
    with_lineage = required_institutions(
        nb=nb,
        notebook="a.ipynb",
        query_events=[query("a.ipynb", ["CC-101"])],
        project_institutions=lambda: ["CC-101", "CC-102"],
        institutions=NAMES,
    )
    assert with_lineage == {"CC-101": ["lineage"]}
    without = required_institutions(
        nb=nb,
        notebook="a.ipynb",
        query_events=[],
        project_institutions=lambda: ["CC-101", "CC-102"],
        institutions=NAMES,
    )
    assert set(without) == {"CC-101", "CC-102"}


def test_institutions_named_in_tables_need_their_stewards_even_with_lineage():
    nb = nb_with(html_table("Pacific Coast State University"))
    reasons = required_institutions(
        nb=nb,
        notebook="a.ipynb",
        query_events=[query("a.ipynb", ["CC-101"])],
        project_institutions=lambda: [],
        institutions=NAMES,
    )
    assert reasons == {"CC-101": ["lineage"], "UNI-201": ["named in an output table"]}


def test_codes_in_plain_text_tables_and_markdown_tables_count():
    frame = new_output(
        "execute_result", data={"text/plain": "  institution  rate\n0  CC-102  0.4\n1 k12-001 0.5"}
    )
    assert named_in_tables(nb_with(frame), NAMES) == {"CC-102", "K12-001"}
    assert named_in_tables(nb_with(markdown="| CC-101 | 3 |"), NAMES) == {"CC-101"}


def test_a_single_value_or_prose_is_not_a_table_and_lookalike_codes_do_not_match():
    single = new_output("execute_result", data={"text/plain": "'CC-101'"})
    prose = new_output("execute_result", data={"text/html": "<p>UNI-201 only in prose</p>"})
    lookalike = new_output("stream", name="stdout", text="CC-1010 x\nXCC-101\n")
    assert named_in_tables(nb_with(single, prose, lookalike), NAMES) == set()
