"""The enclave's state database: projects, agreement acceptances, review requests, audit trail.

It belongs to the hub's own 0700 directory; researchers' sessions never open it. SQLite by
default, PostgreSQL (a URL) where the hub runs on Kubernetes. Its tables are in
``enclave.tables``; its schema changes only through the migrations in ``enclave.migrations``.

Every process opens it with ``make_engine``, which decides what to do with the schema it finds:

- **no enclave tables yet**: a new database; the migrations run up to the current revision
  (under a lock, so the hub and the review service may both start on it at once);
- **the current revision**: nothing to do (one query);
- **anything else** (made before migrations, an older revision, a newer one): refused with a
  one-line ``StateSchemaError`` naming ``enclave upgrade-db``. No process upgrades by itself:
  the database holds the audit trail, an upgrade is a step an administrator takes after the
  backup (``upgrade`` backs up SQLite itself; PostgreSQL is backed up with its own tools), and
  two processes of different versions must never take turns at the schema.
"""

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from traitlets import Unicode
from traitlets.config import Configurable

from enclave.errors import EnclaveError


class EnclaveState(Configurable):
    """Where the enclave keeps its own records."""

    db_url = Unicode(
        "sqlite:////srv/enclave/state/enclave.sqlite",
        help="""SQLAlchemy URL of the enclave state database (projects, agreement acceptances,
        review requests, audit trail). Keep it in a directory only the hub can read (0700).
        A new database is created on first use; after an enclave upgrade that changes its
        schema, run `enclave upgrade-db` (every process refuses an out-of-date database).""",
    ).tag(config=True)


class StateSchemaError(EnclaveError):
    """The state database's schema is not the one this enclave runs on; the message says what
    to do (``enclave upgrade-db``, or run the newer enclave that upgraded it)."""


@dataclass(frozen=True)
class Schema:
    """What a state database holds: its recorded revision, and whether any enclave table."""

    revision: str | None
    has_tables: bool

    @property
    def is_empty(self) -> bool:
        return self.revision is None and not self.has_tables

    @property
    def is_current(self) -> bool:
        from enclave.migrations import HEAD

        return self.revision == HEAD

    @property
    def is_known(self) -> bool:
        from enclave.migrations import HERE

        return self.revision is None or any(HERE.glob(f"versions/{self.revision}_*.py"))

    def __str__(self) -> str:
        if self.revision:
            return f"at revision {self.revision}"
        return "from before migrations" if self.has_tables else "empty"


def raw_engine(url: str) -> sa.Engine:
    """An engine whose SQLite transactions take the write lock at BEGIN (no schema check).

    pysqlite defers BEGIN until the first write, so two processes could both read the audit
    chain's head before either writes; ``BEGIN IMMEDIATE`` serializes whole transactions.
    """
    from enclave.tls import check_database_tls

    check_database_tls(url)
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_conn, _record):
            dbapi_conn.isolation_level = None
            dbapi_conn.execute("PRAGMA busy_timeout = 30000")
            dbapi_conn.execute("PRAGMA foreign_keys = ON")

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_engine(url: str) -> sa.Engine:
    """The state database at ``url``, ready for use: created if new, refused if out of date."""
    engine = raw_engine(url)
    try:
        with engine.connect() as conn:
            schema = read_schema(conn)
        if schema.is_empty:
            from enclave import migrations

            with engine.begin() as conn:
                migrations.run(conn)
        elif not schema.is_current:
            raise StateSchemaError(out_of_date(engine, schema))
    except BaseException:
        engine.dispose()
        raise
    return engine


def read_schema(conn: sa.Connection) -> Schema:
    from enclave.migrations import VERSION_TABLE
    from enclave.tables import metadata

    names = set(sa.inspect(conn).get_table_names())
    revision = None
    if VERSION_TABLE in names:
        revisions = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        revision = ",".join(sorted(revisions)) or None
    return Schema(revision, bool(names & set(metadata.tables)))


def display_url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def out_of_date(engine: sa.Engine, schema: Schema) -> str:
    from enclave.migrations import HEAD

    where = f"{display_url(engine)}: the state database"
    if not schema.is_known:
        return (
            f"{where} is {schema}, newer than this enclave knows (it needs revision {HEAD}); "
            "run the enclave version that upgraded it, or restore the backup taken before."
        )
    return (
        f"{where} is {schema} and this enclave needs revision {HEAD}; stop the enclave and "
        "run `enclave upgrade-db --config FILE` (it backs up a SQLite database first)."
    )


@dataclass(frozen=True)
class Upgrade:
    before: Schema
    after: Schema
    backup: Path | None  # the SQLite copy taken before the migrations ran


def upgrade(url: str, *, actor: str, backup: bool = True) -> Upgrade:
    """Bring the state database at ``url`` to the current revision, in one transaction.

    A SQLite file is first copied (``<file>.backup-<time>``, 0600) inside the same locked
    transaction, so the copy is exactly what the migrations started from. An upgrade of a
    database that held anything is itself an audit event (``state.upgrade``).
    """
    from enclave import migrations
    from enclave.audit.actions import AuditAction
    from enclave.audit.log import AuditLog

    engine = raw_engine(url)
    try:
        with engine.begin() as conn:
            migrations.lock(conn)
            before = read_schema(conn)
            if before.is_current:
                return Upgrade(before, before, None)
            if not before.is_known:
                raise StateSchemaError(out_of_date(engine, before))
            copy = _backup_sqlite(engine) if backup and not before.is_empty else None
            try:
                migrations.run(conn)
                after = read_schema(conn)
                if not before.is_empty:
                    AuditLog(engine).record(
                        conn,
                        actor=actor,
                        action=AuditAction.STATE_UPGRADE,
                        details={
                            "from": before.revision,
                            "to": after.revision,
                            "backup": bool(copy),
                        },
                    )
            except BaseException:
                if copy:  # nothing changed: the copy is of no use
                    copy.unlink()
                raise
    finally:
        engine.dispose()
    return Upgrade(before, after, copy)


def _backup_sqlite(engine: sa.Engine) -> Path | None:
    """Copy the SQLite file through SQLite's backup API (a consistent copy, even of a journal
    in use); the caller holds the write lock, so nothing changes while it copies."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    source = Path(engine.url.database)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    target = source.with_name(f"{source.name}.backup-{stamp}")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    writer = sqlite3.connect(target)
    try:
        reader.backup(writer)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        writer.close()
        reader.close()
    return target


def open_state(url: str, *, create: bool = False) -> sa.Engine:
    """An engine on the state database the hub uses, for commands run beside it.

    A SQLite file that does not exist is refused (``create`` allows it, for the command that
    means to start one): a command given the wrong configuration must say so, not quietly
    start an empty database elsewhere and report "nothing there".
    """
    if not create:
        require_existing(url)
    return make_engine(url)


def require_existing(url: str) -> None:
    parsed = sa.engine.make_url(url)
    missing = not parsed.database or not Path(parsed.database).is_file()
    if parsed.get_backend_name() == "sqlite" and missing:
        raise EnclaveError(
            f"{url}: there is no state database there. Pass the hub's own configuration "
            "file with --config (or $ENCLAVE_CONFIG); the hub creates its state database "
            "when it first starts."
        )
