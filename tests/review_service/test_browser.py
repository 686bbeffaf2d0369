"""Once in a real browser (Debian's chromium via Playwright): review, approve, download."""

import json
import zipfile

import pytest
import review_notebooks as notebooks
from playwright.sync_api import sync_playwright
from review_hub import sign_in, wait_for_service

from tests.support.browser import launch

pytestmark = pytest.mark.e2e  # a real hub, provider and sessions: slow


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


def browser_login(browser, enclave, stem):
    """Sign in through the provider's form, arriving at the review queue."""
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(f"{enclave.hub.url}/hub/oauth_login?next=/services/review/")
    page.fill("input[name=login]", enclave.names[stem])
    page.fill("input[name=password]", enclave.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{enclave.hub.url}/services/review/**")
    return context, page


def test_reviewer_approves_in_the_browser_and_researcher_downloads(enclave, browser, tmp_path):
    people = {stem: sign_in(enclave, stem) for stem in ("rita", "rev2", "scc", "suni")}
    wait_for_service(people["rita"])
    note = "Cell 3 prints a documented synthetic key from the codebook; please allow it."
    rid = people["rita"].submit(tmp_path, notebooks.blocked(), exception_note=note)["id"]

    context, page = browser_login(browser, enclave, "rev1")
    assert "1 request waits for your decision" in page.inner_text("#waiting-count")
    page.click(f"a[href$='requests/{rid}']")
    page.wait_for_selector("#decision-form")
    assert page.inner_text("#verdict") == "block"
    assert note in page.inner_text("#exception")
    assert "student-key" in page.inner_text("#findings")
    # the reviewer's rendering: the finding is highlighted beside its output
    rendering = page.frame_locator("#rendering")
    highlighted = rendering.locator(".enclave-finding.enclave-block")
    highlighted.first.wait_for()
    assert "student key" in highlighted.first.inner_text()
    page.check("input[value=approve]")
    page.fill("textarea[name=comment]", "Checked against the codebook.")
    page.click("#decision-form button[type=submit]")
    page.click("#confirm")  # a decision counts once confirmed on its own page
    page.wait_for_selector("#decisions")
    assert "Approve" in page.inner_text("#decisions")
    assert page.locator("#decision-form").count() == 0
    context.close()

    for stem in ("rev2", "scc", "suni"):
        assert people[stem].decide(rid).status_code == 200

    context, page = browser_login(browser, enclave, "rita")
    page.click(f"a[href$='requests/{rid}']")
    assert page.inner_text("#status") == "released"
    assert "Checked against the codebook." in page.inner_text("#comments")
    with page.expect_download() as info:
        page.click("#download")
    saved = tmp_path / "release.zip"
    info.value.save_as(saved)
    context.close()
    with zipfile.ZipFile(saved) as archive:
        manifest = json.loads(archive.read(f"{rid}/manifest.json"))
        report = archive.read(f"{rid}/report.html").decode()
    assert manifest["request_id"] == rid
    assert enclave.names["rev1"] in manifest["approvers"]
    assert rid in report and manifest["sha256"] in report
