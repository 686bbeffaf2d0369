"""The hub pages' pieces without a hub: the agreement as HTML and its readable version, and a
page with a next step for every reason a start can be refused."""

import re
from pathlib import Path

import pytest
from jupyterhub.spawner import SpawnException

from enclave.hub.agreement import DataUseAgreement
from enclave.hub.refusals import REFUSALS, refusal_for

HUB = Path(__file__).resolve().parents[2] / "hub"


def test_agreement_is_html_with_its_headings_and_principles():
    agreement = DataUseAgreement()
    html = agreement.html
    assert "<h2>Guiding Principles for Data Use</h2>" in html
    assert "<strong>Data Ownership</strong>" in html
    assert "# " not in html  # no raw Markdown left


def test_html_written_in_the_agreement_is_shown_as_text(tmp_path):
    text = tmp_path / "agreement.md"
    text.write_text("# Terms\n\n<script>alert(1)</script> <img src=x onerror=alert(2)>\n")
    html = DataUseAgreement(text_file=str(text)).html
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_version_reads_as_date_and_short_id(tmp_path):
    text = tmp_path / "agreement.md"
    text.write_text("# Terms\n")
    agreement = DataUseAgreement(text_file=str(text), effective="2026-11-29")
    assert re.fullmatch(r"2026-11-29 · [0-9a-f]{8}", agreement.label)
    assert agreement.version.startswith(agreement.short_id)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", DataUseAgreement(text_file=str(text)).effective)


def test_effective_date_must_be_a_date(tmp_path):
    with pytest.raises(ValueError, match=r"DataUseAgreement.effective .*YYYY-MM-DD"):
        DataUseAgreement(effective="next week")


def _reasons_raised(path: Path) -> set[str]:
    return set(re.findall(r'reason="([a-z-]+)"', path.read_text()))


@pytest.mark.parametrize("module", ["policy.py", "spawner.py", "kube.py"])
def test_every_refusal_the_spawners_raise_has_a_page(module):
    """A new ``SpawnException(reason=...)`` without a page here fails this test."""
    raised = _reasons_raised(HUB / module)
    assert raised <= set(REFUSALS), f"no page for {sorted(raised - set(REFUSALS))}"


@pytest.mark.parametrize("reason", sorted(REFUSALS))
def test_every_refusal_page_has_a_next_step(reason):
    page = refusal_for(SpawnException("project 'x': detail.", reason=reason))
    assert page.title and page.meaning and page.next_step
    assert page.detail == "project 'x': detail."
    assert page.next_url is None or not page.next_url.startswith(("/", "http"))


def test_unknown_failure_still_has_a_next_step_and_never_shows_its_text():
    page = refusal_for(RuntimeError("/srv/enclave/secret path and a value 42"))
    assert page.next_url == "home" and page.detail == ""
    assert refusal_for(None) is None
