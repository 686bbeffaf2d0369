"""A dead managed service comes back within seconds; stopping a hub stops everything it started.

One enclave per test (each ends with the hub stopped): alice's session runs, bob's spawn is
held in its nftables step by a slow ``nft`` on the hub's PATH, and the review service has just
been killed when the hub is told to stop. Nothing of theirs may be left: no process in the
hub's cgroup tree, none of the researchers' uids, no session cgroup, no test nftables table.
"""

import contextlib
import os
import pwd
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from devstack.enclave import running_enclave
from devstack.researcher import Researcher
from enclave.hub.isolation.cgroups import hub_memory_cgroup

pytestmark = pytest.mark.e2e  # a real hub, provider and sessions: slow

PEOPLE = {"alice": ["researchers"], "bob": ["researchers"]}
PROJECTS = {"proj_a": {"members": ["alice", "bob"], "institutions": ["CC-101"]}}
NFT = "/usr/sbin/nft"
CONFINE_DELAY = 1.5  # seconds the slow nft holds bob's spawn before his session may start


def slow_nft(directory: Path) -> dict:
    """A PATH for the hub on which ``nft add element ... links`` (a spawn's network step) waits
    CONFINE_DELAY seconds and leaves a mark in ``directory/confining``."""
    script = directory / "nft"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in *" links "*)\n'
        f'  echo "$*" >> {directory}/confining; sleep {CONFINE_DELAY};;\n'
        "esac\n"
        f'exec {NFT} "$@"\n'
    )
    script.chmod(0o755)
    return {"PATH": f"{directory}:{os.environ['PATH']}"}


def spawn_quietly(researcher) -> None:
    """Bob's spawn request: its connection is cut when the hub stops."""
    with contextlib.suppress(requests.RequestException):
        researcher.spawn("proj_a")


def review_service_pid(hub) -> int | None:
    for pid in hub.tree.members():
        if "enclave.review_service" in _command(pid):
            return pid
    return None


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def processes_of(uids: set[int]) -> list[str]:
    """Live processes of these uids."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
            zombie = re.search(r"^State:\s+Z", status, re.M)  # dead, waiting for init to reap it
            if uid in uids and not zombie:
                found.append(f"{entry.name} {_command(int(entry.name))}")
    return found


def session_cgroups(names) -> list[str]:
    base = hub_memory_cgroup()
    return [p.name for p in base.rglob("enclave-*") if any(n in p.name for n in names)]


def hub_logged(hub, text: str, timeout: float) -> float | None:
    """Seconds until the hub's log shows ``text`` (None if it did not within ``timeout``)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if text in hub.log():
            return time.monotonic() - began
        time.sleep(0.05)
    return None


def test_a_killed_review_service_is_back_within_seconds():
    with running_enclave(None, {"rita": ["researchers"]}, {}) as enclave:
        hub = enclave.hub
        waiting = f"{hub.url}/services/review/api/waiting"
        service_answers(waiting)
        old = review_service_pid(hub)
        os.kill(old, signal.SIGKILL)
        noticed = hub_logged(hub, "Service review exited with status -9", timeout=10)
        assert noticed is not None and noticed < 5, noticed
        restarted = review_service_pid(hub)
        assert restarted not in (None, old)
        service_answers(waiting)


def service_answers(url: str, timeout: float = 90) -> None:
    """Wait until the review service answers (403 to anonymous; the proxy says 503 while it is
    down or still starting, which takes seconds on a busy machine)."""
    deadline = time.monotonic() + timeout
    while requests.get(url, timeout=10).status_code != 403:
        assert time.monotonic() < deadline, "the review service never answered"
        time.sleep(0.1)


def test_stopping_mid_spawn_and_mid_restart_leaves_nothing(tmp_path):
    env = slow_nft(tmp_path)
    with running_enclave(None, PEOPLE, PROJECTS, env=env) as enclave:
        hub, names = enclave.hub, enclave.names
        uids = {pwd.getpwnam(names[s]).pw_uid for s in PEOPLE}
        table = re.search(r'egress_table = "(\w+)"', hub.config_path.read_text()).group(1)
        alice, bob = (Researcher.sign_on(hub.url, names[s], enclave.password) for s in PEOPLE)
        for researcher in (alice, bob):
            researcher.accept_agreement()
        for researcher in (alice, bob):
            researcher.session.close()  # signed in: the cookies are all we need from here
        assert alice.spawn("proj_a").status_code in (201, 202)
        alice.wait_ready()  # running
        (tmp_path / "confining").unlink()  # alice's mark
        spawning = threading.Thread(target=spawn_quietly, args=(bob,), daemon=True)
        spawning.start()
        deadline = time.monotonic() + 60
        while not (tmp_path / "confining").exists():  # bob's spawn is in its network step
            assert time.monotonic() < deadline, "bob's spawn never reached nftables"
            time.sleep(0.02)
        os.kill(review_service_pid(hub), signal.SIGKILL)  # the hub restarts it meanwhile
        time.sleep(0.3)
        began = time.monotonic()
        hub.stop()
        took = time.monotonic() - began
        assert hub.leftovers == []  # the hub stopped everything itself
        assert took < 10, took
        assert hub.tree.members() == []
        assert processes_of(uids) == []
        assert session_cgroups(names.values()) == []
        log = hub.log()
        assert "Interrupting the pending spawn" in log
        assert "Unhandled error starting" not in log  # no spawn went on after its stop
    listed = subprocess.run(["nft", "list", "table", "inet", table], capture_output=True)
    assert listed.returncode != 0  # the test support removed this hub's table


def test_what_a_dead_hub_left_is_ended_by_the_test_support():
    """A hub killed outright (it hung, it crashed) stops nothing itself: its proxy and services
    would run on under init (``RunningHub.stop`` ends them all the same), while its sessions end
    with it (their sandboxes die with their parent, the hub)."""
    projects = {"proj_a": {"members": ["alice"], "institutions": ["CC-101"]}}
    with running_enclave(None, {"alice": ["researchers"]}, projects) as enclave:
        hub, name = enclave.hub, enclave.names["alice"]
        alice = Researcher.sign_on(hub.url, name, enclave.password)
        alice.session.close()
        alice.accept_agreement()
        assert alice.spawn("proj_a").status_code in (201, 202)
        alice.wait_ready()
        uid = pwd.getpwnam(name).pw_uid
        assert processes_of({uid}), "alice's session runs"
        os.kill(hub.process.pid, signal.SIGKILL)
        hub.process.wait()
        deadline = time.monotonic() + 10
        while processes_of({uid}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_of({uid}) == []  # the session ended with its hub
        hub.stop()
        left = " ".join(hub.leftovers)
        for part in ("configurable-http-proxy", "enclave.review_service"):
            assert part in left
        assert hub.tree.members() == []
        assert processes_of({pwd.getpwnam(name).pw_uid}) == []
        assert session_cgroups([name]) == []
