"""How long submissions are refused after the review service is killed (``kill -9``).

A real enclave (provider, hub, proxy, review service); a researcher submits a small notebook
every 50 ms from the moment the service dies until one is accepted. Measured with the hub's
check every ``ManagedServices.poll_interval`` seconds (the enclave's 1 s) and with JupyterHub's
own 30 s, each over ``--kills`` kills: the refused window, the part of it until the hub noticed,
and the CPU seconds the restarted service spent until it answered.

    .venv/bin/python benchmarks/review_restart.py [--kills 3] [--intervals 1,30]
"""

import argparse
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from review_setup import review_enclave

from enclave.errors import EnclaveError
from enclave.kernels import submit as client

NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {},
    "cells": [{"cell_type": "markdown", "metadata": {}, "source": "restart benchmark", "id": "a"}],
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def service_pid(hub) -> int:
    for pid in hub.tree.members():
        try:
            if b"enclave.review_service" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    raise RuntimeError("no review service running")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def noticed_after(log: str, killed_at: float) -> float:
    """Seconds from the kill to the hub's "exited" line (wall clock of the hub's log)."""
    stamps = re.findall(r"\[E (\S+ \S+) JupyterHub service:\d+\] Service review exited", log)
    when = datetime.strptime(stamps[-1], "%Y-%m-%d %H:%M:%S.%f").timestamp()
    return when - killed_at


def one_kill(enclave, token: str, base: str, path: Path) -> tuple[float, float, float]:
    environ = {"ENCLAVE_REVIEW_URL": base, "JUPYTERHUB_API_TOKEN": token}
    environ["ENCLAVE_PROJECT"] = "bench"
    old = service_pid(enclave.hub)
    killed_at = time.time()
    began = time.monotonic()
    os.kill(old, signal.SIGKILL)
    while True:
        try:
            client.submit(path, purpose="restart benchmark", environ=environ)
            break
        except EnclaveError:  # 503 from the proxy while the service is down or starting
            time.sleep(0.05)
    refused = time.monotonic() - began
    new = service_pid(enclave.hub)
    return refused, noticed_after(enclave.hub.log(), killed_at), cpu_seconds(new)


def measure(interval: int, kills: int) -> list[tuple[float, float, float]]:
    root = Path(tempfile.mkdtemp(prefix="restart-bench-", dir="/var/lib/enclave"))
    path = root / "home" / "restart.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(NOTEBOOK))
    config = f"c.ManagedServices.poll_interval = {interval}\n"
    with review_enclave(root, config) as (enclave, people, base):
        results = []
        for _ in range(kills):
            time.sleep(interval * 0.37)  # kills land at different points of the poll cycle
            results.append(one_kill(enclave, people["rita"][1], base, path))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--intervals", default="1,30", help="poll intervals to compare (s)")
    args = parser.parse_args()
    medians = {}
    for interval in [int(i) for i in args.intervals.split(",")]:
        results = measure(interval, args.kills)
        refused, noticed, cpu = (statistics.median(r[i] for r in results) for i in range(3))
        medians[interval] = refused
        print(
            f"poll every {interval:>2} s: submissions refused for median {refused:.2f} s "
            f"(min {min(r[0] for r in results):.2f}, max {max(r[0] for r in results):.2f}, "
            f"n={len(results)}); the hub noticed after {noticed:.2f} s; the restarted service "
            f"used {cpu:.2f} CPU s until it answered",
            flush=True,
        )
    if len(medians) == 2:
        (fast, a), (slow, b) = sorted(medians.items())
        print(f"refused window, {slow} s vs {fast} s polling: {b / a:.1f}x")
    print(f"load average: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
