"""``enclave review submit NOTEBOOK --purpose "..."``: run in a research session, it joins the
gate's ``review`` group."""


def _submit(args) -> int:
    from enclave.kernels.submit import submit

    result = submit(
        args.notebook,
        purpose=args.purpose,
        release_use=args.use,
        recipients=[c.strip() for c in (args.recipients or "").split(",") if c.strip()],
        summary=args.summary or "",
        exception_note=args.exception or "",
        resubmit=args.resubmit,
    )
    print(
        f"submitted {args.notebook} as request {result['id']} (round {result['round']}): "
        f"gate {result['verdict']} with {result['findings']} finding(s); stewards of "
        f"{', '.join(result['institutions'])} must sign off. Follow it in the review service."
    )
    return 0


def register(groups) -> None:
    from enclave.cli import command_group

    sub = command_group(groups, "review", "screen notebook outputs before release")(
        "submit", _submit, "send a notebook to output review (from a research session)"
    )
    sub.description = (
        "Freeze NOTEBOOK in the review service, run the gate on the frozen copy, and open a "
        "review request (or resubmit one that needs changes)."
    )
    sub.add_argument("notebook", help="the .ipynb file to submit")
    sub.add_argument("--purpose", required=True, help="why these outputs should leave")
    sub.add_argument(
        "--use",
        required=True,
        choices=("internal", "external"),
        help="internal: used only by the member institutions in --recipients; external: "
        "publication or a report outside the consortium (every member's steward decides)",
    )
    sub.add_argument(
        "--recipients", metavar="CODES", help="internal use: the institutions, e.g. CC-101,UNI-201"
    )
    sub.add_argument("--summary", help="what the outputs show, for the reviewers")
    sub.add_argument(
        "--exception",
        help="a written exception request for outputs the gate blocked (reviewers see it)",
    )
    sub.add_argument("--resubmit", metavar="REQUEST", help="replace the file of this request")
