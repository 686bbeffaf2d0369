"""Overhead of `enclave report run` (parameter checks, gate, metadata, filing included) against
bare papermill (its CLI) on the same run of one template; median of several rounds, alternating.

Goal: at most 10% slower.

    .venv/bin/python benchmarks/report_overhead.py [--rounds 7] [--template pipeline]
"""

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from report_setup import ENCLAVE, papermill_argv, prepare, template_path

PARAMETERS = {"first_cohort": 2013}


def timed(argv, env) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--template", default="pipeline")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = prepare(root, args.students)
        output = root / "output"
        output.mkdir()
        enclave_argv = [ENCLAVE, "report", "run", args.template, "--output-dir", str(output)]
        for name, value in PARAMETERS.items():
            enclave_argv += ["-p", name, str(value)]
        bare_argv = papermill_argv(template_path(args.template), root / "bare.ipynb", PARAMETERS)
        timed(bare_argv, env)  # warm the page cache for both
        bare, enclave = [], []
        for _ in range(args.rounds):
            bare.append(timed(bare_argv, env))
            enclave.append(timed(enclave_argv, env))
    b, e = statistics.median(bare), statistics.median(enclave)
    print(f"one run of {args.template}, median of {args.rounds}")
    print(f"papermill CLI      : {b:6.2f} s")
    print(f"enclave report run : {e:6.2f} s")
    print(f"overhead: {e / b:.3f}x ({100 * (e / b - 1):+.1f}%; goal <= +10%)")


if __name__ == "__main__":
    main()
