"""Every role's review pages in a real browser (Debian's chromium), as a person sees them.

One request of project ``demo`` goes through the pages: the reviewer reads its tables (header
cells, no escaped markup), follows a finding to its output, decides per output and confirms;
the researcher sees the notice on the hub's home page and in "My requests", opens the request
(the notice ends), resubmits and reads what changed between the rounds; the steward of CC-101
sees the outputs that name their institution highlighted; an administrator searches the queue.
Screenshots of each page go to ``$ENCLAVE_TEST_ARTIFACTS`` (default: the test's tmp folder).
"""

import os
from pathlib import Path

import pytest
import review_notebooks as notebooks
from nbformat.v4 import new_code_cell, new_output
from playwright.sync_api import sync_playwright
from review_hub import sign_in, wait_for_service

from tests.support.browser import launch

pytestmark = pytest.mark.e2e  # a real hub, provider, service and browser: slow


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("ENCLAVE_TEST_ARTIFACTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"review-{name}.png"), full_page=True)


def open_as(browser, enclave, stem, path="/services/review/"):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{enclave.hub.url}/hub/oauth_login?next={path}")
    page.fill("input[name=login]", enclave.names[stem])
    page.fill("input[name=password]", enclave.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{enclave.hub.url}{path.split('?')[0]}**")
    return context, page


def ranked_tables():
    """The table notebook plus an output ranking both project institutions, one of them by a
    count the gate flags."""
    nb = notebooks.table_notebook()
    ranking = notebooks.table_html([("CC-101", 120), ("UNI-201", 4)])
    nb.cells.append(
        new_code_cell(
            "ranking",
            execution_count=22,
            outputs=[new_output("execute_result", data={"text/html": ranking}, execution_count=22)],
        )
    )
    return nb


@pytest.fixture(scope="module")
def request_id(enclave, tmp_path_factory):
    people = {stem: sign_in(enclave, stem) for stem in ("rita",)}
    wait_for_service(people["rita"])
    home = tmp_path_factory.mktemp("rita")
    note = "The small count in cell 7 is a synthetic fixture; please allow it."
    return people["rita"].submit(home, ranked_tables(), exception_note=note)["id"]


def test_reviewer_reads_tables_follows_a_finding_and_confirms_a_per_output_decision(
    enclave, browser, request_id, artifacts
):
    context, page = open_as(browser, enclave, "rev1", f"/services/review/requests/{request_id}")
    page.wait_for_selector("#decision-form")
    rendering = page.frame_locator("#rendering")
    headers = rendering.locator("th")
    headers.first.wait_for()
    texts = set(headers.all_inner_texts())
    assert {"mean_gpa", "students", "sector", "coef", "std err", "year"} <= texts
    body = rendering.locator("body").inner_text()
    assert "<thead" not in body and "<style" not in body and "<th>" not in body
    # project facts beside the request
    assert page.inner_text("#project-purpose") == "test project demo"
    assert "CC-101" in page.inner_text("#project-institutions")
    assert page.inner_text("#project-expiry")[:2] == "20"
    # findings name the cell as JupyterLab shows it and open it in the rendering
    link = page.locator("#findings a.finding-link", has_text="cell 7 [22]").first
    assert link.inner_text() == "cell 7 [22], output 1"
    link.click()
    rendering.locator(".enclave-output:target").wait_for()
    # the notebook takes the page's height, not a small frame
    frame_box = page.locator("#rendering").bounding_box()
    assert frame_box["height"] >= 0.8 * (900 - 60)
    shoot(page, artifacts, "reviewer-request")
    # nothing is preselected; a decision is confirmed before it counts
    assert page.locator("input[name=decision]:checked").count() == 0
    page.select_option("select[name='out-6-0']", "request_changes")
    page.fill("input[name='note-6-0']", "Combine the two smallest groups.")
    page.check("#decision-request_changes")
    page.fill("textarea[name=comment]", "One table needs changes; see cell 7.")
    page.click("#decision-form button[type=submit]")
    page.wait_for_selector("#confirm-decision")
    assert "request changes" in page.inner_text("#confirm-what")
    assert "cell 7 [22], output 1: Request changes" in page.inner_text("#confirm-outputs")
    shoot(page, artifacts, "reviewer-confirm")
    assert (
        sign_in(enclave, "rita").api("GET", f"api/requests/{request_id}").json()["status"]
        == "submitted"
    )  # not yet recorded
    page.click("#confirm")
    page.wait_for_selector("#decisions")
    assert page.inner_text("#status") == "changes requested"
    assert "Combine the two smallest groups." in page.inner_text("#output-decision-list")
    context.close()


def test_researcher_gets_the_notice_resubmits_and_sees_what_changed(
    enclave, browser, request_id, artifacts, tmp_path
):
    rita = sign_in(enclave, "rita")
    if rita.api("GET", f"api/requests/{request_id}").json()["status"] != "changes_requested":
        assert sign_in(enclave, "rev2").decide(request_id, "request_changes", "Fix it.").ok
    context, page = open_as(browser, enclave, "rita", "/hub/home")
    notice = page.locator("#review-notices")
    assert request_id in notice.inner_text() and "changes requested" in notice.inner_text()
    shoot(page, artifacts, "researcher-hub-notice")
    page.click(f"#review-notices a[href$='requests/{request_id}']")
    page.wait_for_selector("#request-panel")
    assert "resubmit" in page.inner_text("#still-needed")
    assert "Combine the two smallest groups." in page.inner_text("#output-decision-list")
    assert (
        page.locator("#resubmit")
        .get_attribute("href")
        .endswith(f"/user/{rita.name}/lab/tree/analysis.ipynb")
    )
    shoot(page, artifacts, "researcher-request")
    page.goto(f"{enclave.hub.url}/services/review/mine")
    assert page.locator("#enclave-notices").count() == 0  # seen: the notice is done
    row = page.locator(f"#mine-{request_id}")
    assert "changes requested" in row.inner_text() and "resubmit" in row.inner_text()
    shoot(page, artifacts, "researcher-mine")

    fixed = ranked_tables()
    fixed.cells[6].outputs[0]["data"]["text/html"] = notebooks.table_html(
        [("CC-101", 120), ("UNI-201", 40)]
    )
    rita.submit(tmp_path, fixed, resubmit=request_id)
    page.goto(f"{enclave.hub.url}/services/review/requests/{request_id}")
    page.click("a.round-changes")
    page.wait_for_selector("#changes")
    assert "outputs changed" in page.inner_text("#changes")
    assert "cell 7 [22]" in page.inner_text("#changes")
    shoot(page, artifacts, "researcher-round-changes")
    context.close()


def test_steward_sees_the_outputs_that_name_their_institution(
    enclave, browser, request_id, artifacts
):
    context, page = open_as(browser, enclave, "scc", "/services/review/steward")
    assert "CC-101" in page.inner_text("#steward-rule")
    row = page.locator(f"#steward-{request_id}")
    assert "cell 7 [22], output 1" in row.locator("a.named-output").first.inner_text()
    marks = row.locator("mark.enclave-mine").all_inner_texts()
    assert marks and set(marks) == {"CC-101"}
    assert "beside 1 other member" in row.inner_text()
    shoot(page, artifacts, "steward")
    context.close()


def test_admin_searches_and_sorts_the_queue(enclave, browser, request_id, artifacts):
    context, page = open_as(browser, enclave, "ada")
    page.fill("#q", request_id[-5:])
    page.select_option("#sort", "oldest")
    page.click("#queue-filter button[type=submit]")
    page.wait_for_url("**q=*")
    assert page.locator("#queue tbody tr").count() == 1
    assert request_id in page.inner_text("#queue")
    shoot(page, artifacts, "admin-queue")
    page.fill("#q", "no-such-notebook")
    page.click("#queue-filter button[type=submit]")
    page.wait_for_url("**q=no-such*")
    assert "No requests match" in page.inner_text("#queue")
    context.close()
