"""``report batch``: every combination of a grid of parameters, run by worker processes.

Every combination is checked before anything runs. A combination whose notebook in the output
area carries the same run key (template code + parameters + warehouse version) is kept as it is;
the rest run, so running a batch again redoes only what failed or changed.
"""

import itertools
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed

import yaml
from tqdm import tqdm

from enclave.files import FileLimits, read_regular
from enclave.reports.errors import BadInput
from enclave.reports.parameters import check_values
from enclave.reports.runner import RunResult, make_gate, run_report
from enclave.reports.session import RunContext
from enclave.reports.template import Template
from enclave.reports.versions import warehouse_version


def load_grid(path: str, template: Template) -> list[dict]:
    """The checked parameter values of every combination in a grid file.

    The file maps parameter names to a list of values (or one value, used in every run).
    """
    try:
        limit = FileLimits().max_text_bytes
        text = read_regular(path, limit, "FileLimits.max_text_bytes", exit_code=2).decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: cannot read the grid file ({type(e).__name__}).") from None
    try:
        grid = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise BadInput(
            f"{path}: not valid YAML{line}; write one `name: [value, ...]` per parameter."
        ) from None
    if not isinstance(grid, dict) or not grid:
        raise BadInput(
            f"{path}: a grid maps parameter names to lists of values, e.g. `cohort: [2019, 2020]`."
        )
    axes = {}
    for name, values in grid.items():
        values = values if isinstance(values, list) else [values]
        if not values:
            raise BadInput(f"{path}: parameter {name!r} has an empty list of values.")
        axes[str(name)] = values
    return [
        check_values(
            f"{path} ({template.name})",
            template.parameters,
            dict(zip(axes, combo, strict=True)),
            as_text=False,
        )
        for combo in itertools.product(*axes.values())
    ]


_gate = None  # one gate per worker process


def _start_worker(context: RunContext) -> None:
    global _gate
    _gate = make_gate(context)


def _run(template: Template, values: dict, context: RunContext, version: str) -> RunResult:
    return run_report(template, values, context, version=version, skip_current=True, gate=_gate)


def run_batch(
    template: Template, combinations: list[dict], context: RunContext, workers: int
) -> list[RunResult]:
    """Results in grid order."""
    version = warehouse_version(context.warehouse_url)
    make_gate(context)  # a gate that cannot be built stops the batch before any kernel starts
    results: dict[int, RunResult] = {}
    # workers come from a fork server (not a fork of this possibly threaded process) that has
    # already imported the runner, so starting one costs no imports
    mp = multiprocessing.get_context("forkserver")
    mp.set_forkserver_preload(["enclave.reports.runner"])
    with (
        ProcessPoolExecutor(workers, mp, initializer=_start_worker, initargs=(context,)) as pool,
        tqdm(total=len(combinations), desc=template.name, unit="run", file=sys.stderr) as bar,
    ):
        futures = {
            pool.submit(_run, template, values, context, version): i
            for i, values in enumerate(combinations)
        }
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            bar.update()
    return [results[i] for i in range(len(combinations))]


def summary_table(results: list[RunResult]) -> str:
    """One row per run: parameters, status, gate verdict, failing cell and error."""
    rows = [("#", "parameters", "status", "gate", "cell", "error")]
    for i, r in enumerate(results, 1):
        params = " ".join(f"{k}={v}" for k, v in r.parameters.items())
        cell = "" if r.cell is None else str(r.cell)
        rows.append((str(i), params, r.status, r.verdict or "", cell, r.error or ""))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows
    ]
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "current", "failed")}
    lines.append(
        f"{len(results)} runs: {counts['ok']} ran, {counts['current']} already current, "
        f"{counts['failed']} failed"
    )
    return "\n".join(line.rstrip() for line in lines)
