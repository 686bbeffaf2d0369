"""Re-execution through the real provider, hub, proxy and hub-managed review service: a
hand-edited output is released as re-executed after the reviewer saw it differ; a notebook
raising on re-run comes back with its cell and error class; a service restarted mid-run loses
nothing (the run starts again)."""

import json
import os
import time
import zipfile
from io import BytesIO
from pathlib import Path
from urllib.parse import urlparse

import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from review_hub import PEOPLE, PROJECTS, sign_in, wait_for_service

from devstack.enclave import running_enclave, start_hub
from tests.support.browser import launch

pytestmark = pytest.mark.e2e  # a real hub, provider, service and sandboxed kernels: slow
CONFIG = """
c.EnclaveSpawner.review_url = c.JupyterHub.bind_url.rstrip("/") + "/services/review/"
c.Reexecution.enabled = True
c.Reexecution.workers = 1
"""
QUERY = "df = warehouse.query('SELECT COUNT(*) AS n FROM cc_enrollments')\nprint(int(df.n[0]))"


@pytest.fixture(scope="module")
def enclave(tmp_path_factory):
    with running_enclave(None, PEOPLE, PROJECTS, extra_config=CONFIG) as running:
        yield running


@pytest.fixture(scope="module")
def people(enclave):
    signed_in = {stem: sign_in(enclave, stem) for stem in ("rita", "rev1", "rev2", "scc")}
    wait_for_service(signed_in["rita"])
    return signed_in


def notebook(*cells):
    nb = new_notebook(
        metadata={"kernelspec": {"name": "enclave-python", "display_name": "Enclave (Python)"}}
    )
    for count, (source, outputs) in enumerate(cells, 1):
        nb.cells.append(new_code_cell(source, execution_count=count, outputs=outputs))
    return nb


def stdout(text):
    return new_output("stream", name="stdout", text=text)


def reexecution(person, rid, until, timeout=180):
    """The request's re-execution as the API shows it, once ``until(it)`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = person.api("GET", f"api/requests/{rid}").json()
        if info.get("reexecution") and until(info["reexecution"]):
            return info
        time.sleep(0.5)
    raise AssertionError(f"request {rid}: re-execution still {info.get('reexecution')}")


def test_a_hand_edited_output_is_released_re_executed_and_the_reviewer_saw_it_differ(
    people, tmp_path
):
    rita, rev1 = people["rita"], people["rev1"]
    nb = notebook((QUERY, [stdout("3\n")]), ("print('same')", [stdout("same\n")]))
    rid = rita.submit(tmp_path, nb)["id"]
    info = reexecution(rev1, rid, lambda x: x["state"] == "done")
    assert info["reexecution"]["marks"] == {"0:0": "differs", "1:0": "reproduced"}
    assert info["institutions"] == ["CC-101"]  # what the run read, not every project member
    page = rev1.http.get(f"{rev1.base}requests/{rid}").text
    assert "differs" in page and 'class="submitted">3' in page and 'class="rerun">' in page

    for stem in ("rev1", "rev2", "scc"):
        answer = people[stem].decide(rid)
        assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 60
    while rita.api("GET", f"api/requests/{rid}").json()["status"] != "released":
        assert time.monotonic() < deadline, "no release"
        time.sleep(0.5)
    download = rita.api("GET", f"requests/{rid}/release")
    with zipfile.ZipFile(BytesIO(download.content)) as archive:
        released = json.loads(archive.read(f"{rid}/analysis.ipynb"))
        manifest = json.loads(archive.read(f"{rid}/manifest.json"))
    printed = released["cells"][0]["outputs"][0]["text"]
    assert printed != "3\n" and int("".join(printed)) > 3  # the warehouse's count, not rita's
    assert manifest["reexecution"]["marks"] == {"differs": 1, "reproduced": 1}


def test_a_notebook_raising_on_re_run_comes_back_with_cell_and_error_class(people, tmp_path):
    rita = people["rita"]
    nb = notebook(("x = 1", []), ("raise KeyError('typed 4711')", []))
    rid = rita.submit(tmp_path, nb, name="raises.ipynb")["id"]
    info = reexecution(rita, rid, lambda x: x["state"] == "failed")
    assert info["status"] == "changes_requested"
    [comment] = info["comments"]
    assert "cell 2 [2] raised KeyError" in comment["body"] and "4711" not in comment["body"]


def test_the_reviewer_sees_the_marks_and_both_versions_in_a_browser(
    enclave, people, tmp_path, tmp_path_factory
):
    from playwright.sync_api import sync_playwright

    nb = notebook((QUERY, [stdout("3\n")]), ("print('same')", [stdout("same\n")]))
    rid = people["rita"].submit(tmp_path, nb, name="shown.ipynb")["id"]
    reexecution(people["rev1"], rid, lambda x: x["state"] == "done")
    shots = Path(os.environ.get("ENCLAVE_TEST_ARTIFACTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        path = f"/services/review/requests/{rid}"
        page.goto(f"{enclave.hub.url}/hub/oauth_login?next={path}")
        page.fill("input[name=login]", enclave.names["rev1"])
        page.fill("input[name=password]", enclave.password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{enclave.hub.url}{path}**")
        block = page.locator("#reexecution")
        assert "1 differs" in block.inner_text() and "1 reproduced" in block.inner_text()
        assert block.locator(".reexec-differs pre.submitted").inner_text().strip() == "3"
        assert block.locator(".reexec-differs pre.rerun").inner_text().strip().isdigit()
        block.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "review-reexecution.png"), full_page=True)
        block.screenshot(path=str(shots / "review-reexecution-block.png"))
        browser.close()


# last: the hub it starts again is stopped at its end
def test_a_service_restart_mid_run_loses_nothing(enclave, people, tmp_path, request):
    rita = people["rita"]
    nb = notebook(("import time\ntime.sleep(6)", []), ("print('after the restart')", []))
    rid = rita.submit(tmp_path, nb, name="slow.ipynb")["id"]
    reexecution(rita, rid, lambda x: x["state"] == "running")
    enclave.hub.stop()  # the service (and the run's kernel with it) stops mid-run
    port = urlparse(enclave.hub.url).port
    tail = enclave.hub.config_path.read_text().split("ConfigurableHTTPProxy.api_url", 1)[1]
    hub = start_hub(
        enclave.hub.hub_dir, enclave.provider, port=port, extra_config=tail.split("\n", 1)[1]
    )
    request.addfinalizer(hub.stop)
    wait_for_service(rita)
    info = reexecution(rita, rid, lambda x: x["state"] == "done")
    assert info["reexecution"]["attempts"] == 2 and info["status"] == "submitted"
