"""Gate throughput on a generated ~50 MB notebook of 5,000 cells with DataFrame outputs.

Times, in one run on the same file: the gate (read + screen, one process, one core),
``json.load``, and ``jupyter nbconvert --to html``; prints MB/s and both ratios.
Goal: at least 20 MB/s, and the gate at most 0.1x the HTML export.

    .venv/bin/python benchmarks/gate_throughput.py [--cells 5000] [--keep DIR]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
from nbformat.v4 import new_code_cell, new_notebook, new_output

from enclave.output_review.gate import Gate, read_notebook  # imported before timing starts

INSTITUTIONS = ["K12-001", "K12-002", "CC-101", "CC-102", "UNI-201"]
TERMS = [f"{y}{t}" for y in range(2015, 2024) for t in ("FA", "SP", "SU")]


def table(rng, i: int) -> pd.DataFrame:
    """Aggregates like a researcher's: counts by institution and term, means, rates;
    one table in twenty has a small count (so the gate has real parsing to do)."""
    index = pd.MultiIndex.from_product(
        [INSTITUTIONS, rng.choice(TERMS, 5, replace=False)], names=["institution", "term"]
    )
    n = len(index)
    frame = pd.DataFrame(
        {
            "students": rng.integers(10, 5000, n),
            "completions": rng.integers(10, 3000, n),
            "mean_units": rng.uniform(3, 15, n).round(2),
            "mean_gpa": rng.uniform(1.8, 3.9, n).round(3),
            "success_rate": rng.uniform(0.4, 0.95, n).round(4),
            "transfer_pct": rng.uniform(1, 40, n).round(1),
        },
        index=index,
    )
    if i % 20 == 0:
        frame.iloc[int(rng.integers(n)), 1] = int(rng.integers(1, 10))
    return frame


def generate(path: Path, cells: int) -> None:
    rng = np.random.default_rng(42)
    nb = new_notebook()
    for i in range(cells):
        frame = table(rng, i)
        cell = new_code_cell(f"summary_{i} = cohort.groupby(['institution', 'term']).agg(...)")
        cell.outputs = [
            new_output(
                "execute_result",
                data={"text/plain": repr(frame), "text/html": frame._repr_html_()},
                execution_count=i + 1,
            )
        ]
        cell.execution_count = i + 1
        nb.cells.append(cell)
    nbformat.write(nb, path)


def cpu_seconds() -> float:
    """This process's and its finished children's CPU time: robust on a busy machine."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn):
    """(wall seconds, CPU seconds, result)"""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = fn()
    return time.perf_counter() - wall, cpu_seconds() - cpu, result


def gate_run(path: Path):
    gate = Gate()
    return gate.screen(read_notebook(path), str(path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument("--keep", help="folder to keep the generated notebook in")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="gate-bench-"))
    path = folder / "bench.ipynb"
    if args.generate_only:
        generate(path, args.cells)
        return 0
    if not path.exists():  # in a child, so that this process's peak memory is the gate's
        print(f"generating {args.cells:,} cells ...", file=sys.stderr)
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--generate-only",
                "--cells",
                str(args.cells),
                "--keep",
                str(folder),
            ],
            check=True,
        )
    mb = path.stat().st_size / 1e6

    gate_s, gate_cpu, report = timed(lambda: gate_run(path))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    json_s, json_cpu, _ = timed(lambda: json.loads(path.read_bytes()))
    html = folder / "bench.html"
    nbconvert_s, nbconvert_cpu, _ = timed(
        lambda: subprocess.run(
            [sys.executable, "-m", "nbconvert", "--to", "html", str(path), "--output", html.stem],
            check=True,
            capture_output=True,
        )
    )
    blocked = sum(f.severity == "block" for f in report.findings)
    print(
        f"notebook            {mb:8.1f} MB, {args.cells:,} cells, verdict {report.verdict}, "
        f"{blocked} blocked outputs"
    )
    print("                      wall s     MB/s    CPU s  MB/CPU-s")
    for name, wall, cpu in (
        ("json.load", json_s, json_cpu),
        ("gate (read+screen)", gate_s, gate_cpu),
        ("nbconvert --to html", nbconvert_s, nbconvert_cpu),
    ):
        print(f"{name:20s} {wall:8.2f} {mb / wall:8.1f} {cpu:8.2f} {mb / cpu:9.1f}")
    print(
        f"gate / nbconvert    {gate_s / nbconvert_s:8.3f}x wall  "
        f"{gate_cpu / nbconvert_cpu:.3f}x CPU  (goal <= 0.1x)"
    )
    print(f"gate / json.load    {gate_s / json_s:8.1f}x wall  {gate_cpu / json_cpu:.1f}x CPU")
    print("goal: gate >= 20 MB/s on one core")
    print(f"peak RSS of the gate (this process) {peak_mb:,.0f} MB = {peak_mb / mb:.1f}x file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
