"""Shared steps of the hub benchmarks: a running enclave, login, spawn, first kernel output.

Not a benchmark itself; ``hub_login_to_output.py``, ``hub_spawn_cost.py`` and
``hub_concurrent.py`` import it. Everything is real: provider, hub, proxy, Unix accounts.
"""

import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devstack.enclave import running_enclave  # noqa: E402
from devstack.researcher import Researcher  # noqa: E402

PROJECT = "bench"
QUERY = "print(len(warehouse.query('SELECT institution, COUNT(*) AS n FROM students GROUP BY 1')))"


def enclave(researchers: int, extra_config: str = ""):
    """A running enclave with ``researchers`` members of one approved project."""
    stems = [f"r{i}" for i in range(researchers)]
    people = {stem: ["researchers"] for stem in stems}
    projects = {PROJECT: {"members": stems, "institutions": ["CC-101", "UNI-201"]}}
    return running_enclave(None, people, projects, extra_config=extra_config, students=2000)


def sign_on(running, stem: str) -> Researcher:
    researcher = Researcher.sign_on(running.hub.url, running.names[stem], running.password)
    researcher.accept_agreement().raise_for_status()
    return researcher


def spawn(researcher: Researcher, timeout: float = 120) -> float:
    """Start the server for the project; seconds from the request until it is ready."""
    start = time.perf_counter()
    response = researcher.spawn(PROJECT, timeout=timeout)
    if response.status_code not in (201, 202):
        raise RuntimeError(f"spawn refused: {response.status_code} {response.text[:200]}")
    researcher.wait_ready(timeout)
    return time.perf_counter() - start


def first_output(researcher: Researcher, code: str = QUERY) -> str:
    kernel = researcher.kernel()
    try:
        out = kernel.execute(code)
    finally:
        kernel.shutdown()
    if out["error"]:
        raise RuntimeError(f"kernel error {out['error'][0]}")
    return out["stdout"]


def summary(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return (
        f"{label}: median {statistics.median(ordered):.2f} s, min {ordered[0]:.2f} s, "
        f"max {ordered[-1]:.2f} s (n={len(ordered)})"
    )


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants, with the children they reaped."""
    stats = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:  # the fields after the command name: state ppid ... utime stime cutime cstime
            stats[int(pid)] = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
    tree, grew = {root}, True
    while grew:
        new = {pid for pid, f in stats.items() if int(f[1]) in tree} - tree
        tree |= new
        grew = bool(new)
    ticks = sum(sum(int(x) for x in stats[pid][11:15]) for pid in tree if pid in stats)
    return ticks / os.sysconf("SC_CLK_TCK")
