"""``enclave upgrade-db``: bring the state database to this enclave's schema.

As ``jupyterhub upgrade-db``: run it after installing an enclave whose schema is newer, with
the enclave stopped; every process refuses an out-of-date database until then. A SQLite file
is backed up first; back up PostgreSQL yourself (``pg_dump``) before. The whole upgrade is one
transaction: on any error nothing changes.
"""

import getpass
import os


def _upgrade_db(args) -> int:
    import sqlalchemy as sa

    from enclave.audit import keying
    from enclave.config import load_config
    from enclave.errors import EnclaveError
    from enclave.migrations import AuditTrailChanged
    from enclave.state import EnclaveState, raw_engine, read_schema, require_existing, upgrade

    config = load_config(args.config)
    url = args.db or EnclaveState(config=config).db_url
    require_existing(url)  # a wrong --config must not create an empty database elsewhere
    keying.use(config, url)  # the upgrade's own audit event is keyed too
    engine = raw_engine(url)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        if args.check:
            with engine.connect() as conn:
                schema = read_schema(conn)
            ready = schema.is_current or schema.is_empty  # a new one is created on first use
            state = "ready" if ready else "run `enclave upgrade-db`"
            print(f"state database {shown}: {schema} ({state})")
            return 0 if ready else 1
        result = upgrade(url, actor=args.by or os.environ.get("SUDO_USER") or getpass.getuser())
    except sa.exc.SQLAlchemyError as e:
        raise EnclaveError(
            f"{shown}: the state database could not be upgraded ({type(e).__name__}); nothing "
            "was changed. Check EnclaveState.db_url (or --db) and that no enclave process is "
            "still using it.",
        ) from e
    except (OSError, AuditTrailChanged) as e:
        raise EnclaveError(f"{shown}: {e}; nothing was changed.") from e
    finally:
        engine.dispose()
    if result.before == result.after:
        print(f"state database {shown}: already {result.after}; nothing to do.")
    elif result.before.is_empty:
        print(f"state database {shown}: created, {result.after}.")
    else:
        kept = f"backup {result.backup}" if result.backup else "no backup taken (not SQLite)"
        was = f"it was {result.before}"
        print(f"state database {shown}: upgraded ({was}), now {result.after}; {kept}.")
    return 0


def register(groups) -> None:
    parser = groups.add_parser(
        "upgrade-db",
        help="upgrade the state database to this enclave's schema (backs up SQLite first)",
    )
    parser.add_argument("--config", help="the deployment's config file (default: $ENCLAVE_CONFIG)")
    parser.add_argument("--db", help="state database URL (overrides EnclaveState.db_url)")
    parser.add_argument(
        "--check", action="store_true", help="only say whether it needs an upgrade (exit 1 if so)"
    )
    parser.add_argument("--by", help="who is upgrading (recorded in the audit trail)")
    parser.set_defaults(func=_upgrade_db)
