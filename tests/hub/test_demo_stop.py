"""`make demo` stopped with Ctrl-C: within seconds nothing of it answers or runs (issue 15).

The demo runs as a terminal runs it, as the foreground process group, on free ports (the real
demo's 8000/8010 stay free for `make demo`), and gets the SIGINT a Ctrl-C sends that group.
Like `make demo`, it creates (or reuses) the demo's researcher accounts.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack.ports import free_port
from devstack.process import _descendants
from devstack.researcher import Researcher

pytestmark = pytest.mark.e2e  # a real hub and provider: slow

REPO = Path(__file__).resolve().parents[2]


def answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_stops_the_whole_demo_within_seconds(tmp_path):
    port, provider_port = free_port(), free_port()
    tables_before = demo_tables()
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devstack.demo",
                "--dir",
                str(tmp_path / "demo"),
                "--port",
                str(port),
                "--provider-port",
                str(provider_port),
                "--students",
                "200",
            ],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    try:
        deadline = time.monotonic() + 300
        while "Press Ctrl-C to stop" not in log.read_text(errors="replace"):
            assert demo.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        ada = Researcher.sign_on(f"http://127.0.0.1:{port}", "ada", "ada-demo")
        ada.session.close()
        ada.accept_agreement()
        assert ada.spawn("transfer_demo").status_code in (201, 202)
        ada.wait_ready()  # a session runs when Ctrl-C comes
        started = _descendants(demo.pid)
        assert answers(port) and answers(provider_port) and len(started) >= 5
        assert (tmp_path / "demo" / "mail" / "new").is_dir()  # where its e-mail is filed
        began = time.monotonic()
        os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C does
        assert demo.wait(20) == 0, log.read_text()
        took = time.monotonic() - began
    finally:  # a failed test still stops its demo
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)
            try:
                demo.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
    text = log.read_text()
    assert "stopped." in text and "its shutdown left" not in text, text
    assert took < 12, took  # the hub within 10 s, then the provider
    assert not answers(port) and not answers(provider_port)
    assert [pid for pid in started if alive(pid)] == []
    # no firewall table of the demo is left: one still confining ada would break the next demo
    assert demo_tables() - tables_before == set()


def demo_tables() -> set[str]:
    """nftables tables but those of test hubs (``enclave_test_*``, other runs may be going on)."""
    listing = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    names = {line.split()[-1] for line in listing.splitlines() if line.startswith("table ")}
    return {name for name in names if not name.startswith("enclave_test_")}
