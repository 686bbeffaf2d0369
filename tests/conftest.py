"""Fixtures shared by every part's tests: the real PostgreSQL on 127.0.0.1:5432."""

import os
import uuid

import pytest

PG_ADMIN_URL = os.environ.get(
    "ENCLAVE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test, dropped afterwards.

    Roles are cluster-wide: tests that create roles must derive their names from the
    database name (``url.database``) so that parallel runs never collide.
    """
    import sqlalchemy as sa

    name = f"enclave_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name)
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
