"""Where the warehouse lives: a SQLite file (the embedded default) or PostgreSQL by URL.

A URL is a SQLite path (``warehouse.sqlite``), a ``sqlite:///`` URL, or a
``postgresql+psycopg://`` URL. On PostgreSQL the tables live in schema ``warehouse``; on
SQLite in the file's main schema. Queries name tables without a schema on both.
"""

import hashlib
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from traitlets import Bool, Unicode
from traitlets.config import Configurable

from enclave.errors import DATABASE_ERROR, EnclaveError

SCHEMA = "warehouse"
CONNECT_ERROR = DATABASE_ERROR  # exit status when the database cannot be reached


class WarehouseSettings(Configurable):
    """Where ``enclave warehouse`` commands find the warehouse."""

    url = Unicode(
        os.environ.get("ENCLAVE_WAREHOUSE_URL", "warehouse.sqlite"),
        help="""The warehouse: a SQLite file path or ``sqlite:///`` URL (the embedded
        default), or a ``postgresql+psycopg://`` URL. ``--url`` overrides it; the default
        comes from ``$ENCLAVE_WAREHOUSE_URL``, else ``warehouse.sqlite``.""",
    ).tag(config=True)

    remove_raw_after_load = Bool(
        False,
        help="""Delete the raw extracts (each CSV named in the manifest, and the manifest)
        once ``enclave warehouse load`` has loaded them: they hold names, dates of birth and
        the institutions' own ids, which the pseudonymized warehouse no longer needs. Each
        file's size and SHA-256 go into the audit trail (``warehouse.raw-remove``). On in the
        deployment's ``jupyterhub_config.py``; ``--remove-raw`` / ``--no-remove-raw`` decide
        for one load.""",
    ).tag(config=True)

    reader_url = Unicode(
        "",
        help="""A streaming hot standby of ``url``, as an administrator's URL: research sessions
        on a PostgreSQL warehouse read from it (its host and port; a server in recovery cannot
        write, whatever a session sets) and never from ``url``. It must preload pgAudit and
        log as JSON (``log_destination = 'jsonlog'``) into ``audit_log``. Empty: sessions on a
        PostgreSQL warehouse are refused.""",
    ).tag(config=True)

    audit_log = Unicode(
        "",
        help="""The JSON server log of ``reader_url``, where pgAudit records every read of a
        session role with the relations it read. The hub imports those records as
        ``warehouse.query`` audit events while sessions run and when they stop, and the review
        service before it decides whose stewards must sign off. Sessions on a PostgreSQL
        warehouse are refused while it cannot be read, and a running one is stopped when it
        becomes unreadable or imports keep failing: no read goes unrecorded.""",
    ).tag(config=True)


def file_version(path) -> str:
    """A SQLite warehouse's version: changes whenever the file is rebuilt or replaced."""
    stat = os.stat(path)
    identity = f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql:", "postgresql+", "postgres:"))


def sqlite_path(url: str) -> Path:
    """The file behind a SQLite path or ``sqlite:///`` URL."""
    if url.startswith("sqlite:"):
        database = sa.engine.make_url(url).database
        if not database or database == ":memory:":
            raise EnclaveError(f"{url}: the warehouse must be a file; give a path.")
        return Path(database)
    if "://" in url:
        raise EnclaveError(
            f"--url: unsupported database URL scheme {url.split('://')[0]!r}; use a SQLite "
            "path or a postgresql+psycopg:// URL."
        )
    return Path(url)


def pg_url(url: str) -> sa.URL:
    """The URL with the psycopg (v3) driver, whatever PostgreSQL spelling was given."""
    return sa.engine.make_url(url).set(drivername="postgresql+psycopg")


def shown(url: str) -> str:
    """A URL safe to print: the password is masked."""
    return sa.engine.make_url(url).render_as_string(hide_password=True) if "://" in url else url


def pg_connect(url: str, **kwargs):
    """A psycopg connection, or a one-line error when the server refuses it (or when it would
    reach beyond loopback without TLS: ``enclave.tls``)."""
    import psycopg

    from enclave.tls import check_database_tls

    u = pg_url(url)
    check_database_tls(u)
    params = {
        "host": u.host,
        "port": u.port,
        "user": u.username,
        "password": u.password,
        "dbname": u.database,
        # TLS: the mode, and the certificates that verify the server (or name this client)
        **{k: v for k, v in u.query.items() if k.startswith("ssl")},
    }
    try:
        return psycopg.connect(**{k: v for k, v in params.items() if v is not None}, **kwargs)
    except psycopg.OperationalError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise EnclaveError(
            f"{shown(url)}: the database refuses connections ({first}); start PostgreSQL "
            "or fix --url.",
            exit_code=CONNECT_ERROR,
        ) from None


def connect_readonly(url: str) -> sa.Engine:
    """A SQLAlchemy Engine that cannot write to the warehouse.

    SQLite is opened with ``mode=ro`` (the file must exist). PostgreSQL sessions start
    read-only with ``search_path`` set to the warehouse schema; the role in the URL should
    be a project role (``grant``), which the server itself stops from writing.
    """
    if is_postgres(url):
        options = f"-c default_transaction_read_only=on -c search_path={SCHEMA}"
        return sa.create_engine(pg_url(url), connect_args={"options": options})
    path = sqlite_path(url).resolve()
    if not path.is_file():
        raise EnclaveError(f"{path}: no warehouse here; run `enclave warehouse load` first.")
    uri = f"file:{quote(str(path))}?mode=ro"
    return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
