"""Submission of a ~50 MB notebook through the hub until its gate report is ready, against the
gate alone (read + screen) on the same file. Goal: overhead ratio at most 1.5x.

The submission is the real path: HTTP upload through the hub's proxy with a researcher's token,
streamed to the frozen store while hashed, the gate on the frozen copy, steward derivation, the
request and its audit events committed; timed until the 201 answer carries the gate's verdict.

    .venv/bin/python benchmarks/review_submit.py [--cells 3000] [--runs 2]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from gate_throughput import gate_run, generate
from review_setup import review_enclave

from enclave.kernels import submit as client


def best(fn, runs: int):
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=3000)  # ~50 MB
    parser.add_argument("--runs", type=int, default=2, help="best of N for each side")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="review-bench-"))
    path = root / "home" / "big.ipynb"
    path.parent.mkdir()
    print(f"generating {args.cells:,} cells ...", file=sys.stderr)
    generate(path, args.cells)
    mb = path.stat().st_size / 1e6

    gate_s, report = best(lambda: gate_run(path), args.runs)
    with review_enclave(root / "enclave") as (_enclave, people, base):
        environ = {
            "ENCLAVE_REVIEW_URL": base,
            "JUPYTERHUB_API_TOKEN": people["rita"][1],
            "ENCLAVE_PROJECT": "bench",
            "HOME": str(path.parent),
        }
        submit_s, result = best(
            lambda: client.submit(
                path,
                purpose="Throughput benchmark",
                exception_note="Benchmark tables include planted small counts.",
                environ=environ,
            ),
            args.runs,
        )
    print(f"notebook                {mb:8.1f} MB, {args.cells:,} cells, verdict {report.verdict}")
    print(f"gate alone (read+screen){gate_s:8.2f} s  {mb / gate_s:8.1f} MB/s")
    print(
        f"submission via the hub  {submit_s:8.2f} s  {mb / submit_s:8.1f} MB/s  "
        f"(request {result['id']}, verdict {result['verdict']})"
    )
    print(f"overhead ratio          {submit_s / gate_s:8.2f}x  (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
