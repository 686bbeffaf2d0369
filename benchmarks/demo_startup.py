"""`make demo` until the hub answers its login page, after the first set-up (goal: <= 15 s).

Runs ``make demo`` (the same command a new user types) N times in a row, each until
``http://127.0.0.1:8000/hub/login`` answers 200, then stops it as Ctrl-C would (SIGINT to its
process group) and waits for every process it started. The first run may build the warehouse;
the figure that counts is the median of the runs after it. CPU seconds are those of every
process the demo started until the hub answered (from /proc, reaped children included).

    .venv/bin/python benchmarks/demo_startup.py [--runs 4] [--session-venv /opt/enclave/venv-X]

Uses ports 8000 and 8010: refuses to run while anything listens there (another demo).
"""

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests
from hub_support import tree_cpu

REPO = Path(__file__).resolve().parents[1]
LOGIN_PAGE = "http://127.0.0.1:8000/hub/login"


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def one_run(session_venv: str, timeout: float) -> tuple[float, float]:
    """(seconds until the login page answered, CPU seconds of the whole run)."""
    start = time.perf_counter()
    demo = subprocess.Popen(
        ["make", "-s", "demo", f"SESSION_VENV={session_venv}"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while time.perf_counter() - start < timeout:
            if demo.poll() is not None:
                raise RuntimeError(f"make demo exited with {demo.returncode} before answering")
            try:
                if requests.get(LOGIN_PAGE, timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"the hub did not answer within {timeout:.0f} s")
        answered = time.perf_counter() - start
        cpu = tree_cpu(demo.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited on its own
            os.killpg(demo.pid, signal.SIGINT)
        demo.wait(120)
        deadline = time.monotonic() + 60
        while (port_in_use(8000) or port_in_use(8010)) and time.monotonic() < deadline:
            time.sleep(0.2)
    return answered, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument(
        "--session-venv", default=os.environ.get("ENCLAVE_SESSION_VENV", "/opt/enclave/venv")
    )
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()
    if port_in_use(8000) or port_in_use(8010):
        print("ports 8000/8010 are in use (another demo?); stop it first.", file=sys.stderr)
        return 2
    rows = []
    for run in range(1, args.runs + 1):
        answered, cpu = one_run(args.session_venv, args.timeout)
        rows.append((answered, cpu))
        print(f"run {run}: hub answered after {answered:.2f} s wall, {cpu:.2f} s CPU (all of it)")
    later = rows[1:] or rows
    wall = statistics.median(r[0] for r in later)
    cpu = statistics.median(r[1] for r in later)
    print(
        f"make demo -> login page, runs 2..{len(rows)}: median {wall:.2f} s wall, "
        f"{cpu:.2f} s CPU; goal <= 15 s: {'met' if wall <= 15 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
