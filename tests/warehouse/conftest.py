"""Shared fixtures: one small generated consortium, copied per test that changes it."""

import shutil

import pytest

from enclave.cli import main
from enclave.warehouse.generate import generate
from enclave.warehouse.pseudonymize import write_key

STUDENTS = 400
SEED = 11


@pytest.fixture(scope="session")
def population(tmp_path_factory):
    """The generated extracts (read-only for tests) and their ground truth."""
    root = tmp_path_factory.mktemp("extracts")
    return root, generate(root, STUDENTS, SEED)


@pytest.fixture
def extracts(population, tmp_path):
    """A private copy of the generated extracts that a test may break."""
    copy = tmp_path / "extracts"
    shutil.copytree(population[0], copy)
    return copy


@pytest.fixture
def key_file(tmp_path):
    return write_key(tmp_path / "warehouse.key")


@pytest.fixture
def cli(capsys):
    """Run ``enclave ...`` in-process; returns (exit status, stdout, stderr lines)."""

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err.splitlines()

    return run


@pytest.fixture
def pg_db(pg_url):
    """``pg_url``, plus removal of the cluster-wide roles a test made for that database."""
    import psycopg
    import sqlalchemy as sa

    yield pg_url
    u = sa.engine.make_url(pg_url)
    info = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
    with psycopg.connect(info, autocommit=True) as conn:
        roles = conn.execute(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (f"{u.database}_",)
        ).fetchall()
        for (role,) in roles:
            conn.execute(f'DROP OWNED BY "{role}" CASCADE')
        for (role,) in roles:
            conn.execute(f'DROP ROLE "{role}"')
