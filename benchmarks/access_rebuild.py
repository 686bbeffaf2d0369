"""What a steward's decision costs: the project's warehouse access rebuilt for the scopes then
approved (``warehouse.grant.apply_access``), on the SQLite warehouse of ``--students`` synthetic
students: every table of two institutions (the old, all-or-nothing grant), the narrower scopes
of the end-to-end test (students' columns of one, two tables of the other), and the withdrawal
of one and then of the last. Prints the median wall and CPU seconds of ``--runs`` and the
narrower rebuild's time as a ratio of the full one.

    .venv/bin/python benchmarks/access_rebuild.py [--students 20000] [--runs 5]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # devstack: the synthetic warehouse

FULL = {"CC-101": "*", "UNI-201": "*"}
NARROW = {
    "CC-101": {"students": ["birth_year", "gender"]},
    "UNI-201": {"students": None, "cc_awards": None},
}
STEPS = [
    ("full: every table of CC-101 and UNI-201", FULL),
    ("narrower: students' columns of CC-101, two tables of UNI-201", NARROW),
    ("CC-101 withdrawn: UNI-201's two tables", {"UNI-201": NARROW["UNI-201"]}),
    ("the last withdrawn: nothing left (revoke)", {}),
]


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from devstack.warehouse_demo import prepare_warehouse
    from enclave.warehouse.grant import apply_access

    with tempfile.TemporaryDirectory() as folder:
        with redirect_stdout(None):
            demo = prepare_warehouse(Path(folder), students=args.students)
        url = str(demo.warehouse)
        print(f"{args.students} students, load average {os.getloadavg()[0]:.1f}")
        medians = {}
        for label, scopes in STEPS:
            walls, cpus = [], []
            for _ in range(args.runs):
                apply_access(url, "bench", FULL)  # start from the full grant each time
                wall0, cpu0 = time.perf_counter(), cpu()
                apply_access(url, "bench", scopes)
                walls.append(time.perf_counter() - wall0)
                cpus.append(cpu() - cpu0)
            medians[label] = statistics.median(walls)
            print(f"{label:<62} wall {medians[label]:6.3f} s  cpu {statistics.median(cpus):6.3f} s")
        full, narrow = (medians[label] for label, _ in STEPS[:2])
        print(f"narrower / full rebuild: {narrow / full:.2f}x")


if __name__ == "__main__":
    main()
