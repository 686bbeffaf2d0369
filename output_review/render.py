"""The reviewer's view: an nbconvert HTML export (template ``templates/review``) that shows
each finding beside its output. Self-contained: inline CSS, no script, sanitized outputs.

Output HTML is cleaned by ``sanitize_html`` (the Ammonia sanitizer through ``nh3``), which
replaces nbconvert's ``clean_html`` filter: that one allows only bleach's inline tags plus
``table/tr/td``, so every pandas or statsmodels table came out with its ``<style>``,
``<thead>`` and ``<th>`` cells as escaped text. Here tables, headings, lists and code keep their
markup; scripts, event handlers, styles that could fetch, frames, forms and links to anything
but ``http(s)``/``mailto`` are removed, and images are kept only as inline ``data:image/``.
"""

import copy
import warnings

import nh3
from nbconvert import HTMLExporter

from enclave.output_review.findings import GateReport
from enclave.output_review.redact import marks
from enclave.templates import templates_root

TABLE_TAGS = {"table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td"}
TEXT_TAGS = {
    *("h1", "h2", "h3", "h4", "h5", "h6", "p", "div", "span", "br", "hr", "blockquote"),
    *("pre", "code", "kbd", "samp", "var", "em", "strong", "b", "i", "u", "s", "small"),
    *("sub", "sup", "mark", "del", "ins", "abbr", "q", "cite", "dfn", "time", "data"),
    *("ul", "ol", "li", "dl", "dt", "dd", "details", "summary", "figure", "figcaption"),
    *("a", "img", "section", "article", "header", "footer", "aside", "center"),
}
ALLOWED_TAGS = TABLE_TAGS | TEXT_TAGS
# removed with everything inside them (a <style> block could fetch or hide content)
DROPPED_WITH_CONTENT = {"script", "style", "template", "noscript", "iframe", "object", "embed"}
CELL_ATTRIBUTES = {"colspan", "rowspan", "scope", "headers", "align", "valign"}
ALLOWED_ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir", "style"},
    "th": CELL_ATTRIBUTES,
    "td": CELL_ATTRIBUTES,
    "col": {"span", "align"},
    "colgroup": {"span", "align"},
    "table": {"border", "summary", "align"},
    "tr": {"align", "valign"},
    "thead": {"align", "valign"},
    "tbody": {"align", "valign"},
    "ol": {"start", "type", "reversed"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "time": {"datetime"},
    "data": {"value"},
}
# inline styles (pandas Styler, statsmodels) keep only properties that cannot load anything
STYLE_PROPERTIES = {
    *("color", "background-color", "font-weight", "font-style", "font-size", "font-family"),
    *("text-align", "vertical-align", "text-decoration", "white-space", "width", "min-width"),
    *("max-width", "height", "padding", "padding-left", "padding-right", "padding-top"),
    *("padding-bottom", "margin", "margin-left", "margin-right", "border", "border-top"),
    *("border-bottom", "border-left", "border-right", "border-collapse", "border-color"),
    *("border-width", "border-style", "display", "opacity"),
}
IMAGE_PREFIX = "data:image/"


def _attribute_filter(tag: str, name: str, value: str) -> str | None:
    if name == "src":  # images only inline: a URL would fetch (and tell who opened the page)
        return value if value.lower().startswith(IMAGE_PREFIX) else None
    if name == "href" and value.lower().lstrip().startswith("data:"):
        return None
    return value


def sanitize_html(fragment) -> str:
    """``fragment`` (an output's HTML, a rendered Markdown cell) with its structure kept and
    everything that could run, fetch or submit removed."""
    text = fragment.decode() if isinstance(fragment, bytes) else str(fragment)
    return nh3.clean(
        text,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto", "data"},
        filter_style_properties=STYLE_PROPERTIES,
        link_rel="noopener noreferrer",
    )


def cell_anchor(position: int) -> str:
    """The rendering's anchor of the ``position``-th cell (1-based, as JupyterLab counts)."""
    return f"cell-{position}"


def annotate(nb, report: GateReport, output_marks=None):
    """A copy of ``nb`` whose cells and outputs carry their findings for the template: each
    cell its position (``cell.metadata.enclave_position``, 1-based, for its anchor), each
    output its index (``enclave_output``) and, from ``output_marks`` ({(cell, output): text},
    e.g. a re-execution's "reproduced"/"differs"), its mark (``enclave_mark``)."""
    output_marks = output_marks or {}
    out = copy.deepcopy(nb)
    for cell_index, cell in enumerate(out.cells):
        cell.metadata["enclave_position"] = cell_index + 1
        if found := report.for_output(cell_index, None):
            cell.metadata["enclave_findings"] = marks(found)
        for output_index, output in enumerate(cell.get("outputs", ())):
            meta = output.setdefault("metadata", {})
            meta["enclave_output"] = output_index
            if found := report.for_output(cell_index, output_index):
                meta["enclave_findings"] = marks(found)
            if mark := output_marks.get((cell_index, output_index)):
                meta["enclave_mark"] = mark
    return out


def render_html(
    nb, report: GateReport, template: str = "review", extra=None, output_marks=None
) -> str:
    """HTML of ``nb`` with ``report``'s findings; ``extra`` (a dict) reaches the template as
    ``resources.enclave.extra`` (the release package stamps request id, approvers, hash);
    ``output_marks`` as for ``annotate``."""
    exporter = HTMLExporter(
        template_name=template,
        extra_template_basedirs=[str(templates_root())],
        sanitize_html=True,
        embed_images=True,
        exclude_anchor_links=True,
        filters={"clean_html": sanitize_html},
    )
    severities = [f.severity for f in report.findings]
    resources = {
        "enclave": {
            "notebook": report.notebook,
            "verdict": report.verdict,
            "counts": {s: severities.count(s) for s in ("block", "review")},
            "notebook_findings": marks(report.for_output(None, None)),
            "extra": dict(extra or {}),
        }
    }
    with warnings.catch_warnings():
        # an output nbconvert cannot show already has an opaque-output finding beside it
        warnings.filterwarnings("ignore", "Your element with mimetype", UserWarning)
        body, _ = exporter.from_notebook_node(
            annotate(nb, report, output_marks), resources=resources
        )
    return body
