"""The warehouse on the real PostgreSQL: owner role, project roles, row security, atomic swaps."""

import psycopg
import pytest
import sqlalchemy as sa

from enclave.errors import EnclaveError
from enclave.warehouse.db import connect_readonly
from enclave.warehouse.grant import grant_project, owner_role
from enclave.warehouse.load import load
from enclave.warehouse.pseudonymize import read_key


def as_role(pg_url: str, role: str) -> str:
    return sa.engine.make_url(pg_url).set(username=role).render_as_string(hide_password=False)


def conninfo(url: str) -> str:
    u = sa.engine.make_url(url)
    return f"host={u.host} port={u.port} user={u.username} dbname={u.database}"


@pytest.fixture
def warehouse_pg(pg_url, population, key_file, tmp_path):
    result = load(
        population[0],
        pg_url,
        key_file.read_bytes() and read_key(key_file),
        quarantine=tmp_path / "q",
    )
    return pg_url, result


def _key(path):
    from enclave.warehouse.pseudonymize import read_key

    return read_key(path)


def count(url: str, table: str) -> dict:
    with psycopg.connect(conninfo(url)) as conn:
        rows = conn.execute(
            f"SELECT institution, count(*) FROM warehouse.{table} GROUP BY 1"
        ).fetchall()
    return dict(rows)


def test_the_load_is_owned_by_a_nologin_owner_role(warehouse_pg):
    url, result = warehouse_pg
    db = sa.engine.make_url(url).database
    with psycopg.connect(conninfo(url)) as conn:
        owner = conn.execute(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'warehouse'"
        ).fetchone()[0]
        can_login = conn.execute(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (owner_role(db),)
        ).fetchone()[0]
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'warehouse' AND tableowner = %s",
            (owner_role(db),),
        ).fetchone()[0]
    assert owner == owner_role(db) and not can_login
    assert tables == 11
    assert sum(count(url, "students").values()) == result.tables["students"]


def test_a_project_role_sees_only_approved_institutions(warehouse_pg):
    url, result = warehouse_pg
    role = grant_project(url, "p1", ["K12-001", "CC-101"])
    db = sa.engine.make_url(url).database
    assert role == f"{db}_proj_p1"
    project = as_role(url, role)
    assert set(count(project, "students")) == {"K12-001", "CC-101"}
    assert set(count(project, "k12_enrollments")) == {"K12-001"}
    assert count(project, "univ_enrollments") == {}
    assert count(project, "students") == {
        k: v for k, v in count(url, "students").items() if k in ("K12-001", "CC-101")
    }
    engine = connect_readonly(project)  # the reader API, through the project role
    with engine.connect() as conn:
        seen = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT institution FROM students"))}
    engine.dispose()
    assert seen == {"K12-001", "CC-101"}


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO warehouse.institutions VALUES ('X', 'x', 'k12')",
        "UPDATE warehouse.students SET gender = 'X'",
        "DELETE FROM warehouse.cc_awards",
        "TRUNCATE warehouse.students",
        "CREATE TABLE warehouse.mine (a int)",
        "CREATE TABLE public.mine (a int)",
        "CREATE TEMP TABLE mine (a int)",
        "DROP TABLE warehouse.students",
        "ALTER TABLE warehouse.students DISABLE ROW LEVEL SECURITY",
        "SELECT * FROM warehouse_admin.projects",
        # SQL run inside the server is never logged by itself: no anonymous blocks, no functions
        "DO $$ BEGIN PERFORM 1; END $$",
        "DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'select * from warehouse.univ_' || "
        "'degrees' LOOP RAISE NOTICE '%', r; END LOOP; END $$",
        "DO LANGUAGE sql 'SELECT 1'",
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$",
        "CREATE FUNCTION warehouse.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE PROCEDURE public.p() LANGUAGE sql AS 'SELECT 1'",
    ],
)
def test_the_server_refuses_a_project_roles_writes_and_ddl(warehouse_pg, statement):
    url, _ = warehouse_pg
    role = grant_project(url, "p2", ["UNI-201"])
    with psycopg.connect(conninfo(as_role(url, role)), autocommit=True) as conn:
        # not just the read-only session default: privileges refuse it too
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_public_can_neither_use_a_language_nor_create_anywhere(warehouse_pg):
    """Even with a schema to create in, a project role may not write code in any language."""
    url, _ = warehouse_pg
    db = sa.engine.make_url(url).database
    role = grant_project(url, "p4", ["CC-101"])
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        languages = conn.execute(
            "SELECT lanname, has_language_privilege(%s, oid, 'USAGE') FROM pg_language "
            "WHERE lanpltrusted",
            (role,),
        ).fetchall()
        creates = conn.execute(
            "SELECT has_database_privilege(%s, %s, 'CREATE'), "
            "has_database_privilege(%s, %s, 'TEMPORARY'), "
            "has_schema_privilege(%s, 'public', 'CREATE')",
            (role, db, role, db, role),
        ).fetchone()
        conn.execute(f'CREATE SCHEMA "{role}_own" AUTHORIZATION "{role}"')
    assert {"plpgsql", "sql"} <= {name for name, _ in languages}
    assert not any(usage for _, usage in languages)
    assert creates == (False, False, False)
    try:
        with psycopg.connect(conninfo(as_role(url, role)), autocommit=True) as conn:
            conn.execute("SET default_transaction_read_only = off")
            for language in ("sql", "plpgsql"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="language"):
                    conn.execute(
                        f'CREATE FUNCTION "{role}_own".f() RETURNS int LANGUAGE {language} '
                        "AS 'SELECT 1'"
                    )
    finally:
        with psycopg.connect(conninfo(url), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{role}_own" CASCADE')


def test_a_role_without_a_grant_sees_nothing(warehouse_pg):
    url, _ = warehouse_pg
    role = grant_project(url, "p3", ["CC-102"])
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}_x" LOGIN')
    try:
        with pytest.raises(psycopg.OperationalError, match="CONNECT privilege"):
            count(as_role(url, f"{role}_x"), "students")  # PUBLIC may not even connect
        with psycopg.connect(conninfo(url), autocommit=True) as conn:
            # even if someone hands out access by hand, row security without a policy hides rows
            db = sa.engine.make_url(url).database
            conn.execute(f'GRANT CONNECT ON DATABASE "{db}" TO "{role}_x"')
            conn.execute(f'GRANT USAGE ON SCHEMA warehouse TO "{role}_x"')
            conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA warehouse TO "{role}_x"')
        assert count(as_role(url, f"{role}_x"), "students") == {}
    finally:
        with psycopg.connect(conninfo(url), autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}_x"')
            conn.execute(f'DROP ROLE "{role}_x"')


def test_a_reload_keeps_grants_and_a_failed_load_changes_nothing(
    warehouse_pg, population, extracts, key_file, tmp_path
):
    url, result = warehouse_pg
    role = grant_project(url, "p4", ["K12-002"])
    before = count(url, "students")
    load(population[0], url, read_key(key_file), quarantine=tmp_path / "q")  # a refresh
    assert count(as_role(url, role), "students") == {"K12-002": before["K12-002"]}
    (extracts / "UNI-201/degrees.csv").write_bytes(b"\xff\xfe garbage")
    with pytest.raises(EnclaveError):
        load(extracts, url, read_key(key_file), quarantine=tmp_path / "q")
    assert count(url, "students") == before
    assert count(as_role(url, role), "students") == {"K12-002": before["K12-002"]}


def test_a_regrant_replaces_the_approved_institutions(warehouse_pg):
    url, _ = warehouse_pg
    role = grant_project(url, "p5", ["K12-001", "K12-002"])
    assert grant_project(url, "p5", ["UNI-201"]) == role
    assert set(count(as_role(url, role), "students")) == {"UNI-201"}


def test_grant_refuses_bad_requests(warehouse_pg):
    url, _ = warehouse_pg
    with pytest.raises(EnclaveError, match="unknown institution"):
        grant_project(url, "p6", ["K12-001", "UNI-999"])
    with pytest.raises(EnclaveError, match="not a project name"):
        grant_project(url, "Robert'); DROP TABLE students;--", ["K12-001"])
    with pytest.raises(EnclaveError, match="none"):
        grant_project(url, "p6", [])


def test_grant_before_any_load_says_to_load_first(pg_db):
    with pytest.raises(EnclaveError, match="load"):
        grant_project(pg_db, "p7", ["K12-001"])


def test_a_loading_role_without_privileges_gets_one_line(pg_db, population, key_file, cli):
    db = sa.engine.make_url(pg_db).database
    weak = f"{db}_weak"
    with psycopg.connect(conninfo(pg_db), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{weak}" LOGIN')
    code, out, err = cli(
        "warehouse", "load", population[0], "--key", key_file, "--url", as_role(pg_db, weak)
    )
    assert code == 4 and len(err) == 1 and "superuser" in err[0]
    with psycopg.connect(conninfo(pg_db)) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'warehouse%'"
        ).fetchone() == (0,)


def test_a_reload_does_not_wait_for_ever_on_an_open_reader(
    warehouse_pg, population, key_file, tmp_path, monkeypatch
):
    from enclave.warehouse import store_postgres

    url, _ = warehouse_pg
    monkeypatch.setattr(store_postgres, "SWAP_WAIT_MS", 500)
    before = count(url, "students")
    with psycopg.connect(conninfo(url)) as reader:
        reader.execute("SELECT count(*) FROM warehouse.students").fetchone()  # transaction open
        with pytest.raises(EnclaveError, match="kept a transaction open"):
            load(population[0], url, bytes(32), quarantine=tmp_path / "q")
    assert count(url, "students") == before
    load(population[0], url, bytes(32), quarantine=tmp_path / "q")  # reader gone: it works
