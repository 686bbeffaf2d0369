"""Submitting from a real research session: from the kernel's shell and from JupyterLab.

The session runs as rita's own Unix account with the hub's EnclaveSpawner; it reaches the
review service only through the hub's proxy, with the session's own token. Here the command
runs from a notebook cell (`!enclave review submit`); tests/hub/test_session_terminal.py runs it
in the session's terminal.
"""

import os
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import sync_playwright
from review_hub import sign_in, wait_for_service
from test_browser import browser_login

from devstack.kernel import Kernel
from devstack.login import xsrf_headers
from tests.support.browser import launch

pytestmark = pytest.mark.e2e  # a real hub, provider and sessions: slow

WRITE_NOTEBOOK = """
import os, nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output
rows = warehouse.query("select count(*) as n from cc_enrollments")
nb = new_notebook(
    cells=[new_code_cell("by_term", outputs=[new_output(
        "execute_result", data={"text/plain": "term  n\\n2021FA  120\\n2022SP  140"})])],
    metadata={"kernelspec": {"name": "enclave-python", "display_name": "Enclave (Python)",
                             "language": "python"}},
)
nbformat.write(nb, os.path.expanduser("~/study.ipynb"))
print("written", len(rows))
"""
SUBMIT = """
import subprocess
done = subprocess.run(
    ["enclave", "review", "submit", os.path.expanduser("~/study.ipynb"),
     "--purpose", "Completion counts for the board", "--summary", "Two term counts",
     "--use", "internal", "--recipients", "CC-101"],
    capture_output=True, text=True,
)
print(done.returncode, done.stdout, done.stderr)
"""


@pytest.fixture(scope="module")
def session(enclave):
    """rita's running research session in project demo."""
    rita = sign_in(enclave, "rita")
    wait_for_service(rita)
    page = rita.http.get(f"{enclave.hub.url}/hub/agreement", timeout=30)
    version = page.text.split('name="version" value="')[1].split('"')[0]
    rita.http.post(
        f"{enclave.hub.url}/hub/agreement",
        data={"accept": "yes", "version": version, "_xsrf": xsrf_headers(rita.http)["X-XSRFToken"]},
        timeout=30,
    )
    api = f"{enclave.hub.api_url}/users/{rita.name}"
    headers = {"Authorization": f"token {rita.token}"}
    started = requests.post(f"{api}/server", json={"project": "demo"}, headers=headers, timeout=120)
    assert started.status_code in (201, 202), started.text
    deadline = time.monotonic() + 90
    while not (requests.get(api, headers=headers, timeout=30).json()["servers"].get("") or {}).get(
        "ready"
    ):
        assert time.monotonic() < deadline, enclave.hub.log()[-3000:]
        time.sleep(0.3)
    kernel = Kernel(f"{enclave.hub.url}/user/{rita.name}/", rita.token)
    written = kernel.execute(WRITE_NOTEBOOK)
    assert written["error"] is None and "written 1" in written["stdout"], written
    yield rita, kernel
    kernel.shutdown()
    requests.delete(f"{api}/server", headers=headers, timeout=60)


def test_enclave_review_submit_from_the_session(enclave, session):
    rita, kernel = session
    out = kernel.execute(SUBMIT)
    assert out["stdout"].startswith("0 submitted"), out
    rid = out["stdout"].split(" as request ")[1].split()[0]
    rev1 = sign_in(enclave, "rev1")
    info = rev1.api("GET", f"api/requests/{rid}").json()
    assert info["author"] == rita.name and info["notebook"] == "study.ipynb"
    assert info["summary"] == "Two term counts" and info["gate"]["verdict"] == "pass"
    # the kernel's query was recorded by its query process, imported at submission, as rita's
    from enclave.audit import AuditLog
    from enclave.state import make_engine

    queries = AuditLog(make_engine(enclave.state_url)).events(
        user=rita.name, action="warehouse.query"
    )
    assert queries and queries[-1].details["source"] == "query-process"
    assert "cc_enrollments" in queries[-1].details["statements"][0]


def test_submit_button_in_jupyterlab(enclave, session):
    rita, _ = session
    with sync_playwright() as p:
        browser = launch(p)
        context, page = browser_login(browser, enclave, "rita")
        page.goto(f"{enclave.hub.url}/user/{rita.name}/lab/tree/study.ipynb")
        button = page.locator(".enclave-submit-review")
        button.wait_for(timeout=90_000)
        page.wait_for_timeout(1000)
        if page.locator(".jp-Dialog").count():  # e.g. a kernel prompt: accept it
            page.click(".jp-Dialog .jp-mod-accept")
        button.click()
        page.check(".jp-Dialog input[name=release_use][value=internal]")
        page.check(".jp-Dialog input[name=recipient][value=UNI-201]")
        page.fill("textarea[name=purpose]", "Counts by term, from JupyterLab")
        page.click(".jp-Dialog .jp-mod-accept")
        result = page.locator("#enclave-review-result")
        result.wait_for(timeout=60_000)
        text = result.inner_text()
        browser.close()
    rid = text.split("Request ")[1].split()[0]
    info = sign_in(enclave, "rev1").api("GET", f"api/requests/{rid}").json()
    assert info["author"] == rita.name and info["purpose"] == "Counts by term, from JupyterLab"
    assert (info["release_use"], info["recipients"]) == ("internal", ["UNI-201"])


def test_a_bad_body_from_lab_is_one_line_naming_the_field(enclave, session):
    rita, _ = session
    url = f"{enclave.hub.url}/user/{rita.name}/enclave/review/submit"
    headers = {"Authorization": f"token {rita.token}"}
    bad = {"path": "study.ipynb", "purpose": 42}
    response = requests.post(url, json=bad, headers=headers, timeout=60)
    assert response.status_code == 400
    assert response.json()["message"] == "purpose: input should be a valid string."
    unknown = {"path": "study.ipynb", "purpose": "x", "stu_key": "v"}
    response = requests.post(url, json=unknown, headers=headers, timeout=60)
    assert response.status_code == 400 and "stu_key" not in response.text


def test_jupyterlab_shows_a_notice_when_a_request_changes_state(enclave, session, tmp_path):
    rita, kernel = session
    out = kernel.execute(SUBMIT)
    rid = out["stdout"].split(" as request ")[1].split()[0]
    changes = sign_in(enclave, "rev1").decide(rid, "request_changes", "Merge the small terms.")
    assert changes.status_code == 200, changes.text
    url = f"{enclave.hub.url}/user/{rita.name}/enclave/review/notices"
    notices = requests.get(url, headers={"Authorization": f"token {rita.token}"}, timeout=60)
    (notice,) = [n for n in notices.json()["notices"] if n["id"] == rid]
    assert notice == {
        "id": rid,
        "status": "changes_requested",
        "round": 1,
        "notebook": "study.ipynb",
        "project": "demo",
        "url": f"/services/review/requests/{rid}",
    }
    folder = Path(os.environ.get("ENCLAVE_TEST_ARTIFACTS") or tmp_path)
    with sync_playwright() as p:
        browser = launch(p)
        context, page = browser_login(browser, enclave, "rita")
        page.goto(f"{enclave.hub.url}/user/{rita.name}/lab")
        toast = page.get_by_text(f"request {rid} (study.ipynb) needs changes: see the comments")
        toast.wait_for(timeout=90_000)
        page.wait_for_timeout(1000)  # the toast slides in
        page.screenshot(path=str(folder / "lab-notice.png"))
        with context.expect_page() as opened:
            page.get_by_role("button", name="Open the request").first.click()
        review_page = opened.value
        review_page.wait_for_load_state()
        assert review_page.url.endswith(f"/services/review/requests/{rid}")
        # seen once: a reload of Lab does not show it again
        page.reload()
        page.locator(".enclave-submit-review, .jp-LauncherCard").first.wait_for(timeout=90_000)
        page.wait_for_timeout(3000)
        assert page.get_by_text(f"request {rid} (study.ipynb)").count() == 0
        browser.close()
