"""Re-execution cost, two ways (needs root: sandboxes, the runs' account, query processes).

1. One notebook's re-execution (``Runner.run``, all of it: query process, sandbox, a fresh
   Enclave kernel, every cell) against the notebook's own run: its cells in an Enclave kernel
   already up (as in a session), outside any sandbox, through a query process; a short and a
   longer notebook; goal: at most 1.2x plus 3 s.
2. ``--concurrent N`` submissions queued at once and run by the review service's pool
   (``--workers``): each request's wait in the queue and its run time, the whole batch's wall
   and the CPU seconds of this process and its children.

    .venv/bin/python benchmarks/reexecution.py [--concurrent 10] [--workers 2]
"""

import argparse
import asyncio
import os
import pwd
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "review_service"))

from nbformat.v4 import new_code_cell, new_notebook  # noqa: E402
from traitlets.config import Config  # noqa: E402

from enclave.review_service.reexecution import (  # noqa: E402
    KERNEL_NAME,
    Reexecution,
    Runner,
    _kernel_manager,
    _shutdown,
    kernel_argv,
)
from enclave.warehouse.query_process import QueryProcess  # noqa: E402
from tests.kernels.enclave_test_warehouse import build_sqlite, grant  # noqa: E402

VENV = os.environ.get("ENCLAVE_SESSION_VENV", "/opt/enclave/venv")
SHORT = [
    "df = warehouse.query('SELECT term, COUNT(*) AS n FROM cc_enrollments GROUP BY term')",
    "df.sort_values('n').tail(3)",
]
LONG = [
    "import numpy as np, pandas as pd",
    "o = warehouse.query('SELECT * FROM cc_course_outcomes')",
    "for _ in range(40):\n    t = o.groupby('course_id').size()\nt.describe()",
    "x = np.random.default_rng(1).normal(size=(2000, 2000))\nfloat((x @ x).trace())",
    "import time\ntime.sleep(3)",
]


def cpu_now() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def settings(root: Path) -> Config:
    config = Config()
    config.Reexecution.session_venv = VENV
    config.Reexecution.runs_dir = str(root / "runs")
    config.QueryProcess.python = f"{VENV}/bin/python"
    return config


async def own_run(nb, extract: str, root: Path, config) -> float:
    """The notebook in the Enclave kernel, unsandboxed, through a query process."""
    from nbclient import NotebookClient

    query = QueryProcess(config=config).start(
        extract,
        str(root / "own.sock"),
        peer=pwd.getpwuid(os.getuid()),
        user="bench",
        project="bench",
        log_file=str(root / "own.jsonl"),
    )
    query.wait_ready()
    kernel_dir = root / "own-kernel"
    kernel_dir.mkdir(exist_ok=True)
    km = _kernel_manager(kernel_argv(VENV), kernel_dir, pwd.getpwuid(os.getuid()))
    env = {
        "PATH": f"{VENV}/bin:/usr/bin:/bin",
        "HOME": str(root),
        "ENCLAVE_WAREHOUSE_URL": query.url,
        "ENCLAVE_PROJECT": "bench",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    client = NotebookClient(nb, km=km, kernel_name=KERNEL_NAME, timeout=600)
    try:
        async with client.async_setup_kernel(env=env, cwd=str(root)):
            began = time.perf_counter()  # the kernel is up, as in a session: the cells only
            for index, cell in enumerate(nb.cells):
                await client.async_execute_cell(cell, index)
            return time.perf_counter() - began
    finally:
        await _shutdown(km, client)
        query.stop()


async def rerun(nb, extract: str, config) -> float:
    runner = Runner(Reexecution(config=config), QueryProcess(config=config))
    began = time.perf_counter()
    result = await runner.run(nb, run_id="bench-1", extract=extract, project="bench", user="b")
    assert result.failure is None, result.failure
    return time.perf_counter() - began


def one_notebook(extract: str, root: Path) -> None:
    config = settings(root)
    for name, cells in (("short", SHORT), ("longer", LONG)):
        nb = new_notebook(cells=[new_code_cell(s) for s in cells])
        cpu = cpu_now()
        own = asyncio.run(own_run(nb, extract, root, config))
        again = asyncio.run(rerun(nb, extract, config))
        print(
            f"{name:>7} notebook: own run {own:5.1f} s, re-execution {again:5.1f} s "
            f"(ratio {again / own:.2f}x, {again - own:+.1f} s; goal <= 1.2x + 3 s: "
            f"{'met' if again <= 1.2 * own + 3 else 'NOT met'}); "
            f"{cpu_now() - cpu:.1f} s CPU for both"
        )


def concurrent(extract: str, root: Path, count: int, workers: int) -> None:
    from conftest import make_workflow, submit  # tests/review_service helpers
    from review_factories import researcher

    from enclave.projects import ProjectRegistry
    from enclave.review_service.app import ReviewApplication
    from enclave.review_service.states import RunState

    wf = make_workflow(f"sqlite:///{root / 'state.sqlite'}", root / "store")
    wf.reexecute = True
    registry = ProjectRegistry(wf.engine)
    registry.create(
        "demo", purpose="bench", expires=(datetime.now(UTC) + timedelta(days=9)).date(), actor="a"
    )
    registry.add_member("demo", "rita", actor="a")
    registry.approve_override(
        "demo", "CC-101", actor="a", reason="benchmark", grant=lambda p, i: extract
    )
    nb = new_notebook(cells=[new_code_cell(s) for s in SHORT])
    ids = [submit(wf, researcher(), nb, notebook=f"n{i}.ipynb")["id"] for i in range(count)]
    runner = Runner(Reexecution(config=settings(root)), QueryProcess(config=settings(root)))

    async def main():
        app = ReviewApplication(wf, wf.settings, "/services/review/", b"x" * 32)
        app.start_reexecutions(runner, workers, poll=0.1)
        while any(wf.run_of(wf.data.request(i)).state != RunState.DONE for i in ids):
            await asyncio.sleep(0.2)
        for task in app._pool:
            task.cancel()

    cpu, began = cpu_now(), time.perf_counter()
    asyncio.run(main())
    wall = time.perf_counter() - began
    print(f"{count} submissions at once, {workers} worker(s), {os.cpu_count()} cores:")
    for rid in ids:
        run = wf.run_of(wf.data.request(rid))
        queued, started, finished = (
            datetime.fromisoformat(t) for t in (run.queued, run.started, run.finished)
        )
        print(
            f"  {rid}: waited {(started - queued).total_seconds():5.1f} s, "
            f"ran {(finished - started).total_seconds():5.1f} s"
        )
    print(f"  all done in {wall:.1f} s wall, {cpu_now() - cpu:.1f} s CPU (this process + children)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-reexecution-"))
    extract = grant(str(build_sqlite(root)), "bench", "CC-101")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    one_notebook(extract, root)
    concurrent(extract, root, args.concurrent, args.workers)


if __name__ == "__main__":
    main()
