"""Issue 14 end to end: a project asked for by a researcher and decided by the owners, in the
real provider, hub, review service, sessions and chromium (screenshots of each page).

rita requests ``transfer`` in the review service (students and cc_awards of CC-101, students of
UNI-201); CC-101's steward approves less (students without ethnicity or zip3), UNI-201's
approves in full; rita's session reads exactly that; UNI-201's steward withdraws mid-session:
the session stops, the next one reads CC-101's rows only; an internal release is signed by the
steward whose data it used and its recipient's; an external one by a steward of every member.
"""

import io
import json
import os
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright
from review_hub import sign_in, wait_for_service
from review_notebooks import passing, to_bytes

from devstack.enclave import running_enclave
from devstack.kernel import run
from devstack.researcher import Researcher
from tests.support.browser import launch

pytestmark = pytest.mark.e2e  # a real hub, provider, service, sessions and browser: slow

STEWARDS = {
    f"s{code.lower().replace('-', '')}": code
    for code in ("K12-001", "K12-002", "CC-101", "CC-102", "UNI-201")
}
PEOPLE = {
    "rita": ["researchers"],
    "rev1": ["reviewers"],
    "rev2": ["reviewers"],
    **{stem: [f"stewards-{code}"] for stem, code in STEWARDS.items()},
}
STEWARD_OF = {code: stem for stem, code in STEWARDS.items()}
# the released notebooks are made by hand (outputs without the code that made them): this
# module tests who decides, not re-execution (test_reexecution_e2e.py runs the service with it)
SERVICE_CONFIG = """
c.EnclaveSpawner.review_url = c.JupyterHub.bind_url.rstrip("/") + "/services/review/"
c.Reexecution.enabled = False
"""
PROJECT = "transfer"


@pytest.fixture(scope="module")
def enclave():
    with running_enclave(None, PEOPLE, {}, extra_config=SERVICE_CONFIG) as running:
        yield running


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
    page.screenshot(path=str(artifacts / f"access-{name}.png"), full_page=True)


def open_as(browser, enclave, stem, path="/services/review/access"):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{enclave.hub.url}/hub/oauth_login?next={path}")
    page.fill("input[name=login]", enclave.names[stem])
    page.fill("input[name=password]", enclave.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{enclave.hub.url}{path.split('?')[0]}**")
    return context, page


@pytest.fixture(scope="module")
def rita(enclave):
    researcher = Researcher.sign_on(enclave.hub.url, enclave.names["rita"], enclave.password)
    researcher.accept_agreement()
    yield researcher
    researcher.session.close()


def read_what_is_there(kernel) -> dict:
    out = run(
        kernel,
        "import json\n"
        "seen = {}\n"
        "for t in ('students', 'cc_awards', 'univ_degrees', 'k12_enrollments'):\n"
        "    try:\n"
        "        df = warehouse.query(f'SELECT * FROM {t}')\n"
        "        seen[t] = [sorted(df.columns), sorted(set(df.institution))]\n"
        "    except Exception as e:\n"
        "        seen[t] = type(e).__name__\n"
        "print(json.dumps(seen))",
    )
    return json.loads(out)


def test_a_project_requested_decided_used_withdrawn_and_released(enclave, browser, artifacts, rita):
    # 1. rita asks for the data in the review service
    context, page = open_as(browser, enclave, "rita", "/services/review/access/new")
    page.fill("#req-name", PROJECT)
    page.fill("#req-purpose", "How community-college transfer students fare at the university.")
    page.fill("#req-expires", (datetime.now(UTC) + timedelta(days=90)).date().isoformat())
    for code in ("CC-101", "UNI-201"):
        page.check(f"input[name=institution][value={code}]")
    for table in ("students", "cc_awards"):
        page.check(f"input[name=table][value={table}]")
    shoot(page, artifacts, "1-request-form")
    page.click("#access-submit")
    expect(page.locator("#access-message")).to_contain_text(f"Project {PROJECT} was requested")
    expect(page.locator(f"#access-{PROJECT}-CC-101 .access-status")).to_have_text("pending")
    shoot(page, artifacts, "2-requested")
    context.close()

    # 2. CC-101's steward approves less: students without ethnicity and zip3, and no awards
    context, page = open_as(browser, enclave, STEWARD_OF["CC-101"])
    expect(page.locator("#access-waiting")).to_contain_text("1 decision(s) wait for you")
    form = page.locator(f"#decide-{PROJECT}-CC-101")
    expect(page.locator(f"#decide-{PROJECT}-UNI-201")).to_have_count(0)  # not theirs
    form.locator("input[name=table][value=cc_awards]").uncheck()
    for column in ("ethnicity", "zip3"):
        form.locator(f"input[name=col-students][value={column}]").uncheck()
    form.locator("input[name=decision][value=approve]").check()
    form.locator("textarea[name=comment]").fill("Students only; no ethnicity or ZIP code.")
    shoot(page, artifacts, "3-steward-narrows")
    form.locator("button").click()
    expect(page.locator("#access-confirm-summary")).to_contain_text("approve only these")
    shoot(page, artifacts, "4-steward-confirms")
    page.click("#access-confirm-button")
    approved = page.locator(f"#access-{PROJECT}-CC-101 .access-approved")
    expect(approved).to_contain_text("students (student_key, institution, birth_year, gender)")
    shoot(page, artifacts, "5-steward-approved-narrower")
    context.close()

    # 3. UNI-201's steward approves in full
    context, page = open_as(browser, enclave, STEWARD_OF["UNI-201"])
    form = page.locator(f"#decide-{PROJECT}-UNI-201")
    form.locator("input[name=decision][value=approve]").check()
    form.locator("button").click()
    page.click("#access-confirm-button")
    expect(page.locator(f"#project-status-{PROJECT}")).to_have_text("active")
    shoot(page, artifacts, "6-both-approved")
    steward_uni = (context, page)

    # 4. rita's session reads exactly what was approved
    kernel = rita.start_session(PROJECT)
    seen = read_what_is_there(kernel)
    # students: the columns both approved, the rows of both; cc_awards: nobody approved it
    assert seen["students"] == [
        ["birth_year", "gender", "institution", "student_key"],
        ["CC-101", "UNI-201"],
    ]
    # cc_awards: only UNI-201 approved it, and it holds none of its rows; CC-101's are not there
    assert seen["cc_awards"][1] == []
    for table in ("univ_degrees", "k12_enrollments"):  # nobody asked: not in the extract
        assert isinstance(seen[table], str), seen[table]

    kernel.ws.close()  # the kernel goes on running: the session is still up

    # 5. UNI-201's steward withdraws mid-session: the session stops, the next one reads less
    context, page = steward_uni
    form = page.locator(f"#withdraw-{PROJECT}-UNI-201")
    form.locator("textarea[name=comment]").fill("Our data-sharing agreement was suspended.")
    form.locator("button").click()
    expect(page.locator("#access-confirm-summary")).to_contain_text("running sessions stop")
    shoot(page, artifacts, "7-withdraw-confirm")
    page.click("#access-confirm-button")
    expect(page.locator("#access-message")).to_contain_text("UNI-201's approval was withdrawn")
    shoot(page, artifacts, "8-withdrawn")
    context.close()
    assert rita.wait_stopped(30)
    kernel = rita.start_session(PROJECT)
    seen = read_what_is_there(kernel)
    assert seen["students"] == [
        ["birth_year", "gender", "institution", "student_key"],
        ["CC-101"],
    ]
    kernel.shutdown()

    # 6. an internal release: signed by the stewards whose data it used (CC-101's, and
    # UNI-201's: the warehouse recorded rita reading students while its approval stood) and its
    # recipient's
    person = sign_in(enclave, "rita")
    wait_for_service(person)
    internal = submit(person, "internal", ["CC-102"])
    assert internal["institutions"] == ["CC-101", "CC-102", "UNI-201"]
    for stem in ("rev1", "rev2", *(STEWARD_OF[c] for c in internal["institutions"])):
        assert decide(enclave, stem, internal["id"]) == 200
    manifest, _ = released(person, internal["id"])
    assert manifest["release_use"] == "internal" and manifest["recipients"] == ["CC-102"]
    assert set(manifest["stewards"]) == {"CC-101", "CC-102", "UNI-201"}
    assert manifest["permitted_use"].startswith("Internal use only, by Sierra Foothill")

    # 7. an external release: a decision from a steward of every member
    external = submit(person, "external", [])
    assert external["institutions"] == sorted(STEWARD_OF)
    for stem in ("rev1", "rev2", *STEWARD_OF.values()):
        assert decide(enclave, stem, external["id"]) == 200
    manifest, html = released(person, external["id"])
    assert set(manifest["stewards"]) == set(STEWARD_OF)
    assert manifest["permitted_use"].startswith("External reporting")
    assert html.count(manifest["permitted_use"]) == 2
    report = artifacts / "access-9-external-release.html"
    report.write_text(html)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(report.as_uri())
    expect(page.locator("#enclave-permitted-use")).to_contain_text("External reporting")
    shoot(page, artifacts, "9-external-release")
    context.close()
    rita.stop_server()
    person.http.close()


def decide(enclave, stem, request_id) -> int:
    """``stem`` signs in and approves ``request_id``; the HTTP status."""
    person = sign_in(enclave, stem)
    try:
        return person.decide(request_id).status_code
    finally:
        person.http.close()


def submit(person, use, recipients) -> dict:
    home = Path(f"/tmp/access-e2e-{os.getpid()}-{use}")
    home.mkdir(exist_ok=True)
    environ = {**person.environ(home), "ENCLAVE_PROJECT": PROJECT}
    path = home / f"{use}.ipynb"
    path.write_bytes(to_bytes(passing()))
    from enclave.kernels import submit as client

    return client.submit(
        path,
        environ=environ,
        purpose=f"Transfer outcomes, {use} release.",
        release_use=use,
        recipients=recipients,
    )


def released(person, request_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(
            f"{person.base}requests/{request_id}/release",
            cookies=person.http.cookies,
            timeout=60,
        )
        if response.status_code == 200:
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                manifest = json.loads(archive.read(f"{request_id}/manifest.json"))
                html = archive.read(f"{request_id}/report.html").decode()
            return manifest, html
        time.sleep(1)
    raise AssertionError(f"{request_id} was not released in {timeout}s")
