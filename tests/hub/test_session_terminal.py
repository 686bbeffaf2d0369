"""A research session's terminal, end to end: opened over the REST API, driven over its websocket.

The terminal must be no more than the kernel already is: the researcher's uid, the session's
scrubbed environment (so `enclave` is on PATH and reaches the review service through the hub),
the same sandbox (its own processes only, private /tmp, the project workspace as home) and the
same network. One enclave and one terminal for the module; the review service
receives the session's submissions.
"""

import json
import os
import pwd
import re
import time
import uuid
from pathlib import Path

import pytest
import requests
import websocket

from devstack.enclave import running_enclave
from devstack.launch import SESSION_VENV
from devstack.researcher import Researcher

pytestmark = pytest.mark.e2e  # a real hub, provider and sessions: slow

PEOPLE = {"alice": ["researchers"], "rev": ["reviewers"]}
PROJECTS = {"proj_t": {"members": ["alice"], "institutions": ["CC-101", "CC-102"]}}
# sessions reach the review service (submissions) through the hub's proxy
SERVICE_CONFIG = """
c.EnclaveSpawner.review_url = c.JupyterHub.bind_url.rstrip("/") + "/services/review/"
"""
ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|[()][A-Z0-9])")


class Terminal:
    """A terminado terminal of a session server: ``run(command)`` returns (exit status, output)."""

    def __init__(self, server_url: str, token: str):
        headers = {"Authorization": f"token {token}"}
        created = requests.post(f"{server_url}/api/terminals", headers=headers, timeout=30)
        assert created.status_code == 200, created.text
        self.name = created.json()["name"]
        ws_url = server_url.replace("http://", "ws://") + f"/terminals/websocket/{self.name}"
        self.ws = websocket.create_connection(
            ws_url, header=[f"Authorization: {headers['Authorization']}"], timeout=60
        )
        # no echo, no prompt: the output is only what the commands print
        self.run("stty -echo; PS1=''; PS2=''; unset PROMPT_COMMAND")

    def run(self, command: str, timeout: float = 60) -> tuple[int, str]:
        mark = uuid.uuid4().hex
        # the mark is split by quotes so that an echoed command line never matches it
        self.ws.send(json.dumps(["stdin", f"{command}; echo \"{mark[:8]}\"'{mark[8:]}' $?\r"]))
        out, deadline = "", time.monotonic() + timeout
        while (found := re.search(rf"{mark} (\d+)", out)) is None:
            assert time.monotonic() < deadline, f"no end of {command!r}: {out[-2000:]!r}"
            self.ws.settimeout(max(deadline - time.monotonic(), 0.1))
            kind, *data = json.loads(self.ws.recv())
            if kind == "stdout":
                out += ANSI.sub("", data[0]).replace("\r", "")
        return int(found.group(1)), out[: found.start()].strip()

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def enclave():
    with running_enclave(None, PEOPLE, PROJECTS, extra_config=SERVICE_CONFIG) as running:
        yield running


@pytest.fixture(scope="module")
def alice(enclave):
    alice = Researcher.sign_on(enclave.hub.url, enclave.names["alice"], enclave.password)
    alice.accept_agreement()
    response = alice.spawn("proj_t")
    assert response.status_code in (201, 202), response.text
    alice.wait_ready()
    yield alice
    alice.stop_server()


@pytest.fixture(scope="module")
def terminal(enclave, alice):
    terminal = Terminal(f"{enclave.hub.url}/user/{alice.name}", alice.token)
    yield terminal
    terminal.close()


def contents(alice, path: str, **body) -> requests.Response:
    url = f"{alice.hub_url}/user/{alice.name}/api/contents/{path}"
    if body:
        return requests.put(url, json=body, headers=alice.headers, timeout=30)
    return requests.get(url, headers=alice.headers, timeout=30)


def test_shell_has_the_session_environment(enclave, alice, terminal):
    status, out = terminal.run(
        'echo "$ENCLAVE_PROJECT $(id -un) $HOME $SHELL $(command -v enclave) '
        '${JUPYTERHUB_API_TOKEN:+token} ${CONFIGPROXY_AUTH_TOKEN:-no-proxy-secret}"'
    )
    assert status == 0
    assert out.split() == [
        "proj_t",
        alice.name,
        pwd.getpwnam(alice.name).pw_dir,
        "/bin/bash",
        f"{SESSION_VENV}/bin/enclave",
        "token",
        "no-proxy-secret",
    ]


def test_shell_is_in_the_sandbox_and_cannot_reach_into_its_server(terminal):
    # bash's parent is the session server itself (terminado forks it)
    status, out = terminal.run("tr '\\0' ' ' < /proc/$PPID/cmdline")
    assert status == 0 and "jupyterhub-singleuser" in out, out
    status, out = terminal.run("readlink /proc/self/ns/mnt")
    assert out != os.readlink("/proc/self/ns/mnt")  # not the host's (root's) namespace
    # same uid, yet the server is not dumpable: its memory, environment and namespaces are shut
    for private in ("mem", "environ", "ns/mnt"):
        status, out = terminal.run(f"head -c1 /proc/$PPID/{private} >/dev/null")
        assert status != 0 and "Permission denied" in out, (private, out)
    status, out = terminal.run("grep -E '^Max (address space|processes)' /proc/self/limits")
    assert len(out.splitlines()) == 2 and "unlimited" not in out, out


def test_only_the_sessions_own_processes_are_there(enclave, alice, terminal):
    hub = Path(f"/proc/{enclave.hub.process.pid}")
    assert hub.exists()  # root sees the hub
    status, out = terminal.run(f"test -e {hub}")
    assert status == 1, out
    # the sandbox's PID namespace: its reaper (root, PID 1) and the session's own processes
    uid = pwd.getpwnam(alice.name).pw_uid
    status, out = terminal.run(f"ps -eo pid=,uid=,comm= | awk '$2 != {uid}'")
    assert out.split() == ["1", "0", "bwrap"], out


def test_private_tmp_and_the_project_workspace_as_home(alice, terminal):
    marker = Path("/tmp") / f"host-only-{uuid.uuid4().hex}"
    marker.write_text("root's /tmp")
    home = Path(pwd.getpwnam(alice.name).pw_dir)
    (home / "in-real-home.txt").write_text("x")
    (home / ".enclave-projects" / "proj_t" / "in-workspace.txt").write_text("x")
    try:
        status, out = terminal.run(f"test -e {marker}")
        assert status == 1, out
    finally:
        marker.unlink()
    status, out = terminal.run('ls -A ~; grep -c " $HOME " /proc/self/mountinfo')
    *names, mounts = out.split()
    assert "in-workspace.txt" in names and "in-real-home.txt" not in names, names
    assert ".enclave-projects" not in names and int(mounts) >= 1


def test_disallowed_tcp_fails_and_the_hub_is_reachable(enclave, terminal):
    provider_port = enclave.provider.issuer.rsplit(":", 1)[1]
    _, gateway = terminal.run(
        'python3 -c "import os, urllib.parse; print(urllib.parse.urlsplit('
        "os.environ['JUPYTERHUB_API_URL']).hostname)\""
    )
    probe = (
        f"timeout 5 bash -c 'exec 3<>/dev/tcp/{gateway}/{{}}' 2>/dev/null && echo open || echo shut"
    )
    status, out = terminal.run(
        f"{probe.format(enclave.hub.hub_port)}; {probe.format(provider_port)}; {probe.format(5432)}"
    )
    assert out.split() == ["open", "shut", "shut"], out


def test_enclave_review_submit_from_the_terminal(enclave, alice, terminal):
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {
                "name": "enclave-python",
                "display_name": "Enclave (Python)",
                "language": "python",
            }
        },
        "cells": [
            {
                "cell_type": "code",
                "id": "by-term",
                "execution_count": 1,
                "metadata": {},
                "source": "by_term",
                "outputs": [
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "metadata": {},
                        "data": {"text/plain": "term  n\n2021FA  120\n2022SP  140"},
                    }
                ],
            }
        ],
    }
    saved = contents(alice, "study.ipynb", type="notebook", format="json", content=notebook)
    assert saved.status_code in (200, 201), saved.text
    status, out = terminal.run(
        'enclave review submit study.ipynb --purpose "Counts by term, from a terminal" '
        "--use internal --recipients CC-101"
    )
    assert status == 0, out
    request_id = out.split(" as request ")[1].split()[0]
    reviewer = Researcher.sign_on(enclave.hub.url, enclave.names["rev"], enclave.password)
    info = requests.get(
        f"{enclave.hub.url}/services/review/api/requests/{request_id}",
        headers=reviewer.headers,
        timeout=30,
    ).json()
    assert info["author"] == alice.name and info["notebook"] == "study.ipynb"
    assert info["purpose"] == "Counts by term, from a terminal"


def test_enclave_report_run_from_the_terminal_files_the_notebook(alice, terminal):
    status, out = terminal.run("enclave report list")
    assert status == 0 and "course_success" in out.split(), out
    status, out = terminal.run(
        "enclave report run course_success -p college CC-101 --project proj_t 2>&1",
        timeout=120,
    )
    assert status in (0, 1), out  # 1: filed, but the gate wants a reviewer's eye
    listing = contents(alice, "projects/proj_t/outputs/reports/course_success")
    assert listing.status_code == 200, listing.text
    filed = [item for item in listing.json()["content"] if item["name"].endswith(".ipynb")]
    assert len(filed) == 1, filed
    got = contents(alice, filed[0]["path"])
    assert got.status_code == 200, got.text
    nb = got.json()["content"]
    assert nb["metadata"]["papermill"]["parameters"]["college"] == "CC-101"
