"""Latency of the review queue page (and the queue API) with 1,000 requests, through the hub.

The 1,000 requests are opened with the service's own workflow (real gate, real audit events)
on the state database the running service reads; a reviewer then loads the queue page over
HTTP through the hub's proxy with their session cookie.

    .venv/bin/python benchmarks/review_queue.py [--requests 1000] [--loads 20]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output
from review_setup import review_enclave
from traitlets.config import Config


def open_requests(enclave, count: int) -> float:
    from enclave.output_review.gate import Gate
    from enclave.projects import ProjectRegistry
    from enclave.review_service.config import ReviewService
    from enclave.review_service.identity import SCOPE_SUBMIT, Actor
    from enclave.review_service.store import FrozenStore
    from enclave.review_service.workflow import ReviewWorkflow, Submission
    from enclave.state import make_engine

    engine = make_engine(enclave.state_url)
    settings = ReviewService(config=Config(), store_dir=str(enclave.hub.hub_dir / "review"))
    workflow = ReviewWorkflow(
        engine, FrozenStore(settings.store_dir), settings, ProjectRegistry(engine), Gate()
    )
    rita = Actor(enclave.names["rita"], frozenset({SCOPE_SUBMIT}))
    start = time.perf_counter()
    for i in range(count):
        nb = new_notebook(
            cells=[
                new_code_cell(
                    "by_term",
                    outputs=[
                        new_output(
                            "execute_result",
                            data={"text/plain": f"term  n\n2021FA  {100 + i}\n2022SP  140"},
                        )
                    ],
                )
            ]
        )
        upload = workflow.store.open_upload()
        upload.write(nbformat.writes(nb).encode())
        workflow.submit(
            rita,
            upload,
            Submission(notebook=f"study_{i}.ipynb", project="bench", purpose="queue benchmark"),
        )
    engine.dispose()
    return time.perf_counter() - start


def service_cpu_seconds(hub_dir: Path) -> float:
    """User + system CPU seconds of this enclave's review service process so far."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            b"enclave.review_service" in cmdline
            and f"ENCLAVE_HUB_DIR={hub_dir}".encode() in environ
        ):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    raise RuntimeError("the review service process was not found")


def timings(fn, loads: int) -> list[float]:
    out = []
    for _ in range(loads):
        start = time.perf_counter()
        response = fn()
        out.append(time.perf_counter() - start)
        response.raise_for_status()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="review-queue-bench-"))
    with review_enclave(root) as (enclave, people, base):
        opened_s = open_requests(enclave, args.requests)
        http, token = people["rev1"]
        http.get(base, timeout=60).raise_for_status()  # the service's OAuth sign-in, once
        cpu_before = service_cpu_seconds(enclave.hub.hub_dir)
        page = timings(lambda: http.get(base, timeout=60), args.loads)
        page_cpu = service_cpu_seconds(enclave.hub.hub_dir) - cpu_before
        rows = http.get(base, timeout=60).text.count("waiting for you")
        listing = timings(
            lambda: http.get(
                base + "api/requests", headers={"Authorization": f"token {token}"}, timeout=60
            ),
            args.loads,
        )
    print(
        f"requests opened         {args.requests:,} in {opened_s:.1f} s "
        f"({args.requests / opened_s:.0f} submissions/s, workflow only)"
    )
    print(f"queue page rows waiting {rows:,}")
    print(f"service CPU, page loads {page_cpu:.2f} s for {args.loads} loads")
    for label, values in (("queue page (HTML)", page), ("queue API (JSON)", listing)):
        values = sorted(values)
        median, p95 = statistics.median(values), values[int(0.95 * (len(values) - 1))]
        print(
            f"{label:<24}median {median * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
            f"({len(values)} loads, {args.requests / median:,.0f} rows/s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
