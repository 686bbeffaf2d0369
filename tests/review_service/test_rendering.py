"""The reviewer's view and the release HTML show every table as a table, and nothing runs.

Each notebook here holds real outputs: pandas (plain, grouped, MultiIndex columns, Styler),
statsmodels' summary and hand-written HTML. Before the renderer had its own sanitizer,
nbconvert's ``clean_html`` escaped ``<thead>``, ``<th>`` and ``<style>`` into visible text.
"""

import json
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from review_notebooks import table_notebook

from enclave.output_review.findings import Finding, GateReport
from enclave.output_review.render import render_html, sanitize_html
from enclave.review_service.release import RELEASE_TEMPLATE


class Page(HTMLParser):
    """Element names, header cells' text and attributes of a rendered page."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.header_cells: list[str] = []
        self._th: list[str] | None = None
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v or "") for k, v in attrs)
        if tag == "th":
            self._th = []

    def handle_endtag(self, tag):
        if tag == "th" and self._th is not None:
            self.header_cells.append("".join(self._th).strip())
            self._th = None

    def handle_data(self, data):
        self.text.append(data)
        if self._th is not None:
            self._th.append(data)


REPORT = GateReport(
    "tables.ipynb",
    [Finding(2, 0, "small-counts", "review", "a count below 10", execution_count=18)],
)


def release_html(nb) -> str:
    stamp = {
        "request_id": "r-0123456789",
        "project": "demo",
        "notebook": "tables.ipynb",
        "sha256": "0" * 64,
        "approvers": ["rosalind"],
        "stewards": {"CC-101": "stewcc"},
        "released": "2026-12-02T00:00:00+00:00",
        "purpose": "completion study",
        "permitted_use": "Internal use by CC-101 only.",
    }
    return render_html(nb, REPORT, template=RELEASE_TEMPLATE, extra=stamp)


@pytest.fixture(scope="module", params=["review", "release"])
def rendered(request):
    nb = table_notebook()
    html = render_html(nb, REPORT) if request.param == "review" else release_html(nb)
    return html


def test_every_table_keeps_its_header_cells(rendered):
    page = Page(rendered)
    headers = set(page.header_cells)
    # pandas: column names, the index name and index values are header cells
    assert {"mean_gpa", "students", "sector", "cc", "univ", "k12"} <= headers
    # MultiIndex columns of the unstacked frame
    assert {"2021FA", "2022SP", "term"} <= headers
    # statsmodels' summary tables
    assert {"Dep. Variable:", "coef", "std err", "const"} <= headers
    # a plain HTML table and the Markdown table
    assert {"year", "share"} <= headers
    assert page.tags.count("thead") >= 4 and "caption" in page.tags


def test_no_markup_is_shown_as_text(rendered):
    text = "".join(Page(rendered).text)
    for escaped in ("<thead", "<th>", "<style", "<tr>", "</table", "<h1", "<script"):
        assert escaped not in text
    assert "&lt;t" not in rendered and "&lt;style" not in rendered


def test_scripts_handlers_frames_forms_and_fetches_are_removed(rendered):
    page = Page(rendered)
    assert not {"script", "iframe", "form", "input", "object", "embed"} & set(page.tags)
    for tag, name, value in page.attrs:
        assert not name.startswith("on"), (tag, name)
        assert "javascript:" not in value.lower(), (tag, name)
        if name == "src":
            assert value.startswith("data:"), (tag, value)
        assert "x.test" not in value, (tag, name, value)
    assert "document.title" not in "".join(Page(rendered).text)


def test_inline_styles_keep_colour_and_lose_urls():
    cleaned = sanitize_html(
        "<div style='background-image:url(https://x.test/a); color: red'>a</div>"
    )
    assert "color:red" in cleaned.replace(" ", "") and "url(" not in cleaned


def test_review_view_anchors_each_cell_and_output_as_lab_counts():
    page = render_html(table_notebook(), REPORT)
    ids = {v for _, k, v in Page(page).attrs if k == "id"}
    assert {"cell-1", "cell-2", "cell-6", "cell-3-output-1"} <= ids
    assert "cell 3 [18]" in page
    # the finding sits beside the output it is about, inside that output's box
    box = page.index('id="cell-3-output-1"')
    assert box < page.index("a count below 10") < page.index('id="cell-4"')


def test_release_carries_its_permitted_use_on_the_page_and_in_print():
    page = release_html(table_notebook())
    assert page.count("Internal use by CC-101 only.") == 2  # the stamp and the footer
    assert 'id="enclave-use-footer"' in page and "position: fixed" in page


def test_release_package_html_renders_tables(tmp_path):
    from enclave.review_service.release import build_package

    nb = table_notebook()
    data = json.dumps(nb).encode()
    request = SimpleNamespace(
        id="r-0123456789",
        project="demo",
        notebook="tables.ipynb",
        sha256="0" * 64,
        purpose="completion study",
        round=1,
        gate_report=json.dumps(REPORT.to_dict()),
        institutions='["CC-101"]',
        release_use="internal",
        recipients='["CC-101"]',
    )
    progress = SimpleNamespace(approvers=["rosalind"], reviewers=["rosalind"], stewards={})
    import io
    import zipfile

    package = zipfile.ZipFile(io.BytesIO(build_package(request, progress, data, nb)))
    report = package.read("r-0123456789/report.html").decode()
    assert {"mean_gpa", "coef"} <= set(Page(report).header_cells)
    assert "&lt;thead" not in report


def test_only_a_long_notebook_defers_laying_out_the_cells_off_screen():
    from nbformat.v4 import new_code_cell, new_notebook

    deferred = "content-visibility: auto"
    short = new_notebook(cells=[new_code_cell("x = 1") for _ in range(200)])
    long = new_notebook(cells=[new_code_cell("x = 1") for _ in range(201)])
    assert deferred not in render_html(short, GateReport("long.ipynb", []))
    assert deferred in render_html(long, GateReport("long.ipynb", []))
