"""Start-up cost of the ``enclave`` command: CPU seconds of ``enclave --help`` and of
``enclave review check`` on a one-cell notebook (the fixed cost a researcher pays per check).

Runs each command ``--runs`` times in fresh processes and prints the median CPU time (user +
system of the child) beside its wall time. ``--python`` picks the interpreter (default: this
venv's; the session venv's is ``/opt/enclave/venv/bin/python``).

    .venv/bin/python benchmarks/cli_startup.py [--runs 15] [--python PATH]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ONE_CELL = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": 1,
            "id": "c1",
            "metadata": {},
            "outputs": [],
            "source": "1 + 1",
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def measure(argv: list[str], runs: int) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, cwd=tempfile.gettempdir())
        wall.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-400:]}")
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        notebook = os.path.join(tmp, "one.ipynb")
        with open(notebook, "w") as f:
            json.dump(ONE_CELL, f)
        enclave = [args.python, "-m", "enclave"]
        print(f"{'command':<36} {'CPU s (median)':>15} {'wall s':>8}")
        for name, argv in (
            ("enclave --help", [*enclave, "--help"]),
            ("enclave review check one-cell.ipynb", [*enclave, "review", "check", notebook]),
        ):
            cpu, wall = measure(argv, args.runs)
            print(f"{name:<36} {cpu:>15.3f} {wall:>8.3f}")


if __name__ == "__main__":
    main()
