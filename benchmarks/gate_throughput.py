"""Gate throughput on a generated notebook of 5,000 cells with DataFrame outputs.

Two notebooks: as the Enclave kernel writes them (text/plain, text/html and the structured
form, made by the kernel's own display code over real aggregations), and ``--text-only``, as
a notebook from elsewhere (text/plain and text/html only; the text heuristics read every
table). Times, in one run on the same file: the gate (read + screen, in a process of its own
that imports only the gate: its CPU and peak memory), ``json.load`` (also with Python's cycle
collector paused, as the gate parses), and ``jupyter nbconvert --to html``; prints MB/s, CPU
seconds and the ratios.
Goals: the gate at most 3x the CPU of ``json.load``, and at most 0.1x the HTML export.

    .venv/bin/python benchmarks/gate_throughput.py [--cells 5000] [--text-only] [--keep DIR]
"""

import argparse
import gc
import json
import os
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


def kernel_formatter():
    """IPython's display formatter with the Enclave kernel's structured form installed."""
    from IPython.core.interactiveshell import InteractiveShell

    from enclave.kernels import provenance, structured

    provenance.install()
    shell = InteractiveShell.instance()
    structured.install(shell)
    return shell.display_formatter.format


def kernel_tables(rng, cells: int):
    """One aggregation of a cohort (some groups tiny), shown 25 groups at a time: each shown
    frame is derived from the result, so its cells carry the provenance recorded for it."""
    n = 200_000
    cohort = pd.DataFrame(
        {
            "institution": rng.choice(INSTITUTIONS, n),
            "term": rng.choice(TERMS, n),
            "units": rng.uniform(3, 15, n).round(1),
            "gpa": rng.uniform(1.8, 3.9, n).round(2),
            "completed": rng.integers(0, 2, n),
            "success": rng.integers(0, 2, n),
        }
    )
    tiny = cohort.index[(cohort.institution == "CC-102") & (cohort.term == "2019SU")]
    cohort = cohort.drop(tiny[5:])  # five students: every table showing them blocks
    summary = cohort.groupby(["institution", "term"]).agg(
        students=("units", "size"),
        completions=("completed", "sum"),
        mean_units=("units", "mean"),
        mean_gpa=("gpa", "mean"),
        success_rate=("success", "mean"),
    )
    for _ in range(cells):
        yield summary.iloc[np.sort(rng.choice(len(summary), 25, replace=False))]


def generate(path: Path, cells: int, text_only: bool) -> None:
    rng = np.random.default_rng(42)
    nb = new_notebook()
    if text_only:
        frames = (table(rng, i) for i in range(cells))
        show = lambda frame: {"text/plain": repr(frame), "text/html": frame._repr_html_()}  # noqa: E731
    else:
        frames, format = kernel_tables(rng, cells), kernel_formatter()
        show = lambda frame: format(frame)[0]  # noqa: E731
    for i, frame in enumerate(frames):
        cell = new_code_cell(f"summary_{i} = cohort.groupby(['institution', 'term']).agg(...)")
        cell.outputs = [new_output("execute_result", data=show(frame), execution_count=i + 1)]
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


SCREEN = """
import json, resource, sys, time
from pathlib import Path
from enclave.output_review.gate import Gate, read_notebook

def cpu():
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime

path, gate = sys.argv[1], Gate()
wall, start = time.perf_counter(), cpu()
report = gate.screen(read_notebook(path), path)
wall, used = time.perf_counter() - wall, cpu() - start
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) / 1e3 for line in status if line.startswith("VmHWM:"))
blocked = sum(f.severity == "block" for f in report.findings)
print(json.dumps({"wall": wall, "cpu": used, "peak_mb": peak, "verdict": report.verdict,
                  "blocked": blocked}))
"""


def screened(path: Path) -> dict:
    """The gate (read + screen) in a process that imports only the gate, so that its CPU
    seconds and its peak memory (VmHWM) are the gate's: this one holds pandas and numpy."""
    done = subprocess.run(
        [sys.executable, "-c", SCREEN, str(path)], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout)


def json_load_without_collector(path: Path):
    gc.disable()
    try:
        return json.loads(path.read_bytes())
    finally:
        gc.enable()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument(
        "--text-only", action="store_true", help="outputs without the kernel's structured form"
    )
    parser.add_argument("--keep", help="folder to keep the generated notebook in")
    parser.add_argument("--no-nbconvert", action="store_true", help="skip the HTML export")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="gate-bench-"))
    path = folder / ("bench-text.ipynb" if args.text_only else "bench.ipynb")
    if args.generate_only:
        generate(path, args.cells, args.text_only)
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
                *(["--text-only"] if args.text_only else []),
            ],
            check=True,
        )
    mb = path.stat().st_size / 1e6

    gate = screened(path)
    gate_s, gate_cpu = gate["wall"], gate["cpu"]
    json_s, json_cpu, _ = timed(lambda: json.loads(path.read_bytes()))
    _, bare_cpu, _ = timed(lambda: json_load_without_collector(path))
    html = folder / "bench.html"
    nbconvert_s, nbconvert_cpu, _ = (
        (float("nan"), float("nan"), None)
        if args.no_nbconvert
        else timed(
            lambda: subprocess.run(
                [sys.executable, "-m", "nbconvert", "--to", "html", str(path)]
                + ["--output", html.stem],
                check=True,
                capture_output=True,
            )
        )
    )
    print(
        f"notebook            {mb:8.1f} MB, {args.cells:,} cells "
        f"({'text only' if args.text_only else 'as the Enclave kernel writes them'}), "
        f"verdict {gate['verdict']}, {gate['blocked']} blocked outputs "
        f"(load {os.getloadavg()[0]:.1f})"
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
    print(
        f"gate / json.load    {gate_s / json_s:8.1f}x wall  {gate_cpu / json_cpu:.1f}x CPU"
        "  (goal <= 3x CPU)"
    )
    print(
        f"  json.load with the cycle collector paused, as the gate parses: {bare_cpu:.2f} CPU s"
        f" (gate {gate_cpu / bare_cpu:.1f}x)"
    )
    print(
        f"peak RSS of the gate (a process of its own) {gate['peak_mb']:,.0f} MB = "
        f"{gate['peak_mb'] / mb:.1f}x file"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
