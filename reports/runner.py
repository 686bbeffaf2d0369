"""One report run: papermill executes the template, the gate screens it, the notebook is filed.

The run executes into a private scratch directory; only a run that completed is moved (one
``os.replace``) into the output area, stamped with what reviewers need: template, its SHA-256,
the parameters, the warehouse version and the gate's verdict. A failed run leaves nothing there.
"""

import contextlib
import hashlib
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from enclave.errors import EnclaveError
from enclave.files import FileLimits, read_regular
from enclave.reports.kernel import IpcKernelManager
from enclave.reports.papermill_local import papermill
from enclave.reports.session import RunContext
from enclave.reports.template import KERNEL_NAME, Template
from enclave.reports.versions import warehouse_version
from enclave.scratch import Scratch, Swept, sweep

SCRATCH = ".report-runs"  # inside the output area: same filesystem, so the final move is atomic


@dataclass(frozen=True)
class RunResult:
    parameters: dict
    status: str  # ok | failed | current (an earlier run with the same inputs is kept)
    path: Path | None = None
    verdict: str | None = None  # the gate's: pass | review | block
    cell: int | None = None  # the template cell that failed
    error: str | None = None  # the exception's name (never its message: it may quote values)
    seconds: float = 0.0


def canonical(values: dict) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)


def output_path(context: RunContext, template: Template, values: dict) -> Path:
    """``reports/<template>/<template>__<changed parameters>__<hash>.ipynb``: stable per inputs."""
    changed = {k: v for k, v in sorted(values.items()) if v != template.parameters[k].default}
    slug = _file_name("_".join(f"{k}={v}" for k, v in changed.items()) or "defaults")[:80]
    name = _file_name(template.name)
    digest = hashlib.sha256(canonical(values).encode()).hexdigest()[:10]
    return context.output_dir / "reports" / name / f"{name}__{slug}__{digest}.ipynb"


def _file_name(text: str) -> str:
    """Only letters, digits and ``_.=-``, never leading dots: it stays one plain file name."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text).lstrip(".") or "report"


def run_key(template: Template, values: dict, version: str) -> str:
    """Changes whenever the template's code, the parameters or the warehouse data change."""
    return hashlib.sha256(f"{template.sha256}\n{canonical(values)}\n{version}".encode()).hexdigest()


def current_run(path: Path, key: str) -> dict | None:
    """The report metadata of the notebook at ``path`` if it was made with run key ``key``."""
    try:
        data = read_regular(path, FileLimits().max_notebook_bytes, "FileLimits.max_notebook_bytes")
        report = json.loads(data)["metadata"]["enclave"]["report"]
    except (EnclaveError, OSError, ValueError, KeyError, TypeError):
        return None
    return report if isinstance(report, dict) and report.get("run_key") == key else None


def _set_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextlib.contextmanager
def _environment(values: dict[str, str | None]):
    """The kernel inherits this process's environment: set it for one run, then restore."""
    saved = {name: os.environ.get(name) for name in values}
    _set_environment(values)
    try:
        yield
    finally:
        _set_environment(saved)


PAPERMILL_ADDED = {"injected-parameters", "papermill-error-cell-tag"}


def _failed_cell(nb) -> int | None:
    """Index in the *template* of the last cell papermill started: the one that failed.

    (papermill marks a cell whose kernel died "completed", so the status cannot tell.)
    """
    added, failed = 0, None  # cells papermill inserted: injected parameters, the error banner
    for index, cell in enumerate(nb.cells):
        metadata = cell.get("metadata", {})
        if PAPERMILL_ADDED & set(metadata.get("tags", [])):
            added += 1
        elif metadata.get("papermill", {}).get("start_time"):
            failed = index - added
    return failed


def _read_partial(path: Path):
    """What papermill saved before the failure (it saves after every cell), if anything."""
    try:
        return nbformat.read(str(path), as_version=4)
    except (OSError, ValueError):
        return nbformat.v4.new_notebook()


def _error_line(error: Exception) -> str:
    """The exception's name only: its message may quote data values (a cell's ``evalue``)."""
    return str(getattr(error, "ename", None) or type(error).__name__)[:100]


def make_gate(context: RunContext):
    from enclave.config import load_config
    from enclave.output_review.gate import Gate

    return Gate(config=load_config(context.gate_config))


def run_report(
    template: Template,
    values: dict,
    context: RunContext,
    *,
    version: str | None = None,
    skip_current: bool = False,
    gate=None,
) -> RunResult:
    """Execute one run; ``values`` must already be checked (``check_values``)."""
    version = version if version is not None else warehouse_version(context.warehouse_url)
    final = output_path(context, template, values)
    key = run_key(template, values, version)
    kept = current_run(final, key) if skip_current else None
    if kept:
        return RunResult(values, "current", final, kept.get("gate", {}).get("verdict"))
    if gate is None:  # build it (nbconvert's imports take a while) while the kernel works
        building = ThreadPoolExecutor(1, thread_name_prefix="gate")
        pending_gate = building.submit(make_gate, context)
        building.shutdown(wait=False)
    clock = time.monotonic()
    scratch_root = context.output_dir / SCRATCH
    scratch_root.mkdir(mode=0o700, exist_ok=True)
    run_dir = Scratch(scratch_root, "report", folder=True)  # 0700, swept if we are killed
    scratch = run_dir.path
    partial = scratch / final.name
    try:
        started = datetime.now(UTC)
        try:
            with _environment(context.kernel_environment()):
                nb = papermill.execute_notebook(
                    str(template.path),
                    str(partial),
                    parameters=values,
                    kernel_name=KERNEL_NAME,
                    progress_bar=False,
                    cwd=str(scratch),  # files a report writes stay out of the output area
                    kernel_manager_class=IpcKernelManager,
                    execution_timeout=context.cell_timeout,
                )
            gate = gate or pending_gate.result()
            report = gate.screen(nb, final.name)
        except Exception as e:  # a cell error, a dead kernel, a timeout, a gate that broke
            cell = _failed_cell(_read_partial(partial))
            error = _error_line(e)
            return RunResult(values, "failed", cell=cell, error=error, seconds=_since(clock))
        nb.metadata.papermill["output_path"] = str(final)
        nb.metadata["enclave"] = {
            "report": {
                "template": template.name,
                "template_sha256": template.sha256,
                "parameters": values,
                "project": context.project,
                "warehouse_version": version,
                "run_key": key,
                "started": started.isoformat(timespec="seconds"),
                "seconds": round(_since(clock), 3),
                "gate": {"verdict": report.verdict, "findings": len(report.findings)},
            }
        }
        nbformat.write(nb, str(partial))
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, final)
        return RunResult(values, "ok", final, report.verdict, seconds=_since(clock))
    finally:
        run_dir.remove()


def sweep_runs(context: RunContext) -> list[Swept]:
    """Remove what report runs killed before they finished left in the output area."""
    return sweep(context.output_dir / SCRATCH)


def _since(clock: float) -> float:
    return time.monotonic() - clock
