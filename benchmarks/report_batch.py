"""40 runs of one report template on this machine: `enclave report batch --workers 2` against
the same 40 runs one after another with the papermill CLI, in one run of this script.

Prints both wall times, runs/s and the speed-up. Goal: at least 1.8x with 2 workers.

    .venv/bin/python benchmarks/report_batch.py [--students 2000] [--workers 2]
"""

import argparse
import itertools
import subprocess
import tempfile
import time
from pathlib import Path

import yaml
from report_setup import ENCLAVE, papermill_argv, prepare, template_path

TEMPLATE = "course_success"
GRID = {
    "college": ["CC-101", "CC-102"],
    "group_by": ["gender", "ethnicity"],
    "first_year": list(range(2012, 2022)),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    combinations = [dict(zip(GRID, c, strict=True)) for c in itertools.product(*GRID.values())]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = prepare(root, args.students)
        template = template_path(TEMPLATE)

        sequential_out = root / "papermill"
        sequential_out.mkdir()
        start = time.perf_counter()
        for i, parameters in enumerate(combinations):
            out = sequential_out / f"run{i}.ipynb"
            subprocess.run(
                papermill_argv(template, out, parameters), env=env, check=True, capture_output=True
            )
        sequential = time.perf_counter() - start

        output = root / "output"
        output.mkdir()
        grid = root / "grid.yaml"
        grid.write_text(yaml.safe_dump(GRID))
        start = time.perf_counter()
        done = subprocess.run(
            [
                ENCLAVE,
                "report",
                "batch",
                TEMPLATE,
                "--grid",
                str(grid),
                "--workers",
                str(args.workers),
                "--output-dir",
                str(output),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        batch = time.perf_counter() - start
        summary = done.stdout.strip().splitlines()[-1]
        if done.returncode not in (0, 1) or "0 failed" not in summary:
            raise SystemExit(f"batch failed ({done.returncode}): {done.stderr[-500:]}")

    n = len(combinations)
    print(f"{n} runs of {TEMPLATE}, {args.students} simulated people")
    print(f"papermill CLI, sequential : {sequential:7.1f} s  {n / sequential:5.2f} runs/s")
    print(
        f"report batch, {args.workers} workers  : {batch:7.1f} s  {n / batch:5.2f} runs/s"
        f"  ({summary})"
    )
    print(f"speed-up: {sequential / batch:.2f}x (goal >= 1.8x)")


if __name__ == "__main__":
    main()
