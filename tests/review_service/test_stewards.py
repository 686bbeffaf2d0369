"""Which institutions must sign off: lineage, project fallback, the server's statement log,
names in output tables."""

from types import SimpleNamespace

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from enclave.review_service.stewards import (
    LINEAGE,
    LOG_UNREADABLE,
    NAMED,
    NO_LINEAGE,
    lineage_institutions,
    named_in_tables,
    required_institutions,
    server_read_reason,
    unaccounted_reason,
    unaccounted_statements,
)

NAMES = {
    "K12-001": "Harbor Valley Unified School District",
    "CC-101": "Bayline Community College",
    "CC-102": "Sierra Foothill Community College",
    "UNI-201": "Pacific Coast State University",
}


def query(notebook, institutions):
    return SimpleNamespace(details={"notebook": notebook, "institutions": institutions})


def nb_with(*outputs, markdown=None):
    cells = [new_code_cell("x", outputs=list(outputs))]
    if markdown:
        cells.append(new_markdown_cell(markdown))
    return new_notebook(cells=cells)


def html_table(text):
    html = f"<p>{text}</p><table><tr><td>{text}</td></tr></table>"
    return new_output("execute_result", data={"text/html": html})


def test_lineage_is_matched_by_notebook_file_name():
    events = [
        query("work/analysis.ipynb", ["CC-101"]),
        query("other.ipynb", ["K12-001"]),
        query("analysis.ipynb", ["UNI-201"]),
    ]
    assert lineage_institutions(events, "analysis.ipynb") == {"CC-101", "UNI-201"}


def test_project_institutions_apply_only_without_lineage():
    nb = nb_with()
    with_lineage = required_institutions(
        nb=nb,
        notebook="a.ipynb",
        query_events=[query("a.ipynb", ["CC-101"])],
        project_institutions=lambda: ["CC-101", "CC-102"],
        institutions=NAMES,
    )
    assert with_lineage == {"CC-101": [LINEAGE]}
    without = required_institutions(
        nb=nb,
        notebook="a.ipynb",
        query_events=[],
        project_institutions=lambda: ["CC-101", "CC-102"],
        institutions=NAMES,
    )
    assert without == {"CC-101": [NO_LINEAGE], "CC-102": [NO_LINEAGE]}


def test_institutions_named_in_tables_need_their_stewards_even_with_lineage():
    nb = nb_with(html_table("Pacific Coast State University"))
    reasons = required_institutions(
        nb=nb,
        notebook="a.ipynb",
        query_events=[query("a.ipynb", ["CC-101"])],
        project_institutions=lambda: [],
        institutions=NAMES,
    )
    assert reasons == {"CC-101": [LINEAGE], "UNI-201": [NAMED]}


def test_codes_in_plain_text_tables_and_markdown_tables_count():
    frame = new_output(
        "execute_result", data={"text/plain": "  institution  rate\n0  CC-102  0.4\n1 k12-001 0.5"}
    )
    assert named_in_tables(nb_with(frame), NAMES) == {"CC-102", "K12-001"}
    assert named_in_tables(nb_with(markdown="| CC-101 | 3 |"), NAMES) == {"CC-101"}


def test_a_single_value_or_prose_is_not_a_table_and_lookalike_codes_do_not_match():
    single = new_output("execute_result", data={"text/plain": "'CC-101'"})
    prose = new_output("execute_result", data={"text/html": "<p>UNI-201 only in prose</p>"})
    lookalike = new_output("stream", name="stdout", text="CC-1010 x\nXCC-101\n")
    assert named_in_tables(nb_with(single, prose, lookalike), NAMES) == set()


# --- the server's statement log (events shaped like hub/isolation/postgres.py writes them) ---

KERNEL_SQL = "SELECT count(*) AS n\n  FROM cc_enrollments WHERE term = :term;"
# what PostgreSQL logged for that one kernel query (SQLAlchemy 2.1, psycopg 3.3, captured)
KERNEL_SERVER_SIDE = [
    "BEGIN",
    "select pg_catalog.version()",
    "select current_schema()",
    "show transaction isolation level",
    "show standard_conforming_strings",
    'SAVEPOINT "_pg3_1"',
    "SELECT\n    typname AS name, oid, typarray AS array_oid,\n    oid::regtype::text AS regtype, "
    "typdelim AS delimiter\nFROM pg_type t\nWHERE t.oid = to_regtype($1)\nORDER BY t.oid\n",
    'RELEASE "_pg3_1"',
    "ROLLBACK",
    "BEGIN",
    "SET TRANSACTION READ ONLY",
    "EXPLAIN (VERBOSE, FORMAT JSON) SELECT count(*) AS n\n  FROM cc_enrollments WHERE term = $1",
    "SELECT count(*) AS n\n  FROM cc_enrollments WHERE term = $1",
    "SELECT pg_catalog.pg_class.relname \nFROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace "
    "ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace \nWHERE "
    "pg_catalog.pg_class.relkind = ANY (ARRAY[$1::VARCHAR, $2::VARCHAR]) AND "
    "pg_catalog.pg_class.relpersistence != $3::VARCHAR AND pg_catalog.pg_namespace.nspname = "
    "$4::VARCHAR",
    "SELECT DISTINCT institution FROM warehouse.cc_enrollments",
    "ROLLBACK",
    "DEALLOCATE ALL",
]
PROJECT = ["CC-101", "UNI-201"]
CC_READ = server_read_reason(["cc_enrollments"])


def server(sql):
    details = {"sql": sql, "time": "2026-11-29 01:00:00.100 UTC", "source": "postgresql-log"}
    return SimpleNamespace(details={**details, "role": "db_sess_rita"})


def kernel_record(sql=KERNEL_SQL, institutions=("CC-101",)):
    details = {"notebook": "a.ipynb", "sql": sql, "rows": 1, "institutions": list(institutions)}
    return SimpleNamespace(details=details)


def stewards_for(events, **kwargs):
    return required_institutions(
        nb=nb_with(),
        notebook="a.ipynb",
        query_events=events,
        project_institutions=lambda: PROJECT,
        institutions=NAMES,
        **kwargs,
    )


def test_the_kernels_own_statements_are_accounted_for_by_its_record():
    events = [kernel_record(), *map(server, KERNEL_SERVER_SIDE)]
    assert unaccounted_statements(events) == 0
    assert stewards_for(events) == {"CC-101": [LINEAGE, CC_READ]}


def test_a_statement_outside_the_kernels_records_needs_every_project_steward():
    """One CC-101 record, then UNI-201 read through psycopg: the record does not decide."""
    direct = server("SELECT * FROM univ_degrees")
    events = [kernel_record(), *map(server, KERNEL_SERVER_SIDE), direct]
    reasons = stewards_for(events)
    univ_read = server_read_reason(["univ_degrees"])
    assert reasons == {
        "CC-101": [LINEAGE, CC_READ, unaccounted_reason(1)],
        "UNI-201": [univ_read, unaccounted_reason(1)],
    }
    assert "1 statement(s) in the PostgreSQL log" in reasons["UNI-201"][1]


def test_a_forged_record_repeating_the_sql_cannot_narrow_the_stewards():
    """The session claims CC-101 for a statement the server saw reading a univ_ table, and
    files it under another notebook: the server's log still asks UNI-201's steward."""
    sql = "SELECT * FROM univ_degrees"
    events = [kernel_record(), kernel_record(sql), server(sql)]
    events[1].details["notebook"] = "elsewhere.ipynb"
    assert unaccounted_statements(events) == 0
    assert stewards_for(events) == {
        "CC-101": [LINEAGE],
        "UNI-201": [server_read_reason(["univ_degrees"])],
    }


@pytest.mark.parametrize(
    "sql",
    [
        "select query_to_xml('select * from univ_' || 'degrees', true, true, '')",
        'SELECT * FROM U&"univ\\005fdegrees"',
        "SELECT count(*) FROM warehouse.students",  # every sector's students
        # SQL built at run time inside the server: only the outer statement is logged
        "DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'select * from warehouse.univ_' || "
        "'degrees' LOOP RAISE NOTICE '%', r; END LOOP; END $$",
        "do 'begin perform 1; end'",  # a DO body need not be dollar-quoted
        "/* x */DO\nLANGUAGE plpgsql $b$ BEGIN NULL; END $b$",
        "EXECUTE fetch_them(1)",  # a prepared statement
        "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
        "CALL p()",
        "SELECT $q$univ_$q$ || 'degrees'",  # a dollar-quoted string
        "SELECT ts_stat('select v from cc_enrollments')",  # names a cc_ table only
    ],
)
def test_statements_that_could_read_any_sector_ask_every_project_steward(sql):
    events = [kernel_record(sql), server(sql)]
    assert set(stewards_for(events)) == {"CC-101", "UNI-201"}
    assert unaccounted_statements(events) == 0


@pytest.mark.parametrize(
    ("recorded", "logged"),
    [
        ("SELECT count(*) AS done, 'executed' AS doing FROM cc_enrollments",) * 2,
        ("SELECT price$ FROM cc_enrollments",) * 2,  # '$' inside a name is no dollar quote
        (
            "SELECT count(*) FROM cc_enrollments WHERE term = :t AND units > :u",
            "SELECT count(*) FROM cc_enrollments WHERE term = $1 AND units > $2",
        ),
    ],
)
def test_words_and_parameters_that_only_resemble_run_time_sql_do_not_widen(recorded, logged):
    events = [kernel_record(recorded), server(logged)]
    assert stewards_for(events) == {"CC-101": [LINEAGE, CC_READ]}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT DISTINCT student_key FROM warehouse.students",  # not the lineage probe
        "SELECT DISTINCT institution FROM warehouse.students; SELECT * FROM students",
        "SELECT count(*) AS n FROM cc_enrollments WHERE term = $1 OR true",  # not the record's
        'SAVEPOINT "_pg3_1"; SELECT 1',
        "SET search_path = warehouse, pg_catalog",
        "select query_to_xml('select * from univ_' || 'degrees', true, true, '')",
    ],
)
def test_lookalikes_of_accounted_statements_are_not_accounted(sql):
    assert unaccounted_statements([kernel_record(), server(sql)]) == 1


def test_whitespace_semicolons_and_parameter_spelling_do_not_matter():
    """Whitespace, a trailing ';' and parameter spelling do not matter; the text does."""
    events = [kernel_record(), server("SELECT count(*) AS n FROM cc_enrollments WHERE term = $7")]
    assert unaccounted_statements(events) == 0
    assert unaccounted_statements([server("SELECT 1")]) == 1  # no record at all


def test_server_statements_are_never_lineage_and_an_unread_log_asks_every_steward():
    assert lineage_institutions([server("SELECT 1")], "a.ipynb") == set()
    reasons = stewards_for([kernel_record()], server_log_read=False)
    assert reasons == {"CC-101": [LINEAGE, LOG_UNREADABLE], "UNI-201": [LOG_UNREADABLE]}
