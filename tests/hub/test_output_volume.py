"""What a session sends to the browser is rate-limited, counted outside the sandbox, recorded,
and capped: a real hub, sessions and kernels, with a cap of 3 MB per session."""

import time

import pytest

from devstack.enclave import running_enclave
from devstack.researcher import Researcher

pytestmark = pytest.mark.e2e  # a real hub, provider and sessions: slow

CAP = 3_000_000
PEOPLE = {"alice": ["researchers"]}
PROJECTS = {"proj": {"members": ["alice"], "institutions": ["CC-101"]}}


@pytest.fixture(scope="module")
def enclave():
    config = f"c.EnclaveSpawner.max_output_bytes = {CAP}"
    with running_enclave(None, PEOPLE, PROJECTS, extra_config=config) as running:
        yield running


@pytest.fixture(scope="module")
def alice(enclave):
    person = Researcher.sign_on(enclave.hub.url, enclave.names["alice"], enclave.password)
    person.accept_agreement()
    return person


def output_events(enclave, name):
    from enclave.audit import AuditLog
    from enclave.state import make_engine

    return AuditLog(make_engine(enclave.state_url)).events(user=name, action="session.output")


def send(kernel, megabytes: int) -> None:
    """``megabytes`` MB of output, 0.5 MB per cell (under the iopub rate limit)."""
    for _ in range(megabytes * 2):
        out = kernel.execute("print('x' * 500_000)")
        assert out["error"] is None and len(out["stdout"]) > 400_000


def test_the_iopub_data_rate_is_limited(alice):
    kernel = alice.start_session("proj")
    out = kernel.execute("import time\nfor _ in range(8):\n    print('y' * 1_000_000)")
    assert "IOPub data rate exceeded" in out["stderr"]
    assert len(out["stdout"]) < 8_000_000
    kernel.shutdown()
    assert alice.stop_server()


def test_each_sessions_output_is_recorded_when_it_stops(enclave, alice):
    kernel = alice.start_session("proj")
    send(kernel, 1)
    kernel.shutdown()
    assert alice.stop_server()
    last = output_events(enclave, alice.name)[-1]
    assert last.project == "proj" and not last.details["ended_by_limit"]
    assert 1_000_000 < last.details["bytes"] < CAP and last.details["limit"] == CAP


def test_a_session_over_its_cap_is_ended_with_a_clear_message(enclave, alice):
    kernel = alice.start_session("proj")
    began = time.monotonic()
    for _ in range(10):  # 5 MB, 0.5 MB a cell, unless the session ends first
        try:
            kernel.execute("print('x' * 500_000)", timeout=30)
        except Exception:  # the session ended under the kernel: what this test wants
            break
    kernel.ws.close()
    assert alice.wait_stopped(30), "the session went on past its cap"
    print(f"ended {time.monotonic() - began:.1f}s after the output began")
    last = output_events(enclave, alice.name)[-1]
    assert last.details["ended_by_limit"] and last.details["bytes"] > CAP
    # an open JupyterLab reaches the hub at /user/NAME/: it says why, and so does the start page
    page = alice.session.get(f"{alice.hub_url}/user/{alice.name}/lab", timeout=30)
    assert "Your session was ended: it sent more than 3 MB to your browser" in page.text
    home = alice.session.get(f"{alice.hub_url}/hub/home", timeout=30)
    assert "Your session was ended" in home.text
    # a new session starts from zero
    kernel = alice.start_session("proj")
    assert kernel.execute("print(2 + 2)")["stdout"].strip() == "4"
    kernel.shutdown()
