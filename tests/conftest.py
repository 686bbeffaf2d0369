"""Fixtures shared by every part's tests: the real PostgreSQL on 127.0.0.1:5432, and the
recording clusters (a primary and its hot standby with pgAudit, ``make recording-clusters``)."""

import contextlib
import os
import uuid
from dataclasses import dataclass

import pytest

from devstack import recording_clusters

PG_ADMIN_URL = os.environ.get(
    "ENCLAVE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
RECORDING_URL = os.environ.get("ENCLAVE_TEST_RECORDING_URL", recording_clusters.PRIMARY_URL)
RECORDING_READER_URL = os.environ.get(
    "ENCLAVE_TEST_RECORDING_READER_URL", recording_clusters.READER_URL
)
RECORDING_AUDIT_LOG = os.environ.get(
    "ENCLAVE_TEST_RECORDING_AUDIT_LOG", str(recording_clusters.READER_AUDIT_LOG)
)


@contextlib.contextmanager
def fresh_database(admin_url: str):
    """A new, empty database (URL), dropped afterwards with the roles named after it.

    Roles are cluster-wide: tests that create roles must derive their names from the
    database name (``url.database``) so that parallel runs never collide.
    """
    import sqlalchemy as sa

    name = f"enclave_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            # roles are cluster-wide: the ones named after this database go with it
            roles = conn.execute(
                sa.text("SELECT rolname FROM pg_roles WHERE starts_with(rolname, :prefix)"),
                {"prefix": f"{name}_"},
            ).scalars()
            for role in list(roles):
                conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@pytest.fixture
def pg_url():
    """A fresh, empty database on the shared PostgreSQL for one test, dropped afterwards."""
    with fresh_database(PG_ADMIN_URL) as url:
        yield url


@dataclass(frozen=True)
class RecordingWarehouse:
    """One database on the recording clusters: its admin URL on the primary and on the hot
    standby (the same database, replicated), and the standby's pgAudit log."""

    url: str
    reader_url: str
    audit_log: str


@contextlib.contextmanager
def recording_database():
    import sqlalchemy as sa

    with fresh_database(RECORDING_URL) as url:
        database = sa.engine.make_url(url).database
        reader = sa.engine.make_url(RECORDING_READER_URL).set(database=database)
        yield RecordingWarehouse(
            url, reader.render_as_string(hide_password=False), RECORDING_AUDIT_LOG
        )


@pytest.fixture
def recording_db():
    """A fresh database on the recording clusters for one test."""
    with recording_database() as warehouse:
        yield warehouse


@pytest.fixture
def no_hang():
    """``with no_hang(seconds):`` fails the test (instead of hanging it) if the block blocks."""
    import contextlib
    import signal

    class Blocked(Exception):  # not an OSError: the code under test must not swallow it
        pass

    def expire(signum, frame):
        raise Blocked("the code under test did not return in time")

    @contextlib.contextmanager
    def limit(seconds: float):
        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    return limit


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A state database URL: a new SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    return request.getfixturevalue("pg_url")
