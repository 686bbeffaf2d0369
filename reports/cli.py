"""``enclave report run|batch|list``: parameterized report runs inside the enclave."""

import sys

from enclave.cli import command_group
from enclave.errors import naming
from enclave.reports.errors import BadInput

EXIT_NEEDS_REVIEW = 1  # the run worked; the gate says review or block
EXIT_RUN_FAILED = 3


def _context(args):
    from enclave.reports.runner import sweep_runs
    from enclave.reports.session import context_from
    from enclave.scratch import describe

    context = context_from(args)
    swept = sweep_runs(context)
    if swept:  # a run killed before it finished: its partial outputs go now
        print(f"enclave: {describe(swept)}", file=sys.stderr)
    return context


def _check_submit(args) -> None:
    """Refuse a --submit that cannot be filed before spending a run on it."""
    if args.submit and not args.purpose.strip():
        raise BadInput("--purpose: say why these outputs should leave (needed with --submit).")


def _run(args) -> int:
    from enclave.reports.parameters import check_values
    from enclave.reports.runner import run_report
    from enclave.reports.template import load_template

    template = load_template(args.template)
    given = dict(args.parameter or [])
    if len(given) != len(args.parameter or []):
        raise BadInput("-p: a parameter is given twice; give each name once.")
    values = check_values(template.name, template.parameters, given, as_text=True)
    _check_submit(args)
    context = _context(args)
    with naming(str(context.output_dir)):  # a full disk, a read-only output area: one line
        result = run_report(template, values, context)
    if result.status == "failed":
        # the error's name only: its message may quote data values
        where = f" in cell {result.cell}" if result.cell is not None else ""
        print(
            f"report failed{where}: {result.error}; nothing was filed. Run the template in a "
            "notebook session to see the message.",
            file=sys.stderr,
        )
        return EXIT_RUN_FAILED
    print(f"{result.path}  gate: {result.verdict}  ({result.seconds:.1f} s)")
    if args.submit:
        from enclave.reports.submission import submit_runs

        print(submit_runs(template, [result], args.purpose))
    return 0 if result.verdict == "pass" else EXIT_NEEDS_REVIEW


def _batch(args) -> int:
    from enclave.reports.batch import load_grid, run_batch, summary_table
    from enclave.reports.template import load_template

    if args.workers < 1:
        raise BadInput("--workers: give a number of worker processes of 1 or more.")
    template = load_template(args.template)
    combinations = load_grid(args.grid, template)
    _check_submit(args)
    context = _context(args)
    with naming(str(context.output_dir)):
        results = run_batch(template, combinations, context, args.workers)
    print(summary_table(results))
    if any(r.status == "failed" for r in results):
        return EXIT_RUN_FAILED
    if args.submit:
        from enclave.reports.submission import submit_runs

        print(submit_runs(template, results, args.purpose))
    return 0 if all(r.verdict == "pass" for r in results) else EXIT_NEEDS_REVIEW


def _list(args) -> int:
    from enclave.reports.template import bundled_templates, load_template

    for name in sorted(bundled_templates()):
        template = load_template(name)
        print(template.name)
        for p in template.parameters.values():
            print(f"    {p.name}: {p.type} = {p.default!r}  {p.help}".rstrip())
    return 0


def register(groups) -> None:
    add = command_group(groups, "report", "run parameterized report templates")

    def add_run(name, handler, help_text):
        sub = add(name, handler, help_text)
        sub.add_argument("template", help="a template notebook path, or a bundled template name")
        sub.add_argument("--project", help="the project (default: the session's)")
        sub.add_argument("--warehouse-url", help="read-only warehouse URL (default: the session's)")
        sub.add_argument("--output-dir", help="the project's output area (default: the session's)")
        sub.add_argument(
            "--cell-timeout",
            type=int,
            help="seconds a cell may run (default: ReportRunner.cell_timeout, 1800)",
        )
        sub.add_argument("--submit", action="store_true", help="file the output(s) for review")
        sub.add_argument("--purpose", default="", help="what the report is for (with --submit)")
        return sub

    run = add_run("run", _run, "run a template once, then the gate")
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="a parameter value (repeatable)",
    )
    batch = add_run("batch", _batch, "run every combination of a parameter grid")
    batch.add_argument("--grid", required=True, help="YAML file: name -> list of values")
    batch.add_argument("--workers", type=int, default=2, help="parallel worker processes")
    add("list", _list, "list the bundled templates and their parameters")
