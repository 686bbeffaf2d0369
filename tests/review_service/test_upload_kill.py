"""`kill -9` of the review service during an upload (issue 15): the hub restarts it, and its
start removes the partial upload from the store's ``tmp/`` and records that (with the size) in
the audit trail. Nothing else changes: no frozen copy, no request, unless the upload had been
committed whole before the kill."""

import http.client
import os
import signal
import time
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa
from review_hub import sign_in, wait_for_service
from review_notebooks import passing, to_bytes

from enclave.audit import AuditAction, AuditLog
from enclave.kernels import submit as client
from enclave.scratch import PREFIX
from enclave.state import make_engine

pytestmark = pytest.mark.e2e  # a real hub, provider and review service: slow

PADDING = 8 * 1024 * 1024  # bytes of markdown: an upload that takes a while to send


def big_notebook() -> bytes:
    nb = passing()
    nb.cells[0].source = "x" * PADDING
    return to_bytes(nb)


def service_pid(enclave) -> int:
    for pid in enclave.hub.tree.members():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"enclave.review_service" in f.read():
                    return pid
        except OSError:
            continue
    raise AssertionError("no review service")


def start_upload(person, path) -> http.client.HTTPConnection:
    """Send the headers and about half of the submission; the rest is never sent."""
    metadata = {"notebook": path.name, "project": "demo", "purpose": "Kill test."}
    metadata |= {"release_use": "internal", "recipients": ["CC-101"]}
    notebook = open(path, "rb")  # noqa: SIM115 (closed below)
    content_type, length, chunks = client.multipart_body(metadata, notebook)
    url = urlparse(f"{person.base}api/submit")
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    conn.putrequest("POST", url.path)
    for name, value in (
        ("Authorization", f"token {person.token}"),
        ("Content-Type", content_type),
        ("Content-Length", str(length)),
    ):
        conn.putheader(name, value)
    conn.endheaders()
    sent = 0
    for chunk in chunks:
        conn.send(chunk)
        sent += len(chunk)
        if sent > length // 2:
            break
    notebook.close()
    return conn


def partial_uploads(store) -> dict:
    return {str(p): p.stat().st_size for p in (store / "tmp").glob(f"{PREFIX}upload-*")}


def test_a_partial_upload_is_swept_and_recorded_when_the_service_restarts(enclave):
    rita = sign_in(enclave, "rita")
    wait_for_service(rita)
    store = enclave.hub.hub_dir / "review"
    state = make_engine(enclave.state_url)
    path = enclave.hub.hub_dir / "big.ipynb"
    path.write_bytes(big_notebook())
    upload = start_upload(rita, path)
    deadline = time.monotonic() + 60
    while not any(size > 0 for size in partial_uploads(store).values()):
        assert time.monotonic() < deadline, "the upload never reached the store"
        time.sleep(0.05)
    old = service_pid(enclave)
    os.kill(old, signal.SIGKILL)
    left = partial_uploads(store)
    assert len(left) == 1 and 0 < sum(left.values()) < path.stat().st_size
    upload.close()
    wait_for_service(rita, timeout=90)  # the hub restarted it
    assert service_pid(enclave) != old
    assert partial_uploads(store) == {}
    (event,) = AuditLog(state).events(action=AuditAction.SCRATCH_SWEEP)
    assert event.actor == "review-service"
    assert {r["path"]: r["bytes"] for r in event.details["removed"]} == left
    with state.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM review_requests")).scalar() == 0
    assert list((store / "objects").iterdir()) == []
    # the restarted service takes the same upload whole
    assert rita.submit(enclave.hub.hub_dir / "home-rita", name="again.ipynb")["verdict"] == "pass"
    state.dispose()
