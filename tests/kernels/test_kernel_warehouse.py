"""The session's `warehouse` object: results, lineage, read-only refusals, fail-closed recording."""

import http.server
import json
import socket
import threading
import time

import pandas as pd
import pytest

from enclave.kernels.client import Warehouse
from enclave.kernels.errors import QueryNotRecorded, QueryRefused, WarehouseError
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


def session(url, log_path, project="p1"):
    env = {
        "ENCLAVE_WAREHOUSE_URL": url,
        "ENCLAVE_PROJECT": project,
        "ENCLAVE_QUERY_LOG_FILE": str(log_path),
        "JPY_SESSION_NAME": "/home/rita/study.ipynb",
    }
    return connect({k: v for k, v in env.items() if v is not None})


def test_query_returns_a_dataframe_and_records_lineage(sqlite_warehouse, query_log):
    path, records = query_log
    wh = session(sqlite_warehouse["all"], path)
    df = wh.query(
        "SELECT gender, COUNT(*) AS n FROM students WHERE birth_year >= :y GROUP BY gender",
        {"y": 1990},
    )
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["gender", "n"]
    assert df.n.sum() > 0
    (record,) = records()
    assert set(record) == {"project", "notebook", "sql", "rows", "institutions", "time"}
    assert record["project"] == "p1"
    assert record["notebook"] == "/home/rita/study.ipynb"
    assert record["rows"] == len(df)
    assert "birth_year >= :y" in record["sql"]
    # students holds a row per student per institution: every institution was read
    assert record["institutions"] == ["CC-101", "CC-102", "K12-001", "K12-002", "UNI-201"]


def test_lineage_is_the_tables_read_not_the_whole_warehouse(sqlite_warehouse, query_log):
    path, records = query_log
    wh = session(sqlite_warehouse["all"], path)
    wh.query("SELECT COUNT(*) FROM cc_course_outcomes")
    wh.query(
        "WITH t AS (SELECT student_key FROM univ_degrees) "
        "SELECT COUNT(*) FROM t JOIN k12_graduations g USING (student_key)"
    )
    first, second = records()
    assert first["institutions"] == ["CC-101", "CC-102"]
    assert second["institutions"] == ["K12-001", "K12-002", "UNI-201"]


def test_lineage_only_names_the_projects_approved_institutions(sqlite_warehouse, query_log):
    path, records = query_log
    wh = session(sqlite_warehouse["cc101"], path)
    df = wh.query("SELECT DISTINCT institution FROM students")
    assert df.institution.tolist() == ["CC-101"]
    assert records()[0]["institutions"] == ["CC-101"]


def test_tables_and_describe(sqlite_warehouse, query_log):
    wh = session(sqlite_warehouse["all"], query_log[0])
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
def test_sqlite_session_may_only_read(sqlite_warehouse, query_log, sql):
    path, records = query_log
    wh = session(sqlite_warehouse["all"], path)
    before = wh.query("SELECT COUNT(*) AS n FROM students").n[0]
    with pytest.raises(WarehouseError):
        wh.query(sql)
    assert wh.query("SELECT COUNT(*) AS n FROM students").n[0] == before
    assert [r["sql"] for r in records()] == ["SELECT COUNT(*) AS n FROM students"] * 2


def test_unknown_bind_parameter_is_a_clear_error(sqlite_warehouse, query_log):
    wh = session(sqlite_warehouse["all"], query_log[0])
    with pytest.raises(WarehouseError, match="bind parameter 'y'"):
        wh.query("SELECT * FROM students WHERE birth_year = :y")


@pytest.mark.parametrize(
    "sql, says",
    [
        ("SELECT gpa_typo FROM students", "no column 'gpa_typo' in the tables it reads"),
        ("SELECT s.nope FROM students s", "no column 's.nope'"),
        ("SELECT * FROM studnets", "no table 'studnets' in this project's warehouse"),
        ("SELEC * FROM students", "syntax breaks near 'SELEC'"),
    ],
)
def test_unknown_columns_and_tables_are_named_in_one_line(sqlite_warehouse, query_log, sql, says):
    wh = session(sqlite_warehouse["all"], query_log[0])
    with pytest.raises(WarehouseError) as e:
        wh.query(sql)
    assert says in str(e.value) and "\n" not in str(e.value)
    assert query_log[1]() == []


def test_an_error_naming_something_the_sql_does_not_say_is_not_quoted():
    from enclave.kernels.errors import explain_query_error

    # PostgreSQL's wording for a value: never echoed, whatever it looks like
    assert explain_query_error('column "stu_0123" does not exist', "SELECT 1") is None
    assert explain_query_error('invalid input syntax for type integer: "stu_1"', "x") is None


# -- fails closed ---------------------------------------------------------------------------


def test_no_query_log_refuses_the_query(sqlite_warehouse):
    wh = connect({"ENCLAVE_WAREHOUSE_URL": sqlite_warehouse["all"], "ENCLAVE_PROJECT": "p1"})
    with pytest.raises(QueryNotRecorded, match="ENCLAVE_QUERY_LOG_FILE"):
        wh.query("SELECT COUNT(*) FROM students")


def test_unwritable_query_log_refuses_the_query(sqlite_warehouse, tmp_path):
    wh = session(sqlite_warehouse["all"], tmp_path / "missing-dir" / "q.jsonl")
    with pytest.raises(QueryNotRecorded, match="cannot be written"):
        wh.query("SELECT COUNT(*) FROM students")


def test_no_project_refuses_the_query(sqlite_warehouse, query_log):
    wh = session(sqlite_warehouse["all"], query_log[0], project=None)
    with pytest.raises(QueryRefused, match="ENCLAVE_PROJECT"):
        wh.query("SELECT 1")
    assert query_log[1]() == []


def test_no_warehouse_access_is_explained_on_use(query_log):
    wh = session(None, query_log[0])
    with pytest.raises(WarehouseError, match="ENCLAVE_WAREHOUSE_URL is not set"):
        wh.query("SELECT 1")


class _LogService(http.server.BaseHTTPRequestHandler):
    status = 201
    delay = 0.0  # seconds before answering
    received: list = []

    def do_POST(self):
        time.sleep(self.delay)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Authorization"], json.loads(body)))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def log_service():
    """A real HTTP endpoint on loopback standing in for the review service's query API."""
    _LogService.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LogService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _service_session(url, server, token="tok-123", **extra):
    base = f"http://127.0.0.1:{server.server_port}/services/review/api/queries"
    return connect(
        {
            "ENCLAVE_WAREHOUSE_URL": url,
            "ENCLAVE_PROJECT": "p1",
            "ENCLAVE_QUERY_LOG_URL": base,
            "JUPYTERHUB_API_TOKEN": token,
            "JPY_SESSION_NAME": "study.ipynb",
            **extra,
        }
    )


def test_hub_session_posts_the_record_with_the_users_token(sqlite_warehouse, log_service):
    df = _service_session(sqlite_warehouse["cc101"], log_service).query(
        "SELECT COUNT(*) AS n FROM cc_awards"
    )
    assert len(df) == 1
    ((path, auth, record),) = _LogService.received
    assert path == "/services/review/api/queries"
    assert auth == "token tok-123"
    assert record["institutions"] == ["CC-101"]
    assert record["notebook"] == "study.ipynb"


def test_service_refusal_withholds_the_result(sqlite_warehouse, log_service, monkeypatch):
    monkeypatch.setattr(_LogService, "status", 500)
    with pytest.raises(QueryNotRecorded, match="HTTP 500"):
        _service_session(sqlite_warehouse["all"], log_service).query("SELECT 1 AS x")


def test_a_slow_service_refuses_the_query_after_the_configured_timeout(
    sqlite_warehouse, log_service, monkeypatch
):
    monkeypatch.setattr(_LogService, "delay", 1.5)
    wh = _service_session(sqlite_warehouse["all"], log_service, ENCLAVE_QUERY_LOG_TIMEOUT="0.3")
    start = time.monotonic()
    with pytest.raises(QueryNotRecorded, match="timed out"):
        wh.query("SELECT 1 AS x")
    assert time.monotonic() - start < 1.4


def test_the_timeout_comes_from_the_recording_settings():
    from traitlets.config import Config

    from enclave.kernels.recording import QueryRecording

    config = Config()
    config.QueryRecording.post_timeout = 2.5
    assert QueryRecording(config=config).environment() == {"ENCLAVE_QUERY_LOG_TIMEOUT": "2.5"}


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf"])
def test_an_unusable_timeout_refuses_the_query(sqlite_warehouse, log_service, value):
    wh = _service_session(sqlite_warehouse["all"], log_service, ENCLAVE_QUERY_LOG_TIMEOUT=value)
    with pytest.raises(QueryNotRecorded, match="ENCLAVE_QUERY_LOG_TIMEOUT must be"):
        wh.query("SELECT 1 AS x")
    assert _LogService.received == []


def test_unreachable_service_refuses_the_query(sqlite_warehouse):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    wh = connect(
        {
            "ENCLAVE_WAREHOUSE_URL": sqlite_warehouse["all"],
            "ENCLAVE_PROJECT": "p1",
            "ENCLAVE_QUERY_LOG_URL": f"http://127.0.0.1:{port}/q",
            "JUPYTERHUB_API_TOKEN": "t",
        }
    )
    with pytest.raises(QueryNotRecorded, match="cannot be reached"):
        wh.query("SELECT 1 AS x")


@pytest.mark.parametrize(
    "env, reason",
    [
        ({"ENCLAVE_QUERY_LOG_URL": "http://127.0.0.1:1/q"}, "JUPYTERHUB_API_TOKEN is not"),
        (
            {"ENCLAVE_QUERY_LOG_URL": "file:///tmp/q", "JUPYTERHUB_API_TOKEN": "t"},
            "http\\(s\\) URL",
        ),
    ],
)
def test_misconfigured_service_refuses_the_query(sqlite_warehouse, env, reason):
    base = {"ENCLAVE_WAREHOUSE_URL": sqlite_warehouse["all"], "ENCLAVE_PROJECT": "p1"}
    with pytest.raises(QueryNotRecorded, match=reason):
        connect({**base, **env}).query("SELECT 1 AS x")


# -- PostgreSQL: the project role ------------------------------------------------------------


@pytest.fixture
def pg_project(pg_url, sqlite_warehouse):
    """The same extracts loaded into a fresh PostgreSQL database; a role for CC-101 only."""
    load(sqlite_warehouse["root"], pg_url)
    return grant(pg_url, "ccstudy", "CC-101")


def test_postgres_project_role_reads_its_slice_with_lineage(pg_project, query_log):
    path, records = query_log
    wh = session(pg_project, path)
    assert "students" in wh.tables()
    df = wh.query(
        "SELECT s.institution, COUNT(*) AS n FROM students s "
        "JOIN cc_enrollments e USING (student_key, institution) "
        "WHERE e.academic_year >= :y GROUP BY s.institution",
        {"y": 2000},
    )
    assert df.institution.tolist() == ["CC-101"]
    (record,) = records()
    assert record["institutions"] == ["CC-101"]
    assert record["rows"] == 1


def test_a_failed_query_names_the_error_class_never_the_values_it_quotes(pg_project, query_log):
    """PostgreSQL quotes the offending value: `invalid input syntax for type integer: "stu_..."`."""
    wh = session(pg_project, query_log[0])
    with pytest.raises(WarehouseError) as e:
        wh.query("SELECT CAST(student_key AS integer) FROM students")
    assert "InvalidTextRepresentation" in str(e.value)
    assert "stu_" not in str(e.value) and "integer" not in str(e.value)
    assert query_log[1]() == []


def test_postgres_unknown_column_is_named_in_one_line(pg_project, query_log):
    wh = session(pg_project, query_log[0])
    with pytest.raises(WarehouseError, match="no column 'gpa_typo' in the tables it reads"):
        wh.query("SELECT gpa_typo FROM students")
    with pytest.raises(WarehouseError, match="no table 'studnets'"):
        wh.query("SELECT * FROM studnets")


def test_postgres_functions_that_run_sql_count_as_reading_everything(pg_project, query_log):
    path, records = query_log
    wh = session(pg_project, path)
    df = wh.query(
        "SELECT query_to_xml('SELECT COUNT(*) FROM warehouse.cc_awards', true, false, '')"
    )
    assert len(df) == 1
    assert records()[0]["institutions"] == ["CC-101"]  # everything this role can see


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; DELETE FROM students",
        "DELETE FROM students",
        "CREATE TABLE warehouse.mine (x int)",
        "SET default_transaction_read_only = off",
    ],
)
def test_postgres_session_may_only_read(pg_project, query_log, sql):
    path, records = query_log
    wh = session(pg_project, path)
    with pytest.raises(WarehouseError):
        wh.query(sql)
    assert records() == []
    assert wh.query("SELECT COUNT(*) AS n FROM students").n[0] > 0
