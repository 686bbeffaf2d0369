"""Cost of the Enclave kernel's capture (provenance of every aggregation, the structured form
of every displayed table) on a groupby/crosstab-heavy notebook: the same notebook run by the
"Enclave (Python)" kernel and by a plain ipykernel (``python3``), alternating, in one run.

The notebook builds a student-level frame once, then runs ``--cells`` analysis cells (groupby
counts, means and named aggregations, crosstabs with margins and normalised, pivot tables,
``value_counts``, ``describe``, unstacked counts), each displaying its result. Times come from
inside each kernel (CPU seconds of the kernel process and wall time, from the first analysis
cell to the last), so kernel start-up and the client are not counted; the whole run's wall
time (start-up included) is printed beside. Goal (issue 11): the Enclave kernel at most 1.2x.

    .venv/bin/python benchmarks/kernel_capture_overhead.py [--rows 200000] [--cells 48] [--rounds 3]
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]

SETUP = """
import json, time
import numpy as np
import pandas as pd
rng = np.random.default_rng(7)
n = {rows}
df = pd.DataFrame({{
    "institution": rng.choice(["K12-001", "K12-002", "CC-101", "CC-102", "UNI-201"], n),
    "term": rng.choice([f"{{y}}{{t}}" for y in range(2015, 2024) for t in ("FA", "SP")], n),
    "gender": rng.choice(["F", "M", "X"], n, p=[0.49, 0.49, 0.02]),
    "ethnicity": rng.choice(["A", "B", "H", "W", "O"], n),
    "units": rng.uniform(3, 15, n).round(1),
    "gpa": rng.uniform(1.0, 4.0, n).round(2),
    "completed": rng.integers(0, 2, n),
}})
"""

ANALYSES = [
    'cohort.groupby("institution").size()',
    'cohort.groupby(["institution", "term"])["gpa"].mean()',
    'cohort.groupby(["institution", "gender"]).agg(n=("gpa", "size"), gpa=("gpa", "mean"), '
    'units=("units", "sum"))',
    "pd.crosstab(cohort.institution, cohort.gender)",
    "pd.crosstab(cohort.institution, cohort.term, margins=True)",
    'pd.crosstab(cohort.ethnicity, cohort.gender, normalize="index")',
    'cohort.pivot_table(index="institution", columns="gender", values="gpa", aggfunc="mean")',
    'cohort.value_counts("ethnicity")',
    'cohort.groupby("term")["completed"].mean()',
    'cohort.groupby("institution")["units"].describe()',
    'cohort.groupby(["institution", "term", "gender"]).size().unstack()',
    'cohort[["units", "gpa"]].describe()',
]
COHORTS = [
    "df",
    'df[df.term >= "2019"]',
    'df[df.gender != "X"]',
    "df[df.units >= 6]",
]
CLOCKS = "(time.process_time(), time.perf_counter())"


def build(rows: int, cells: int):
    nb = new_notebook()
    nb.cells.append(new_code_cell(SETUP.format(rows=rows)))
    nb.cells.append(new_code_cell(f"started = {CLOCKS}"))
    for i in range(cells):
        cohort = COHORTS[(i // len(ANALYSES)) % len(COHORTS)]
        nb.cells.append(new_code_cell(f"cohort = {cohort}\n{ANALYSES[i % len(ANALYSES)]}"))
    nb.cells.append(
        new_code_cell(
            f"ended = {CLOCKS}\n"
            'print(json.dumps({"cpu": ended[0] - started[0], "wall": ended[1] - started[1]}))'
        )
    )
    return nb


def run(kernel: str, rows: int, cells: int) -> dict:
    nb = build(rows, cells)
    client = NotebookClient(nb, kernel_name=kernel, timeout=1200, allow_errors=False)
    start = time.perf_counter()
    client.execute(env={**os.environ, "ENCLAVE_QUERY_LOG_FILE": os.devnull})
    whole = time.perf_counter() - start
    measured = json.loads(nb.cells[-1].outputs[0]["text"])
    structured = sum(
        "application/vnd.enclave.table+json" in o.get("data", {})
        for cell in nb.cells
        for o in cell.get("outputs", ())
    )
    return {**measured, "whole": whole, "structured": structured}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="students in the frame")
    parser.add_argument("--cells", type=int, default=48, help="analysis cells")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each kernel (median)")
    args = parser.parse_args()
    from enclave.kernels import install

    install.install(prefix=sys.prefix)
    kernels = {"plain": "python3", "enclave": "enclave-python"}
    runs = {name: [] for name in kernels}
    for _ in range(args.rounds):
        for name, kernel in kernels.items():  # alternating: both see the same machine load
            runs[name].append(run(kernel, args.rows, args.cells))
    median = {
        name: {key: statistics.median(r[key] for r in results) for key in ("cpu", "wall", "whole")}
        for name, results in runs.items()
    }
    shown = runs["enclave"][0]["structured"]
    print(
        f"{args.cells} analysis cells over {args.rows:,} students, median of {args.rounds} runs "
        f"each (load {os.getloadavg()[0]:.1f}); Enclave kernel: {shown} outputs with structure"
    )
    print("                     kernel CPU s   kernel wall s   whole run wall s")
    for name, label in (("plain", "plain ipykernel"), ("enclave", "Enclave kernel")):
        m = median[name]
        print(f"{label:20s} {m['cpu']:12.2f} {m['wall']:15.2f} {m['whole']:18.2f}")
    p, e = median["plain"], median["enclave"]
    print(
        f"overhead             {e['cpu'] / p['cpu']:11.2f}x {e['wall'] / p['wall']:14.2f}x "
        f"{e['whole'] / p['whole']:17.2f}x   (goal <= 1.2x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
