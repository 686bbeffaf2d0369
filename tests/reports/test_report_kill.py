"""`kill -9` of a report run: its partial outputs go at the next run's start (issue 15)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from enclave.reports.runner import SCRATCH
from enclave.scratch import PREFIX
from tests.reports.report_test_helpers import filed

pytestmark = pytest.mark.e2e  # real kernels in a process that is killed: slow


def test_a_killed_run_leaves_nothing_after_the_next_start(session_env, make_template, capsys):
    output = session_env["output"]
    slow = make_template("slow", "n: int = 1", "print(n)", "import time; time.sleep(120)")
    run = subprocess.Popen(
        [sys.executable, "-m", "enclave", "report", "run", str(slow)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs = output / SCRATCH
    deadline = time.monotonic() + 120
    while not any(runs.glob(f"{PREFIX}report-*/*.ipynb")):  # papermill saved its first cells
        assert run.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    (left,) = list(runs.iterdir())
    assert oct(left.stat().st_mode & 0o777) == "0o700"  # the partial outputs were private
    quick = make_template("quick", "n: int = 1", "print(n)")
    next_run = subprocess.run(
        [sys.executable, "-m", "enclave", "report", "run", str(quick)],
        capture_output=True,
        text=True,
    )
    assert next_run.returncode == 0, next_run.stderr
    assert "removed 1 scratch item(s)" in next_run.stderr
    assert list(runs.iterdir()) == []
    assert [p.name.split("__")[0] for p in filed(output)] == ["quick"]
