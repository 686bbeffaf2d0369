"""The session's `warehouse` object through a real query process: rows, the record written
before each statement runs, read-only refusals, failing closed; and PostgreSQL's project role."""

import contextlib
import json
import os
import pwd
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from enclave.kernels.client import Warehouse
from enclave.kernels.errors import QueryRefused, WarehouseError
from enclave.warehouse.query_process import QueryProcess
from tests.kernels.enclave_test_warehouse import grant, load

_opened: list[Warehouse] = []


def connect(environ) -> Warehouse:
    _opened.append(Warehouse.from_environment(environ))
    return _opened[-1]


@pytest.fixture(autouse=True)
def _close_warehouses():
    yield
    while _opened:
        _opened.pop().close()


def session(url, project="p1"):
    env = {"ENCLAVE_WAREHOUSE_URL": url, "ENCLAVE_PROJECT": project}
    return connect({k: v for k, v in env.items() if v is not None})


def test_query_returns_a_dataframe_recorded_before_it_ran(
    sqlite_warehouse, query_process, query_log
):
    wh = session(query_process(sqlite_warehouse["all"], project="allinst"))
    df = wh.query(
        "SELECT gender, COUNT(*) AS n FROM students WHERE birth_year >= :y GROUP BY gender",
        {"y": 1990},
    )
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["gender", "n"]
    assert df.n.sum() > 0
    (record,) = query_log[1]()
    assert set(record) == {
        "user", "project", "session", "statement", "time", "sql", "relations", "institutions"
    }  # fmt: skip
    assert (record["user"], record["project"]) == ("rita", "allinst")
    assert "birth_year >= :y" in record["sql"]
    assert "1990" not in json.dumps(record)  # parameter values are never recorded
    assert record["relations"] == ["warehouse.students"]
    # students holds a row per student per institution: every institution was read
    assert record["institutions"] == ["CC-101", "CC-102", "K12-001", "K12-002", "UNI-201"]


def test_rows_and_types_are_those_of_sqlite(sqlite_warehouse, query_process):
    import sqlite3

    wh = session(query_process(sqlite_warehouse["all"]))
    sql = "SELECT * FROM cc_enrollments ORDER BY student_key, term"
    df = wh.query(sql)
    with sqlite3.connect(f"file:{sqlite_warehouse['all']}?mode=ro", uri=True) as direct:
        cursor = direct.execute(sql)
        expected = pd.DataFrame.from_records(
            cursor.fetchall(), columns=[d[0] for d in cursor.description]
        )
    assert len(df) == len(expected) > 0
    pd.testing.assert_frame_equal(df, expected, check_dtype=False)
    assert str(df.academic_year.dtype) == "int64"


def test_a_column_of_mixed_types_arrives_as_text_and_nulls_as_missing(
    sqlite_warehouse, query_process
):
    wh = session(query_process(sqlite_warehouse["all"]))
    df = wh.query("SELECT 1 AS a, NULL AS b UNION ALL SELECT 'x', NULL UNION ALL SELECT 2.5, 3")
    assert df.a.tolist() == ["1", "x", "2.5"]
    assert df.b.isna().tolist() == [True, True, False]
    assert wh.query("SELECT * FROM students WHERE 0").empty


def test_lineage_is_the_tables_read_not_the_whole_warehouse(
    sqlite_warehouse, query_process, query_log
):
    wh = session(query_process(sqlite_warehouse["all"]))
    wh.query("SELECT COUNT(*) FROM cc_course_outcomes")
    wh.query(
        "WITH t AS (SELECT student_key FROM univ_degrees) "
        "SELECT COUNT(*) FROM t JOIN k12_graduations g USING (student_key)"
    )
    first, second = query_log[1]()
    assert first["institutions"] == ["CC-101", "CC-102"]
    assert second["relations"] == ["warehouse.k12_graduations", "warehouse.univ_degrees"]
    assert second["institutions"] == ["K12-001", "K12-002", "UNI-201"]
    assert (first["statement"], second["statement"]) == (1, 2)


def test_lineage_only_names_the_projects_approved_institutions(
    sqlite_warehouse, query_process, query_log
):
    wh = session(query_process(sqlite_warehouse["cc101"]))
    df = wh.query("SELECT DISTINCT institution FROM students")
    assert df.institution.tolist() == ["CC-101"]
    assert query_log[1]()[0]["institutions"] == ["CC-101"]


def test_tables_and_describe(sqlite_warehouse, query_process):
    wh = session(query_process(sqlite_warehouse["all"]))
    assert {"students", "cc_course_outcomes", "univ_degrees", "k12_graduations"} <= set(wh.tables())
    columns = wh.describe("students")
    assert columns.column.tolist()[:2] == ["student_key", "institution"]
    assert set(columns.columns) == {"column", "type", "nullable"}
    with pytest.raises(WarehouseError, match="unknown table 'nope'"):
        wh.describe("nope")


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO students (student_key, institution) VALUES ('x', 'CC-101')",
        "DELETE FROM students",
        "CREATE TABLE mine (x INTEGER)",
        "CREATE TEMP TABLE mine AS SELECT * FROM students",
        "ATTACH DATABASE '/tmp/other.sqlite' AS other",
        "PRAGMA table_info(students)",
        "SELECT 1; DELETE FROM students",
        # virtual tables could show any page of the file, past the lineage
        "SELECT COUNT(*) AS n FROM dbstat",
        "SELECT COUNT(*) AS n FROM json_each('[1, 2]')",
    ],
)
def test_sqlite_session_may_only_read(sqlite_warehouse, query_process, query_log, sql):
    wh = session(query_process(sqlite_warehouse["all"]))
    before = wh.query("SELECT COUNT(*) AS n FROM students").n[0]
    with pytest.raises(WarehouseError):
        wh.query(sql)
    assert wh.query("SELECT COUNT(*) AS n FROM students").n[0] == before
    assert [r["sql"] for r in query_log[1]()] == ["SELECT COUNT(*) AS n FROM students"] * 2


def test_extensions_cannot_be_loaded(sqlite_warehouse, query_process):
    wh = session(query_process(sqlite_warehouse["all"]))
    with pytest.raises(WarehouseError, match="OperationalError"):
        wh.query("SELECT load_extension('/tmp/evil.so') AS x")
    assert wh.query("SELECT 1 AS x").x[0] == 1


def test_unknown_bind_parameter_is_a_clear_error(sqlite_warehouse, query_process):
    wh = session(query_process(sqlite_warehouse["all"]))
    with pytest.raises(WarehouseError, match="no value for parameter\\(s\\) :y"):
        wh.query("SELECT * FROM students WHERE birth_year = :y")
    assert len(wh.query("SELECT * FROM students WHERE birth_year >= :y", {"y": 1900})) > 0
    assert len(wh.query("SELECT '10\\:30' AS t")) == 1  # an escaped colon is no parameter


@pytest.mark.parametrize(
    "sql, says",
    [
        ("SELECT gpa_typo FROM students", "no column 'gpa_typo' in the tables it reads"),
        ("SELECT s.nope FROM students s", "no column 's.nope'"),
        ("SELECT * FROM studnets", "no table 'studnets' in this project's warehouse"),
        ("SELEC * FROM students", "syntax breaks near 'SELEC'"),
    ],
)
def test_unknown_columns_and_tables_are_named_in_one_line(
    sqlite_warehouse, query_process, query_log, sql, says
):
    wh = session(query_process(sqlite_warehouse["all"]))
    with pytest.raises(WarehouseError) as e:
        wh.query(sql)
    assert says in str(e.value) and "\n" not in str(e.value)
    assert query_log[1]() == []  # it never ran: nothing was read


def test_an_error_naming_something_the_sql_does_not_say_is_not_quoted():
    from enclave.kernels.errors import explain_query_error

    # PostgreSQL's wording for a value: never echoed, whatever it looks like
    assert explain_query_error('column "stu_0123" does not exist', "SELECT 1") is None
    assert explain_query_error('invalid input syntax for type integer: "stu_1"', "x") is None


def test_a_failed_query_names_the_error_class_only(sqlite_warehouse, query_process, query_log):
    wh = session(query_process(sqlite_warehouse["all"]))
    with pytest.raises(WarehouseError, match="IntegrityError|OperationalError") as e:
        wh.query("SELECT abs(-9223372036854775807 - 1) AS x FROM students")
    assert "9223372036854775807" not in str(e.value)


def test_a_long_statement_is_interrupted(sqlite_warehouse, query_process):
    wh = session(query_process(sqlite_warehouse["all"], statement_timeout=0.5))
    started = time.monotonic()
    with pytest.raises(QueryRefused, match="statement time limit"):
        wh.query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n"
        )
    assert time.monotonic() - started < 10
    assert wh.query("SELECT 1 AS x").x[0] == 1  # the process goes on serving


# -- fails closed ---------------------------------------------------------------------------


@pytest.fixture
def small_filesystem(tmp_path):
    """A 64 KiB tmpfs of the test's own, to fill up."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_no_record_no_rows(sqlite_warehouse, tmp_path, small_filesystem):
    """The log cannot take the record (its file system is full): the statement is not run
    and the kernel gets no rows, only the reason."""
    log = small_filesystem / "queries.jsonl"
    process = QueryProcess().start(
        sqlite_warehouse["all"],
        str(tmp_path / "q.sock"),
        peer=pwd.getpwuid(os.getuid()),
        user="rita",
        project="p1",
        log_file=str(log),
    )
    try:
        process.wait_ready()
        wh = session(process.url)
        assert wh.query("SELECT 1 AS x").x[0] == 1
        with open(small_filesystem / "filler", "wb") as f, contextlib.suppress(OSError):
            f.write(b"x" * 128 * 1024)
        with pytest.raises(QueryRefused, match="could not be recorded for audit"):
            # a record longer than a page: it cannot fit in what the log's last page has left
            wh.query("SELECT COUNT(*) AS n FROM students -- " + "x" * 8192)
        (small_filesystem / "filler").unlink()
        assert wh.query("SELECT COUNT(*) AS n FROM students").n[0] > 0
    finally:
        process.stop()
    assert [json.loads(line)["statement"] for line in log.read_text().splitlines()] == [1, 3]


def test_another_uid_cannot_use_the_socket(sqlite_warehouse, query_process, tmp_path):
    url = query_process(sqlite_warehouse["all"])
    path = url.removeprefix("enclave-query://")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # as nobody: the socket file refuses it, and so would the process
        os.close(read)
        os.setgid(65534)
        os.setuid(65534)
        try:
            Warehouse(url, "p1").query("SELECT 1 AS x")
            os.write(write, b"answered")
        except WarehouseError as e:
            os.write(write, str(e).encode()[:200])
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    said = os.read(read, 300).decode()
    os.close(read)
    assert "cannot be reached" in said


def test_the_process_cannot_open_the_extract_itself(sqlite_warehouse, query_process):
    query_process(sqlite_warehouse["all"])
    pid = query_process.running[-1].process.pid
    status = Path(f"/proc/{pid}/status").read_text()
    uid = int(next(s for s in status.splitlines() if s.startswith("Uid:")).split()[1])
    assert uid == pwd.getpwnam("enclave-query").pw_uid
    assert "NoNewPrivs:\t1" in status
    mode = os.stat(sqlite_warehouse["all"]).st_mode
    assert not mode & 0o004  # not world-readable, and not the query account's
    assert os.stat(sqlite_warehouse["all"]).st_uid == 0


def test_no_project_refuses_the_query(sqlite_warehouse, query_process):
    wh = session(query_process(sqlite_warehouse["all"]), project=None)
    with pytest.raises(QueryRefused, match="ENCLAVE_PROJECT"):
        wh.query("SELECT 1")


def test_no_warehouse_access_is_explained_on_use():
    wh = session(None)
    with pytest.raises(WarehouseError, match="ENCLAVE_WAREHOUSE_URL is not set"):
        wh.query("SELECT 1")


def test_a_sqlite_file_is_not_a_session_warehouse(sqlite_warehouse):
    wh = session(sqlite_warehouse["all"])
    with pytest.raises(WarehouseError, match="through its query process"):
        wh.query("SELECT 1")


# -- PostgreSQL: the project role ------------------------------------------------------------


@pytest.fixture
def pg_project(pg_url, sqlite_warehouse):
    """The same extracts loaded into a fresh PostgreSQL database; a role for CC-101 only."""
    load(sqlite_warehouse["root"], pg_url)
    return grant(pg_url, "ccstudy", "CC-101")


def test_postgres_project_role_reads_its_slice(pg_project):
    """(What it read is recorded by the server: pgAudit on the standby, tests/hub.)"""
    wh = session(pg_project)
    assert "students" in wh.tables()
    df = wh.query(
        "SELECT s.institution, COUNT(*) AS n FROM students s "
        "JOIN cc_enrollments e USING (student_key, institution) "
        "WHERE e.academic_year >= :y GROUP BY s.institution",
        {"y": 2000},
    )
    assert df.institution.tolist() == ["CC-101"]


def test_a_failed_query_names_the_error_class_never_the_values_it_quotes(pg_project):
    """PostgreSQL quotes the offending value: `invalid input syntax for type integer: "stu_..."`."""
    wh = session(pg_project)
    with pytest.raises(WarehouseError) as e:
        wh.query("SELECT CAST(student_key AS integer) FROM students")
    assert "InvalidTextRepresentation" in str(e.value)
    assert "stu_" not in str(e.value) and "integer" not in str(e.value)


def test_postgres_narrowed_role_sees_only_what_its_owners_approved(pg_url, pg_project):
    """A grant of students' gender only: tables() and describe() show just that, and the
    server refuses the rest."""
    import sqlalchemy as sa

    from enclave.warehouse.grant import apply_access

    role = apply_access(pg_url, "narrow", {"CC-101": {"students": ["gender"]}})
    wh = session(sa.engine.make_url(pg_url).set(username=role).render_as_string(False))
    assert wh.tables() == ["students"]
    assert wh.describe("students").column.tolist() == ["student_key", "institution", "gender"]
    assert wh.query("SELECT DISTINCT institution FROM students").institution.tolist() == ["CC-101"]
    with pytest.raises(WarehouseError):
        wh.query("SELECT zip3 FROM students")


def test_postgres_unknown_column_is_named_in_one_line(pg_project):
    wh = session(pg_project)
    with pytest.raises(WarehouseError, match="no column 'gpa_typo' in the tables it reads"):
        wh.query("SELECT gpa_typo FROM students")
    with pytest.raises(WarehouseError, match="no table 'studnets'"):
        wh.query("SELECT * FROM studnets")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; DELETE FROM students",
        "DELETE FROM students",
        "CREATE TABLE warehouse.mine (x int)",
        "SET default_transaction_read_only = off",
    ],
)
def test_postgres_session_may_only_read(pg_project, sql):
    wh = session(pg_project)
    with pytest.raises(WarehouseError):
        wh.query(sql)
    assert wh.query("SELECT COUNT(*) AS n FROM students").n[0] > 0
