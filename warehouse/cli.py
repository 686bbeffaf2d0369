"""``enclave warehouse generate|keygen|load|grant|risk``."""

import argparse
import getpass
import os

from enclave.errors import EnclaveError, naming


def _consortium(args):
    from enclave.config import load_config
    from enclave.consortium import consortium

    return consortium(load_config(args.config))


def _limits(args):
    from enclave.config import load_config
    from enclave.files import FileLimits

    return FileLimits(config=load_config(args.config))


def _report_sweep(args, swept) -> None:
    """Say what an interrupted load had left (removed now); record it where the config says."""
    import getpass
    import os
    import sys

    from enclave.config import load_config
    from enclave.scratch import report_sweep
    from enclave.state import EnclaveState

    configured = args.config or os.environ.get("ENCLAVE_CONFIG")
    state_url = EnclaveState(config=load_config(args.config)).db_url if configured else None
    actor = os.environ.get("SUDO_USER") or getpass.getuser()
    line = report_sweep(swept, state_url=state_url, actor=actor, operation="warehouse load")
    print(f"enclave: {line}", file=sys.stderr)


def _url(args) -> str:
    if args.url:
        return args.url
    from enclave.config import load_config
    from enclave.warehouse.db import WarehouseSettings

    return WarehouseSettings(config=load_config(args.config)).url


def _generate(args) -> int:
    from enclave.warehouse.generate import generate

    if args.students < 1:
        raise EnclaveError("--students: give a positive number of people to simulate.")
    pop = generate(args.out, args.students, args.seed, _consortium(args))
    rows = sum(len(df) for df in pop.files.values())
    print(f"wrote {len(pop.files)} extracts ({rows:,} rows) and manifest.json to {args.out}")
    return 0


def _keygen(args) -> int:
    from enclave.warehouse.pseudonymize import write_key

    print(f"wrote a new key to {write_key(args.keyfile)} (mode 0600); keep it secret and backed up")
    return 0


def _load(args) -> int:
    from enclave.warehouse.load import load
    from enclave.warehouse.pseudonymize import read_key
    from enclave.warehouse.summary import format_summary

    key = read_key(args.key)
    result = load(
        args.extracts,
        _url(args),
        key,
        args.accept_rejects,
        args.quarantine,
        limits=_limits(args),
        on_sweep=lambda swept: _report_sweep(args, swept),
        consortium=_consortium(args),
    )
    print(format_summary(result))
    _remove_raw(args, result)
    return 0


def _remove_raw(args, result) -> None:
    """The raw extracts go once loaded, where the deployment says so (or --remove-raw)."""
    from pathlib import Path

    from enclave.config import load_config
    from enclave.warehouse.closure import remove_raw_extracts
    from enclave.warehouse.db import WarehouseSettings

    config = load_config(args.config)
    remove = args.remove_raw
    if remove is None:
        remove = WarehouseSettings(config=config).remove_raw_after_load
    if not remove:
        return
    removed = remove_raw_extracts(Path(args.extracts), result.extracts)
    total = sum(f["bytes"] for f in removed)
    line = f"removed the {len(removed)} raw file(s) ({total:,} bytes) of {args.extracts}"
    if args.config or os.environ.get("ENCLAVE_CONFIG"):
        from enclave.audit import AuditAction, AuditLog, keying
        from enclave.state import EnclaveState, open_state

        state_url = EnclaveState(config=config).db_url
        keying.use(config, state_url)
        engine = open_state(state_url)
        try:
            AuditLog(engine).append(
                actor=os.environ.get("SUDO_USER") or getpass.getuser(),
                action=AuditAction.WAREHOUSE_RAW_REMOVE,
                details={"folder": str(args.extracts), "files": removed},
            )
        finally:
            engine.dispose()
        line += "; recorded in the audit trail"
    print(line)


def _check(args) -> int:
    from pathlib import Path

    from enclave.warehouse.load import quarantine_path, read_extracts, write_quarantine
    from enclave.warehouse.summary import format_files

    extracts = read_extracts(Path(args.extracts), _limits(args), _consortium(args))
    quarantine = quarantine_path(args.extracts, args.quarantine)
    write_quarantine(quarantine, extracts)
    rejected = sum(len(ex.rejected) for ex in extracts)
    print("\n".join(format_files(extracts, accepted="valid")))
    print(f"quarantine report: {quarantine} ({rejected:,} rows)")
    return 3 if rejected else 0


def _grant(args) -> int:
    from enclave.warehouse.db import shown
    from enclave.warehouse.grant import grant_project

    institutions = [i.strip() for i in args.institutions.split(",") if i.strip()]
    url = _url(args)
    with naming(shown(url)):
        where = grant_project(url, args.project, institutions, _consortium(args))
    print(
        f"project {args.project}: read access to {', '.join(sorted(set(institutions)))} via {where}"
    )
    return 0


def _risk(args) -> int:
    from enclave.warehouse.db import shown
    from enclave.warehouse.risk import format_risk, risk_report

    if args.k < 2:
        raise EnclaveError("--k: k-anonymity needs k of at least 2.")
    url = _url(args)
    with naming(shown(url)):
        report = risk_report(url, args.k)
    print(format_risk(report, args.k))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("warehouse", help="build and share the pseudonymized warehouse")
    parser.add_argument("--config", help="traitlets config file (default $ENCLAVE_CONFIG)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    def url_option(p):
        p.add_argument(
            "--url", help="SQLite path or postgresql+psycopg:// URL (WarehouseSettings.url)"
        )

    p = commands.add_parser("generate", help="write synthetic consortium extracts")
    p.add_argument("--out", required=True, help="folder for the extracts and manifest.json")
    p.add_argument("--students", type=int, default=1000, help="people to simulate")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    p.set_defaults(func=_generate)

    p = commands.add_parser("keygen", help="create a random pseudonymization key (mode 0600)")
    p.add_argument("keyfile")
    p.set_defaults(func=_keygen)

    p = commands.add_parser("load", help="validate, pseudonymize, link and load extracts")
    p.add_argument("extracts", help="folder holding manifest.json and the CSV extracts")
    p.add_argument("--key", required=True, help="key file from `enclave warehouse keygen`")
    url_option(p)
    p.add_argument(
        "--accept-rejects",
        action="store_true",
        help="load the valid rows even if some were rejected (they stay in the quarantine report)",
    )
    p.add_argument("--quarantine", help="quarantine report path (default EXTRACTS/quarantine.csv)")
    p.add_argument(
        "--remove-raw",
        action=argparse.BooleanOptionalAction,
        help="delete the raw extracts once loaded (default: WarehouseSettings."
        "remove_raw_after_load); --no-remove-raw keeps them",
    )
    p.set_defaults(func=_load)

    p = commands.add_parser("check", help="validate extracts without loading them")
    p.add_argument("extracts", help="folder holding manifest.json and the CSV extracts")
    p.add_argument("--quarantine", help="quarantine report path (default EXTRACTS/quarantine.csv)")
    p.set_defaults(func=_check)

    p = commands.add_parser("grant", help="give a project read access to approved institutions")
    p.add_argument("project")
    p.add_argument(
        "--institutions", required=True, help="comma-separated codes, e.g. K12-001,CC-101"
    )
    url_option(p)
    p.set_defaults(func=_grant)

    p = commands.add_parser("risk", help="k-anonymity of the students' quasi-identifiers")
    p.add_argument("--k", type=int, default=5, help="smallest acceptable class size (default 5)")
    url_option(p)
    p.set_defaults(func=_risk)
