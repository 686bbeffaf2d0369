"""Trusted re-execution: each frozen submission run top to bottom by the review service.

A clean copy of the submitted notebook (its code and markdown; no output, no execution count,
no widget state) runs in a fresh "Enclave (Python)" kernel — the session venv's own kernel
spec — inside the same kind of sandbox a session gets (``enclave.sandbox``: every namespace,
``/usr`` and ``/etc`` read-only, no network at all), as ``Reexecution.account``, a system
account no researcher's session runs as, with an empty home of its own. The kernel reaches the
project's SQLite extract only through a query process of its own (``QueryProcess``, recording
every statement to a log of this run only, before it runs): those records, written outside the
kernel, are the run's lineage. The driver (nbclient, in the service) is outside the sandbox: the
code under test sees only its kernel's sockets.

Limits: ``cell_timeout`` per cell, ``total_timeout`` for the run (longer: "too long", which a
reviewer may release only with an audited exception), ``memory_limit`` (address space of each
process in the sandbox: a cell asking for more gets ``MemoryError``). A failure names the cell
as JupyterLab shows it and the error's class, never its message (it may quote values).
"""

import asyncio
import json
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from traitlets import Bool, Float, Integer, Unicode, default
from traitlets.config import Configurable

from enclave.sandbox import SandboxSpec, bwrap_argv, check_tools, drop_privileges

KERNEL_NAME = "enclave-python"
SPEC_PATH = f"share/jupyter/kernels/{KERNEL_NAME}/kernel.json"
KERNEL_START_TIMEOUT = 60


class Reexecution(Configurable):
    """How the review service re-executes submissions (``c.Reexecution.*``)."""

    enabled = Bool(
        True,
        help="""Re-execute every submission on SQLite projects before it can be approved:
        its outputs are compared with the submitted ones, the gate screens the re-executed
        notebook, the release holds it, and the stewards are those whose data it read.""",
    ).tag(config=True)

    workers = Integer(
        1,
        min=1,
        help="""Re-executions run at once (each a kernel and a query process); the others
        wait in the queue, whose position the request page shows.""",
    ).tag(config=True)

    cell_timeout = Float(
        600.0,
        help="""Seconds one cell may run; a cell running longer ends the run and sends the
        request back to the researcher ("changes requested").""",
    ).tag(config=True)

    total_timeout = Float(
        3600.0,
        help="""Seconds a whole run may take; a longer one is stopped and the request waits
        for a reviewer, who may release it only with an explicit, audited exception
        ("released without re-execution").""",
    ).tag(config=True)

    memory_limit = Integer(
        2 * 1024**3,
        help="""Address space (bytes) of each process of a run (the kernel's RLIMIT_AS): a
        cell needing more fails with MemoryError and the request goes back to the researcher.
        0: none.""",
    ).tag(config=True)

    account = Unicode(
        "enclave-rerun",
        help="""Unix account the runs' kernels run as (a system account, created if missing;
        never a researcher's): no session can signal, trace or read a run.""",
    ).tag(config=True)

    runs_dir = Unicode(
        "/var/lib/enclave/reexecutions",
        help="""Where each run gets its empty home and its query log while it runs (0700,
        root's; removed after the run).""",
    ).tag(config=True)

    session_venv = Unicode(
        help="""The venv whose "Enclave (Python)" kernel runs the notebooks: the sessions'
        (``EnclaveSpawner.session_venv``, read from the same configuration).""",
    ).tag(config=True)

    @default("session_venv")
    def _session_venv_default(self):
        return self.config.get("EnclaveSpawner", {}).get("session_venv", "/opt/enclave/venv")


@dataclass
class Failure:
    """Why a run did not finish: ``kind`` is error, memory, cell-timeout, kernel-died,
    too-long or unavailable (the service could not run it: not the researcher's doing)."""

    kind: str
    cell: int | None = None  # 0-based
    execution_count: int | None = None
    error: str = ""  # the exception's class, never its message

    @property
    def place(self) -> str:
        if self.cell is None:
            return "notebook"
        prompt = " " if self.execution_count is None else self.execution_count
        return f"cell {self.cell + 1} [{prompt}]"

    def sentence(self) -> str:
        """What the researcher is told (no value of the notebook's)."""
        where = self.place
        return {
            "error": f"{where} raised {self.error} when the notebook was re-run from the start",
            "memory": f"{where} ran out of memory ({self.error}) when the notebook was re-run",
            "cell-timeout": f"{where} ran longer than the re-execution's time limit per cell",
            "kernel-died": f"the kernel died while running {where} (out of memory or a crash)",
            "too-long": "the re-execution ran longer than its time limit",
            "unavailable": f"the re-execution could not be run ({self.error})",
        }[self.kind]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "cell": self.cell,
            "execution_count": self.execution_count,
            "error": self.error,
            "place": self.place,
            "sentence": self.sentence(),
        }


@dataclass
class RunResult:
    notebook: object | None  # the executed notebook (also when a cell failed: up to it)
    failure: Failure | None
    records: list[dict] = field(default_factory=list)  # the run's query-process records
    seconds: float = 0.0

    @property
    def institutions(self) -> list[str]:
        return sorted({code for r in self.records for code in r.get("institutions") or ()})

    @property
    def relations(self) -> list[str]:
        return sorted({name for r in self.records for name in r.get("relations") or ()})


def clean_copy(nb):
    """The notebook as it would be before any run: sources only, the Enclave kernel."""
    import copy

    import nbformat

    clean = copy.deepcopy(nb)
    clean.metadata.pop("widgets", None)
    clean.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Enclave (Python)",
        "language": "python",
    }
    for cell in clean.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nbformat.from_dict(clean)


def kernel_argv(venv: str) -> list[str]:
    """The session venv's Enclave kernel command, run by that venv's interpreter."""
    spec = json.loads((Path(venv) / SPEC_PATH).read_text())
    argv = list(spec["argv"])
    if argv[0] == "python":
        argv[0] = f"{venv}/bin/python"
    return argv


class Runner:
    """Runs one clean notebook at a time per call of ``run`` (the pool calls it)."""

    def __init__(self, settings: Reexecution, query_settings):
        self.settings = settings
        self.query_settings = query_settings  # a warehouse.query_process.QueryProcess

    async def run(
        self,
        nb,
        *,
        run_id: str,
        extract: str,
        project: str,
        user: str,
        progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> RunResult:
        """Execute ``clean_copy(nb)``; ``progress(cells_done, cells_total)`` as it goes."""
        began = time.monotonic()
        try:
            check_tools()
            account = await asyncio.to_thread(self._account)
            run_dir = self._make_run_dir(run_id, account)
        except Exception as e:
            return RunResult(None, Failure("unavailable", error=_reason(e)))
        log_file = run_dir.parent / f"{run_dir.name}.queries.jsonl"
        query = None
        try:
            try:
                query = self.query_settings.start(
                    extract,
                    str(run_dir / "db" / "q.sock"),
                    peer=account,
                    user=user,
                    project=project,
                    log_file=str(log_file),
                )
            except Exception as e:
                return RunResult(None, Failure("unavailable", error=_reason(e)))
            # the socket listens already: the kernel starts meanwhile, and a query sent before
            # the process is ready waits in the socket's backlog
            ready = asyncio.ensure_future(asyncio.to_thread(query.wait_ready))
            notebook, failure = await self._execute_runs(
                clean_copy(nb), run_dir, account, query, project, progress
            )
            try:
                await ready
            except Exception as e:  # whatever the cells said, they had no warehouse
                return RunResult(None, Failure("unavailable", error=_reason(e)))
            records = _records(log_file)
            return RunResult(notebook, failure, records, time.monotonic() - began)
        finally:
            if query is not None:
                await asyncio.to_thread(query.stop)
            log_file.unlink(missing_ok=True)
            shutil.rmtree(run_dir, ignore_errors=True)

    def _account(self):
        from enclave.warehouse.query_process import ensure_account

        return ensure_account(self.settings.account, "re-executions")

    def _make_run_dir(self, run_id: str, account) -> Path:
        root = Path(self.settings.runs_dir)
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        run_dir = root / run_id
        shutil.rmtree(run_dir, ignore_errors=True)  # what a killed service left of this run
        for sub in ("home", "db", "kernel"):  # the run's own, nobody else's
            (run_dir / sub).mkdir(parents=True, mode=0o700)
            os.chown(run_dir / sub, account.pw_uid, account.pw_gid)
        return run_dir

    def _command(self, run_dir: Path, account, home_fd: int) -> list[str]:
        settings = self.settings
        spec = SandboxSpec(
            account,
            home_fd,
            settings.session_venv,
            read_only=(str(run_dir / "db"),),
            writable=(str(run_dir / "kernel"),),
            home=str(run_dir / "home"),
        )
        limits = ["prlimit", "--core=0", "--nofile=1024", "--nproc=1024"]
        if settings.memory_limit:
            limits.append(f"--as={settings.memory_limit}")
        return [
            *limits,
            "--",
            *bwrap_argv(spec),
            "--",
            *drop_privileges(account),
            # the service's pid is not in the sandbox: the kernel would think its parent gone
            # (bwrap's --die-with-parent ends it with the service instead)
            *("/usr/bin/env", "-u", "JPY_PARENT_PID"),
            *kernel_argv(settings.session_venv),
        ]

    def _env(self, run_dir: Path, query, project: str) -> dict[str, str]:
        venv = self.settings.session_venv
        return {
            "PATH": f"{venv}/bin:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(run_dir / "home"),
            "LANG": "C.UTF-8",
            "SHELL": "/bin/bash",
            "PYTHONNOUSERSITE": "1",
            "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",  # noqa: S108 (the sandbox's own)
            "IPYTHONDIR": "/tmp/ipython",  # noqa: S108
            "MPLCONFIGDIR": "/tmp/matplotlib",  # noqa: S108
            "ENCLAVE_PROJECT": project,
            "ENCLAVE_WAREHOUSE_URL": query.url,
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MALLOC_ARENA_MAX": "2",
        }

    async def _execute_runs(self, nb, run_dir: Path, account, query, project: str, progress):
        """A report batch's runs each in a fresh kernel of its own, as the batch ran them
        (``reports.submission.batch_runs``), their outputs put back in the bundle; any other
        notebook in one kernel. Stops at the first failure, placed in the whole notebook."""
        import copy

        from enclave.reports.submission import batch_runs

        sections = batch_runs(nb)
        if sections is None:
            return await self._execute(nb, run_dir, account, query, project, progress)
        total = sum(1 for c in nb.cells if c.cell_type == "code")
        done = 0
        for section in sections:
            part = copy.deepcopy(nb)
            part.cells = [nb.cells[i] for i in section]
            offset = done

            def counted(ran, _, offset=offset):
                progress(offset + ran, total)

            part, failure = await self._execute(part, run_dir, account, query, project, counted)
            for index, cell in zip(section, part.cells, strict=True):
                nb.cells[index] = cell
            done += sum(1 for c in part.cells if c.cell_type == "code")
            if failure is not None:
                if failure.cell is not None:
                    failure.cell = section[failure.cell]
                return nb, failure
        return nb, None

    async def _execute(self, nb, run_dir: Path, account, query, project: str, progress):
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        kernel_dir = run_dir / "kernel"
        os.chown(kernel_dir, account.pw_uid, account.pw_gid)  # a batch's next kernel binds here
        os.chmod(kernel_dir, 0o700)
        home_fd = os.open(run_dir / "home", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            km = _kernel_manager(self._command(run_dir, account, home_fd), kernel_dir, account)
            code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
            state = {"cell": None, "done": 0}

            def started(cell, cell_index, **_):
                state["cell"] = cell_index

            def executed(cell, cell_index, **_):
                state["done"] += 1
                progress(state["done"], len(code_cells))

            def lock_kernel_dir(**_):
                # the kernel has bound its sockets and the driver is connected: from now on
                # the code under test can neither remove nor replace them (ZeroMQ reconnects
                # by path, as root: a swapped-in link would take it elsewhere)
                os.chown(kernel_dir, 0, 0)
                os.chmod(kernel_dir, 0o755)  # noqa: S103 (root's; the kernel only connects)

            client = NotebookClient(
                nb,
                km=km,
                on_notebook_start=lock_kernel_dir,
                timeout=self.settings.cell_timeout,
                startup_timeout=KERNEL_START_TIMEOUT,
                kernel_name=KERNEL_NAME,
                allow_errors=False,
                record_timing=False,
                shutdown_kernel="immediate",  # nothing of the kernel's is kept: no grace needed
                on_cell_start=started,
                on_cell_executed=executed,
            )
            progress(0, len(code_cells))
            execution = asyncio.ensure_future(
                client.async_execute(
                    env=self._env(run_dir, query, project),
                    pass_fds=(home_fd,),
                    stdout=subprocess.DEVNULL,  # what the code writes to fd 1 goes nowhere
                    stderr=subprocess.DEVNULL,
                )
            )
            failure = None
            try:
                done, _ = await asyncio.wait({execution}, timeout=self.settings.total_timeout)
                if not done:
                    failure = self._at(nb, state["cell"], "too-long")
                    execution.cancel()
                    await asyncio.wait({execution})
                else:
                    execution.result()
            except CellExecutionError as e:
                kind = "memory" if e.ename == "MemoryError" else "error"
                failure = self._at(nb, state["cell"], kind, str(e.ename)[:100])
            except CellTimeoutError:
                failure = self._at(nb, state["cell"], "cell-timeout")
            except DeadKernelError:
                failure = self._at(nb, state["cell"], "kernel-died")
            except RuntimeError as e:  # the kernel did not start
                failure = Failure("unavailable", error=f"the kernel did not start ({_reason(e)})")
            finally:
                await _shutdown(km, client)
            return nb, failure
        finally:
            os.close(home_fd)

    @staticmethod
    def _at(nb, index, kind: str, error: str = "") -> Failure:
        count = nb.cells[index].get("execution_count") if index is not None else None
        return Failure(kind, index, count if isinstance(count, int) else None, error)


def _kernel_manager(argv: list[str], kernel_dir: Path, account):
    """A kernel manager for the sandboxed Enclave kernel: IPC sockets in the run's kernel
    directory (no TCP: the sandbox has no network), its connection file readable by the run's
    account only."""
    from jupyter_client.ioloop import AsyncIOLoopKernelManager
    from jupyter_client.kernelspec import KernelSpec

    class SandboxedKernel(AsyncIOLoopKernelManager):
        @property
        def kernel_spec(self):
            return KernelSpec(
                argv=argv,
                display_name="Enclave (Python)",
                language="python",
                env={},
            )

    km = SandboxedKernel(
        transport="ipc",
        ip=str(kernel_dir / "kernel"),
        connection_file=str(kernel_dir / "connection.json"),
    )
    km.write_connection_file()
    os.chown(km.connection_file, account.pw_uid, account.pw_gid)
    os.chmod(km.connection_file, stat.S_IRUSR | stat.S_IWUSR)
    return km


async def _shutdown(km, client) -> None:
    if client.kc is not None:  # a cancelled run leaves its channels open
        client.kc.stop_channels()
    try:
        if km.has_kernel:
            await km.shutdown_kernel(now=True)
    except Exception:  # noqa: S110 (bwrap --die-with-parent ends it with the service anyway)
        pass
    finally:
        await km.cleanup_resources()


def _records(log_file: Path) -> list[dict]:
    from enclave.warehouse.query_log import read_records

    try:
        with log_file.open("rb") as f:
            return read_records(f, log_file)[0]
    except FileNotFoundError:
        return []


def _reason(e: Exception) -> str:
    """One line, for the page and the log: an enclave error's own sentence, or the class."""
    from enclave.errors import EnclaveError

    return str(e).splitlines()[0][:200] if isinstance(e, EnclaveError) else type(e).__name__


def session_versions(venv: str, extract: str) -> dict:
    """What the manifest records of a run: the session venv's packages and versions, and the
    extract's identity (size, modification time, SHA-256 of its first MiB and its last)."""
    import hashlib

    packages = {}
    for info in sorted(Path(venv).glob("lib/python*/site-packages/*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        packages[name.lower()] = version
    stat_ = os.stat(extract)
    digest = hashlib.sha256()
    with open(extract, "rb") as f:
        digest.update(f.read(1024**2))
        f.seek(max(0, stat_.st_size - 1024**2))
        digest.update(f.read())
    return {
        "packages": packages,
        "warehouse": {
            "size": stat_.st_size,
            "modified": int(stat_.st_mtime),
            "sha256_ends": digest.hexdigest(),
        },
    }


TEXT_SHOWN = 2000  # characters of each version of an output that differs, on the page
STATE_TEXT = {
    "queued": "waiting for its turn",
    "running": "running",
    "done": "ran from top to bottom",
    "failed": "failed: the request went back to the researcher",
    "too_long": "ran longer than its time limit",
    "unavailable": "could not be run by the service (retried when it restarts)",
}


def page_view(run, queue: list[tuple[str, int]], progress) -> dict:
    """What the request page shows of a round's run: its state, its place in the queue, its
    progress (cells done of all), and once done the marks and both versions of what differs."""
    result = json.loads(run.result or "{}")
    key = (run.request_id, run.round)
    view = {
        "state": run.state,
        "state_text": STATE_TEXT.get(run.state, run.state),
        "position": queue.index(key) + 1 if key in queue else None,
        "waiting": len(queue),
        "progress": progress,
        "attempts": run.attempts,
        "failure": result.get("failure"),
        "seconds": result.get("seconds"),
        "marks": {},  # (cell, output) -> mark
        "mark_list": [],
        "differs": [],
        "tally": {},
        "gate_verdict": (result.get("gate") or {}).get("verdict"),
        "not_reproducible": [
            f"cell {f['cell'] + 1}, output {f['output'] + 1}"
            for f in (result.get("gate") or {}).get("findings", ())
            if f["rule"] == "not-reproducible"
        ],
        "institutions": result.get("institutions"),
    }
    marks = result.get("marks") or {}
    for key_, mark in marks.items():
        cell, _, output = key_.partition(":")
        view["marks"][(int(cell), int(output))] = mark
        view["tally"][mark] = view["tally"].get(mark, 0) + 1
    view["mark_list"] = [
        {"cell": cell, "output": output, "mark": mark}
        for (cell, output), mark in sorted(view["marks"].items())
    ]
    for item in result.get("differs") or ():
        view["differs"].append(
            {
                **item,
                "submitted": item["submitted"][:TEXT_SHOWN],
                "rerun": item["rerun"][:TEXT_SHOWN],
            }
        )
    return view
