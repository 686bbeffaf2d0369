"""The enclave's state database: projects, agreement acceptances, review requests, audit trail.

It belongs to the hub's own 0700 directory; researchers' sessions never open it. SQLite by
default, PostgreSQL (a URL) where the hub runs on Kubernetes.
"""

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
        review requests, audit trail). Keep it in a directory only the hub can read (0700).""",
    ).tag(config=True)


def make_engine(url: str) -> sa.Engine:
    """An engine whose SQLite transactions take the write lock at BEGIN.

    pysqlite defers BEGIN until the first write, so two processes could both read the audit
    chain's head before either writes; ``BEGIN IMMEDIATE`` serializes whole transactions.
    """
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


def open_state(url: str, *, create: bool = False) -> sa.Engine:
    """An engine on the state database the hub uses, for commands run beside it.

    A SQLite file that does not exist is refused (``create`` allows it, for the command that
    means to start one): a command given the wrong configuration must say so, not quietly
    start an empty database elsewhere and report "nothing there".
    """
    parsed = sa.engine.make_url(url)
    missing = not parsed.database or not Path(parsed.database).is_file()
    if parsed.get_backend_name() == "sqlite" and missing and not create:
        raise EnclaveError(
            f"{url}: there is no state database there. Pass the hub's own configuration "
            "file with --config (or $ENCLAVE_CONFIG); the hub creates its state database "
            "when it first starts."
        )
    return make_engine(url)
