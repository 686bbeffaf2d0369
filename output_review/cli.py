"""``enclave review check|redact|render``: the gate for researchers and reviewers.

Exit status of ``check``: 0 every output passes, 1 something needs review or is blocked,
2 the notebook (or the configuration) is invalid.
"""

import json
import sys
from pathlib import Path


def register(groups):
    """The ``review`` group's gate commands (``review submit`` is the session's: kernels/cli.py)."""
    from enclave.cli import command_group

    add = command_group(groups, "review", "screen notebook outputs before release")

    check = add("check", run_check, "screen a notebook and list findings")
    add_notebook(check)
    check.add_argument("--format", choices=("text", "json"), default="text")

    redact = add("redact", run_redact, "write a copy with blocked outputs removed")
    add_notebook(redact)
    redact.add_argument("-o", "--output", required=True, metavar="OUT", help="notebook to write")

    render = add("render", run_render, "write the reviewer's HTML view")
    add_notebook(render)
    render.add_argument("-o", "--output", required=True, metavar="OUT.html", help="HTML to write")


def add_notebook(parser) -> None:
    parser.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb file to screen")


def screened(args):
    from enclave.config import load_config
    from enclave.files import FileLimits
    from enclave.output_review.gate import Gate, read_notebook

    config = load_config(args.config)
    gate = Gate(config=config)
    nb = read_notebook(args.notebook, FileLimits(config=config).max_notebook_bytes)
    return nb, gate.screen(nb, str(args.notebook))


def run_check(args) -> int:
    _, report = screened(args)
    if args.format == "json":
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(format_text(report))
    return 0 if report.verdict == "pass" else 1


def format_text(report) -> str:
    counts = {s: sum(f.severity == s for f in report.findings) for s in ("block", "review")}
    lines = [
        f"{report.notebook}: {report.verdict.upper()} "
        f"({counts['block']} blocked, {counts['review']} to review)"
    ]
    current = object()
    for f in report.findings:
        if f.cell != current:
            current = f.cell
            lines.append(f.place)
        where = (
            "metadata"
            if f.cell is None
            else ("source" if f.output is None else f"output {f.output}")
        )
        fix = f" [fix: {f.fix}]" if f.fix else ""
        lines.append(f"  {where:<10} {f.severity.upper():<6} {f.rule}: {f.message}{fix}")
    return "\n".join(lines)


def write_atomically(path: str, text: str) -> None:
    """Readers never see half a file: write a scratch file beside the target (removed, or swept
    by the next write there if we are killed), then rename it over the target."""
    from enclave.errors import naming
    from enclave.scratch import Scratch, describe, sweep

    target = Path(path)
    with naming(str(target)):  # a full disk, a read-only folder: one line naming the output
        swept = sweep(target.parent)
        if swept:
            print(f"enclave: {describe(swept)}", file=sys.stderr)
        with Scratch(target.parent, target.name) as scratch:
            scratch.path.write_text(text, encoding="utf-8")
            scratch.replace(target)


def output_path(args) -> str:
    from enclave.errors import EnclaveError

    parent = Path(args.output).parent
    if not parent.is_dir():
        raise EnclaveError(f"{args.output}: folder {parent} does not exist; create it first.")
    return args.output


def run_redact(args) -> int:
    import nbformat

    from enclave.output_review.redact import redact

    out = output_path(args)
    nb, report = screened(args)
    redacted = redact(nb, report)
    write_atomically(out, nbformat.writes(redacted))
    removed = sum(f.severity == "block" for f in report.findings)
    marked = sum(f.severity == "review" for f in report.findings)
    print(
        f"{out}: written; {removed} blocked finding(s) removed, {marked} marked for review.",
        file=sys.stderr,
    )
    return 0


def run_render(args) -> int:
    from enclave.output_review.render import render_html

    out = output_path(args)
    nb, report = screened(args)
    write_atomically(out, render_html(nb, report))
    print(f"{out}: written; verdict {report.verdict}.", file=sys.stderr)
    return 0
