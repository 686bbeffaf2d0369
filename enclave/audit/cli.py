"""``enclave audit verify|show|head``: check and read the hash-chained audit trail."""

import contextlib
import json

from enclave.errors import EnclaveError


@contextlib.contextmanager
def _open_log(args):
    """The audit trail of the configured state database (its engine disposed afterwards)."""
    import sqlalchemy as sa

    from enclave.audit import keying
    from enclave.audit.log import AuditLog
    from enclave.config import load_config
    from enclave.state import EnclaveState, open_state

    config = load_config(args.config)
    url = args.db or EnclaveState(config=config).db_url
    keying.use(config, url)
    try:
        engine = open_state(url)
    except sa.exc.SQLAlchemyError as e:
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        raise EnclaveError(
            f"{shown}: cannot open the state database ({type(e).__name__}); "
            "check EnclaveState.db_url or --db.",
        ) from e
    try:
        yield AuditLog(engine)
    finally:
        engine.dispose()


def _verify(args) -> int:
    from enclave.audit.log import ChainBroken

    expected = None
    if args.head:
        seq, _, digest = args.head.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise EnclaveError("--head: expected SEQ:HASH as printed by `enclave audit head`.")
        expected = (int(seq), digest)
    try:
        with _open_log(args) as log:
            count = log.verify(expected)
    except ChainBroken as e:
        print(f"audit trail BROKEN at event {e.seq}: {e.reason}")
        return 1
    print(f"audit trail intact: {count} events")
    return 0


def _show(args) -> int:
    from enclave.audit.actions import parse_action

    if args.action is not None:
        try:
            parse_action(args.action)
        except ValueError as e:
            raise EnclaveError(str(e)) from None
    with _open_log(args) as log:
        events = log.events(
            user=args.user, project=args.project, request=args.request, action=args.action
        )
    if args.format == "json":
        print(json.dumps([e.__dict__ for e in events], indent=1))
        return 0
    for e in events:
        where = " ".join(
            f"{k}={v}" for k, v in (("project", e.project), ("request", e.request)) if v
        )
        details = json.dumps(e.details, sort_keys=True) if e.details else ""
        print(f"{e.seq:>6} {e.time} {e.actor:<16} {e.action:<22} {where} {details}".rstrip())
    return 0


def _head(args) -> int:
    with _open_log(args) as log:
        seq, digest = log.head()
    print(f"{seq}:{digest}")
    return 0


def _keygen(args) -> int:
    from pathlib import Path

    from enclave.audit.keying import keygen

    path = Path(args.path)
    if path.exists():
        raise EnclaveError(f"{path}: exists; a key is never overwritten (choose another path).")
    keygen(path)
    print(f"audit key written to {path} (mode 0600); set AuditTrail.key_file to it")
    return 0


def register(groups) -> None:
    from enclave.cli import command_group

    add = command_group(groups, "audit", "check and read the audit trail")
    verify = add(
        "verify",
        _verify,
        "detect any edit, deletion, reordering or truncation of events (keyed: no head needed)",
    )
    verify.add_argument(
        "--head", help="SEQ:HASH kept from `enclave audit head` (detects truncation)"
    )
    show = add("show", _show, "list events, filtered")
    show.add_argument("--user")
    show.add_argument("--project")
    show.add_argument("--request")
    show.add_argument(
        "--action", help="an action (e.g. request.approve; old names such as request.decide too)"
    )
    show.add_argument("--format", choices=("text", "json"), default="text")
    head = add("head", _head, "print the last event's SEQ:HASH to keep outside the enclave")
    for command in (verify, show, head):
        command.add_argument("--db", help="state database URL (overrides EnclaveState.db_url)")
    keygen = add("keygen", _keygen, "write a new audit key (AuditTrail.key_file)")
    keygen.add_argument("path")
