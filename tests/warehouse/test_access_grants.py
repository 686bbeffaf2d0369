"""Grants follow exactly what each owner approved: tables, columns and rows, on the SQLite extract
and on the real PostgreSQL (column privileges and row policies), rebuilt after a withdrawal, and
revoked when no approval is left; a reload re-applies the scopes."""

import sqlite3

import psycopg
import pytest
import sqlalchemy as sa

from enclave.warehouse.grant import apply_access, effective_grant
from enclave.warehouse.load import load
from enclave.warehouse.pseudonymize import read_key

# CC-101 approved narrower (students without ethnicity or zip3, and its awards); UNI-201 in full
SCOPES = {
    "CC-101": {"students": ["birth_year", "gender"], "cc_awards": None},
    "UNI-201": {"students": None, "univ_degrees": None},
}


def test_a_table_gets_the_rows_of_those_who_approved_it_and_the_columns_all_of_them_did():
    grant = effective_grant(SCOPES)
    assert set(grant) == {"students", "cc_awards", "univ_degrees"}
    assert grant["students"] == (
        ["CC-101", "UNI-201"],
        ["student_key", "institution", "birth_year", "gender"],
    )
    assert grant["cc_awards"][0] == ["CC-101"] and grant["univ_degrees"][0] == ["UNI-201"]
    assert "award_type" in grant["cc_awards"][1]


@pytest.fixture
def warehouse_file(population, key_file, tmp_path):
    path = tmp_path / "w.sqlite"
    load(population[0], str(path), read_key(key_file), quarantine=tmp_path / "q")
    return path


def extract_shape(path) -> dict:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: (
                [r[1] for r in conn.execute(f"PRAGMA table_info({t})")],
                {r[0] for r in conn.execute(f"SELECT DISTINCT institution FROM {t}")},
            )
            for t in tables
        }


def test_the_sqlite_extract_holds_only_what_was_approved(warehouse_file):
    path = apply_access(str(warehouse_file), "study", SCOPES)
    assert extract_shape(path) == {
        "students": (["student_key", "institution", "birth_year", "gender"], {"CC-101", "UNI-201"}),
        "cc_awards": (
            ["student_key", "institution", "term", "academic_year", "award_type"],
            {"CC-101"},
        ),
        "univ_degrees": (extract_shape(warehouse_file)["univ_degrees"][0], {"UNI-201"}),
    }
    # withdrawn by CC-101: rebuilt without it (students regain every UNI-201 column)
    path = apply_access(str(warehouse_file), "study", {"UNI-201": SCOPES["UNI-201"]})
    shape = extract_shape(path)
    assert set(shape) == {"students", "univ_degrees"}
    assert shape["students"][1] == {"UNI-201"} and "zip3" in shape["students"][0]
    # the last one withdrawn: no extract, and a reload rebuilds none
    assert apply_access(str(warehouse_file), "study", {}) is None
    assert not (warehouse_file.parent / "projects" / "study.sqlite").exists()
    assert "study" not in (warehouse_file.parent / "projects" / "grants.json").read_text()


def conninfo(url: str, role: str | None = None) -> str:
    u = sa.engine.make_url(url)
    return f"host={u.host} port={u.port} user={role or u.username} dbname={u.database}"


def test_postgres_grants_the_approved_columns_and_rows_and_revokes_on_withdrawal(
    pg_url, population, key_file, tmp_path
):
    load(population[0], pg_url, read_key(key_file), quarantine=tmp_path / "q")
    role = apply_access(pg_url, "study", SCOPES)
    with psycopg.connect(conninfo(pg_url, role), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT institution FROM warehouse.students WHERE gender IS NOT NULL"
        ).fetchall()
        assert {r[0] for r in rows} == {"CC-101", "UNI-201"}
        for refused in (
            "SELECT ethnicity FROM warehouse.students",  # a column CC-101 withheld
            "SELECT * FROM warehouse.students",
            "SELECT count(*) FROM warehouse.k12_enrollments",  # a table nobody approved
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(refused)
        rows = conn.execute("SELECT DISTINCT institution FROM warehouse.cc_awards").fetchall()
        assert {r[0] for r in rows} == {"CC-101"}
    # a reload replaces the tables: the scopes are re-applied, not widened
    load(population[0], pg_url, read_key(key_file), quarantine=tmp_path / "q2")
    with (
        psycopg.connect(conninfo(pg_url, role), autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("SELECT ethnicity FROM warehouse.students")
    # CC-101 withdraws: UNI-201's rows with every column; cc_awards gone
    apply_access(pg_url, "study", {"UNI-201": SCOPES["UNI-201"]})
    with psycopg.connect(conninfo(pg_url, role), autocommit=True) as conn:
        rows = conn.execute("SELECT DISTINCT institution FROM warehouse.students").fetchall()
        assert {r[0] for r in rows} == {"UNI-201"}
        conn.execute("SELECT ethnicity FROM warehouse.students")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM warehouse.cc_awards")
    # nothing left: the role can no longer log in, and holds no privilege
    assert apply_access(pg_url, "study", {}) is None
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        psycopg.connect(conninfo(pg_url, role))
    with psycopg.connect(conninfo(pg_url), autocommit=True) as conn:
        held = conn.execute(
            "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = %s "
            "UNION ALL SELECT count(*) FROM information_schema.role_column_grants "
            "WHERE grantee = %s",
            (role, role),
        ).fetchall()
    assert held == [(0,), (0,)]
