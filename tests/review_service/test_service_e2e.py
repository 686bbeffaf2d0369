"""The whole flow through the real provider, hub, proxy and review service, at API level."""

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from io import BytesIO
from urllib.parse import urlparse

import pytest
import requests
import review_notebooks as notebooks
from review_hub import PEOPLE, sign_in, wait_for_service

from devstack.launch import start_hub
from enclave.errors import EnclaveError
from enclave.review_service.stewards import NO_RERUN

pytestmark = pytest.mark.e2e  # a real hub, provider and sessions: slow


@pytest.fixture(scope="module")
def people(enclave):
    signed_in = {stem: sign_in(enclave, stem) for stem in PEOPLE}
    wait_for_service(signed_in["rita"])
    return signed_in


@pytest.fixture
def home(tmp_path):
    return tmp_path


def approve_all(people, request_id, reviewers=("rev1", "rev2"), stewards=("scc", "suni")):
    last = None
    for stem in (*reviewers, *stewards):
        last = people[stem].decide(request_id)
        assert last.status_code == 200, last.text
    return last.json()["status"]


def state(enclave):
    from enclave.audit import AuditLog
    from enclave.state import make_engine

    return AuditLog(make_engine(enclave.state_url))


def test_submission_review_release_and_download(enclave, people, home):
    rita, bob, ada = people["rita"], people["bob"], people["ada"]
    result = rita.submit(home, summary="Counts per term; all cells at least 100.")
    rid = result["id"]
    assert result["verdict"] == "pass" and result["institutions"] == ["CC-101", "UNI-201"]
    # later edits in the session do not change the request: it holds a frozen copy
    (home / "analysis.ipynb").write_text("edited after submission")
    listed = people["rev1"].api("GET", "api/requests").json()["requests"]
    assert any(r["id"] == rid and r["waiting_for_me"] for r in listed)
    assert [r["id"] for r in bob.api("GET", "api/requests").json()["requests"]] == []

    assert approve_all(people, rid) == "released"
    download = rita.api("GET", f"requests/{rid}/release")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == f'attachment; filename="{rid}-release.zip"'
    with zipfile.ZipFile(BytesIO(download.content)) as archive:
        manifest = json.loads(archive.read(f"{rid}/manifest.json"))
        released = archive.read(f"{rid}/analysis.ipynb")
    assert manifest["sha256"] == result["sha256"] == hashlib.sha256(released).hexdigest()
    assert manifest["approvers"] == sorted(people[s].name for s in ("rev1", "rev2", "scc", "suni"))
    assert ada.api("GET", f"requests/{rid}/release").status_code == 200

    refused = bob.api("GET", f"requests/{rid}/release")
    assert refused.status_code == 403 and b"PK" not in refused.content[:2]
    assert people["rev1"].api("GET", f"requests/{rid}/release").status_code == 403

    # neither the researcher's text nor output values reach the logs of hub or service
    logged = enclave.hub.log()
    assert "consortium" not in logged and "2021FA" not in logged
    log = state(enclave)
    downloads = log.events(request=rid, action="release.download")
    assert [e.actor for e in downloads] == [rita.name, ada.name]
    verify = subprocess.run(
        # the hub's config: the trail is keyed, and its key and head log are named there
        [sys.executable, "-m", "enclave", "audit", "verify", "--config", enclave.hub.config_path],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0 and "intact" in verify.stdout
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "enclave",
            "audit",
            "show",
            "--db",
            enclave.state_url,
            "--request",
            rid,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    actions = [e["action"] for e in json.loads(shown.stdout)]
    assert actions[:2] == ["request.submit", "gate.result"]
    assert "release.build" in actions and actions.count("release.download") == 2


def test_self_review_is_refused(people, home):
    rosa = people["rosa"]
    rid = rosa.submit(home)["id"]
    response = rosa.decide(rid)
    assert response.status_code == 403
    assert "Nobody reviews their own request" in response.json()["error"]


def test_a_steward_of_an_uninvolved_institution_cannot_decide(people, home):
    rid = people["rita"].submit(home)["id"]
    response = people["sk12"].decide(rid, "reject", "not ours")
    assert response.status_code == 403 and "K12-001" in response.json()["error"]
    assert people["sk12"].api("GET", f"api/requests/{rid}").status_code == 403


def test_approving_a_request_whose_stored_file_changed_is_refused(enclave, people, home):
    result = people["rita"].submit(home, notebooks.passing(title="To be tampered"))
    frozen = enclave.hub.hub_dir / "review" / "objects" / result["sha256"]
    assert oct(frozen.stat().st_mode & 0o777) == "0o400"
    os.chmod(frozen, 0o600)
    frozen.write_bytes(frozen.read_bytes().replace(b"To be tampered", b"To be tampereD"))
    response = people["rev1"].decide(result["id"])
    assert response.status_code == 409
    assert "no longer matches its SHA-256" in response.json()["error"]


def test_two_concurrent_final_approvals_yield_one_package(enclave, people, home):
    rid = people["rita"].submit(home, notebooks.passing(title="Race"))["id"]
    for stem in ("scc", "suni", "rev1"):
        assert people[stem].decide(rid).status_code == 200
    barrier = threading.Barrier(2)
    responses = []

    def final(stem):
        barrier.wait()
        responses.append(people[stem].decide(rid))

    threads = [threading.Thread(target=final, args=(s,)) for s in ("rev2", "rev3")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 403], [r.text for r in responses]
    assert len(state(enclave).events(request=rid, action="release.build")) == 1
    assert people["rita"].api("GET", f"api/requests/{rid}").json()["status"] == "released"


def test_a_file_that_is_not_a_notebook_is_refused_and_nothing_stored(enclave, people, home):
    objects = enclave.hub.hub_dir / "review" / "objects"
    before = set(os.listdir(objects))
    path = home / "data.ipynb"
    path.write_text("student_key,grade\nabc,A\n")
    from enclave.kernels import submit as client

    with pytest.raises(EnclaveError, match=r"HTTP 400.*data.ipynb: not valid JSON"):
        client.submit(
            path,
            purpose="x",
            release_use="internal",
            recipients=["CC-101"],
            environ=people["rita"].environ(home),
        )
    assert set(os.listdir(objects)) == before
    assert os.listdir(enclave.hub.hub_dir / "review" / "tmp") == []


def test_twenty_thousand_characters_of_context_reach_the_service_intact(people, home):
    """Every text at its limit (4,000 + 8,000 + 8,000 characters, not ASCII) goes through the
    hub's proxy in the request body and is stored as written."""
    texts = {
        "purpose": ("Taux de réussite — " * 300)[:3999] + ".",
        "summary": ('Σ by term & institution; "quoted"\n' * 300)[:7999] + ".",
        "exception_note": ("✓ counts ≥ 11 only. " * 500)[:7999] + ".",
    }
    assert sum(len(t) for t in texts.values()) == 20_000
    result = people["rita"].submit(home, name="long_context.ipynb", **texts)
    info = people["rev1"].api("GET", f"api/requests/{result['id']}").json()
    assert {k: info[k] for k in texts} == texts


def test_names_with_dot_dot_are_refused(people, home):
    rita = people["rita"]
    metadata = {"notebook": "../../etc/evil.ipynb", "project": "demo", "purpose": "x"}
    response = rita.api(
        "POST",
        "api/submit",
        files={
            "metadata": (None, json.dumps(metadata), "application/json"),
            "notebook": ("n.ipynb", notebooks.to_bytes(notebooks.passing())),
        },
    )
    assert response.status_code == 400
    assert "not an acceptable name" in response.json()["error"]


def test_a_200_mb_upload_is_refused_before_its_body_is_read(enclave, people):
    size = 200 * 1024 * 1024
    url = urlparse(people["rita"].base)
    head = (
        f"POST {url.path}api/submit HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\nAuthorization: token {people['rita'].token}\r\n"
        f"Content-Type: multipart/form-data; boundary=b0\r\nContent-Length: {size}\r\n\r\n"
    )
    chunk = b" " * (1024 * 1024)
    with socket.create_connection((url.hostname, url.port), timeout=120) as conn:
        conn.sendall(head.encode())
        for _ in range(size // len(chunk)):
            conn.sendall(chunk)
        answer = conn.recv(65536).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert f"the upload is {size:,} bytes; the limit is" in answer
    assert os.listdir(enclave.hub.hub_dir / "review" / "tmp") == []
    assert "big.ipynb" not in json.dumps(people["rita"].api("GET", "api/requests").json())


def test_a_forged_query_record_changes_nothing(enclave, people, home):
    """The service takes no query records from sessions: the route is gone, and the stewards
    come from the warehouse's own records and the project."""
    rita = people["rita"]
    record = {
        "project": "demo",
        "notebook": "lineage.ipynb",
        "sql": "select count(*) from warehouse.cc_enrollments",
        "rows": 1,
        "institutions": ["CC-101"],
    }
    assert rita.api("POST", "api/queries", json=record).status_code == 404
    result = rita.submit(home, name="lineage.ipynb")
    assert result["institutions"] == ["CC-101", "UNI-201"]
    # the request page says why each steward is needed
    page = people["rev1"].http.get(f"{people['rev1'].base}requests/{result['id']}", timeout=60)
    assert f"<td>UNI-201</td><td>{NO_RERUN}</td>" in page.text
    assert "never what a session says" in page.text  # the rule, in words
    assert state(enclave).events(action="warehouse.query", project="demo") == []


def test_pages_escape_comments_and_forms_need_the_xsrf_token(enclave, people, home):
    rita, rev1 = people["rita"], people["rev1"]
    rid = rita.submit(home)["id"]
    page = rev1.http.get(f"{rev1.base}requests/{rid}", timeout=60)
    assert page.status_code == 200 and rid in page.text
    # a form post without the _xsrf token is not authenticated, and changes nothing
    forged = rev1.http.post(
        f"{rev1.base}requests/{rid}/comment", data={"body": "forged"}, allow_redirects=False
    )
    assert forged.status_code == 403
    xsrf = page.text.split('name="_xsrf" value="')[1].split('"')[0]
    posted = rev1.http.post(
        f"{rev1.base}requests/{rid}/comment",
        data={"_xsrf": xsrf, "body": "<script>alert('x')</script><b>bold</b>"},
        timeout=60,
    )
    assert posted.status_code == 200
    text = posted.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in text
    assert "<script>alert" not in text
    comments = rita.api("GET", f"api/requests/{rid}").json()["comments"]
    assert [c["body"] for c in comments] == ["<script>alert('x')</script><b>bold</b>"]


def test_the_hub_home_page_shows_what_waits(enclave, people, home):
    rev3 = people["rev3"]
    waiting = rev3.api("GET", "api/waiting").json()["waiting"]
    assert waiting >= 1
    page = rev3.http.get(f"{enclave.hub.url}/hub/home", timeout=60)
    assert f'id="review-waiting-count">{waiting}<' in page.text
    researcher_page = people["bob"].http.get(f"{enclave.hub.url}/hub/home", timeout=60)
    assert "review-waiting-count" not in researcher_page.text


def test_the_service_refuses_anonymous_calls(people):
    response = requests.get(f"{people['rita'].base}api/requests", timeout=30)
    assert response.status_code == 403


def test_a_submission_is_rendered_before_its_first_reviewer_opens_it(enclave, people, home):
    result = people["rita"].submit(home, notebooks.passing(title="Rendered ahead"))
    cache = enclave.hub.hub_dir / "review" / "cache"
    deadline = time.monotonic() + 120
    while not list(cache.glob(f"{result['sha256']}.*.review.html")):
        assert time.monotonic() < deadline, "no rendering was made after the submission"
        time.sleep(0.3)


# last: it stops the module's hub and starts another, which its finalizer stops
def test_a_restart_of_hub_and_service_mid_review_loses_nothing(enclave, people, home, request):
    rid = people["rita"].submit(home, notebooks.passing(title="Across a restart"))["id"]
    assert people["rev1"].decide(rid).status_code == 200
    people["rita"].api("POST", f"api/requests/{rid}/comments", json={"body": "Thanks!"})
    enclave.hub.stop()
    port = urlparse(enclave.hub.url).port
    hub = start_hub(
        enclave.hub.hub_dir, enclave.provider, port=port, extra_config=_config_tail(enclave)
    )
    request.addfinalizer(hub.stop)
    wait_for_service(people["rev2"])
    info = people["rev2"].api("GET", f"api/requests/{rid}").json()
    assert info["status"] == "in_review" and info["progress"]["reviewers"] == [people["rev1"].name]
    assert [c["body"] for c in info["comments"]] == ["Thanks!"]
    assert approve_all(people, rid, reviewers=("rev2",)) == "released"
    assert people["rita"].api("GET", f"requests/{rid}/release").status_code == 200


def _config_tail(enclave) -> str:
    """The test-specific lines of the running hub's config (after the root config)."""
    text = enclave.hub.config_path.read_text()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "ConfigurableHTTPProxy.api_url" in line)
    return "\n".join(lines[start + 1 :])
