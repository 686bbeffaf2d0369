"""Which institutions must sign off: the re-execution's lineage, the project without one, the
relations the warehouse recorded as read (pgAudit, the SQLite query process), names in output
tables."""

from types import SimpleNamespace

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from enclave.consortium import demo
from enclave.review_service.stewards import (
    ANY_TABLE,
    LINEAGE,
    LOG_UNREADABLE,
    NAMED,
    NO_RERUN,
    named_in_tables,
    required_institutions,
    server_read_reason,
    tables_read_server_side,
)

NAMES = {
    "K12-001": "Harbor Valley Unified School District",
    "CC-101": "Bayline Community College",
    "CC-102": "Sierra Foothill Community College",
    "UNI-201": "Pacific Coast State University",
}


def nb_with(*outputs, markdown=None):
    cells = [new_code_cell("x", outputs=list(outputs))]
    if markdown:
        cells.append(new_markdown_cell(markdown))
    return new_notebook(cells=cells)


def html_table(text):
    html = f"<p>{text}</p><table><tr><td>{text}</td></tr></table>"
    return new_output("execute_result", data={"text/html": html})


def test_project_institutions_apply_only_without_a_re_execution():
    nb = nb_with()
    rerun = required_institutions(
        nb=nb,
        run_lineage={"CC-101"},
        query_events=[],
        project_institutions=lambda: ["CC-101", "CC-102"],
        consortium=demo(),
    )
    assert rerun == {"CC-101": [LINEAGE]}
    without = required_institutions(
        nb=nb,
        run_lineage=None,
        query_events=[],
        project_institutions=lambda: ["CC-101", "CC-102"],
        consortium=demo(),
    )
    assert without == {"CC-101": [NO_RERUN], "CC-102": [NO_RERUN]}


def test_a_re_execution_that_read_nothing_needs_only_the_named_stewards():
    nb = nb_with(html_table("Pacific Coast State University"))
    reasons = required_institutions(
        nb=nb,
        run_lineage=set(),
        query_events=[],
        project_institutions=lambda: ["CC-101"],
        consortium=demo(),
    )
    assert reasons == {"UNI-201": [NAMED]}


def test_institutions_named_in_tables_need_their_stewards_even_with_lineage():
    nb = nb_with(html_table("Pacific Coast State University"))
    reasons = required_institutions(
        nb=nb,
        run_lineage={"CC-101"},
        query_events=[],
        project_institutions=lambda: [],
        consortium=demo(),
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


# --- the server's pgAudit records (events shaped like warehouse/statement_log.py writes them) ---

PROJECT = ["CC-101", "UNI-201"]
CC_READ = server_read_reason(["cc_enrollments"])


def server(*relations, source="pgaudit"):
    details = {
        "source": source,
        "role": "db_sess_rita",
        "statements": ["SELECT ..."],
        "relations": list(relations),
    }
    return SimpleNamespace(details=details)


def forged(institutions=("CC-101",)):
    """What a session's kernel used to POST about itself: it counts for nothing now."""
    details = {
        "notebook": "a.ipynb",
        "sql": "SELECT count(*) FROM univ_degrees",
        "rows": 1,
        "institutions": list(institutions),
    }
    return SimpleNamespace(details=details)


def stewards_for(events, run_lineage=("CC-101",), **kwargs):
    return required_institutions(
        nb=nb_with(),
        run_lineage=run_lineage,
        query_events=events,
        project_institutions=lambda: PROJECT,
        consortium=demo(),
        **kwargs,
    )


def test_the_relations_the_server_read_name_the_stewards():
    events = [forged(), server("warehouse.cc_enrollments")]
    assert tables_read_server_side(events) == {"cc_enrollments"}
    assert stewards_for(events) == {"CC-101": [LINEAGE, CC_READ]}


def test_a_read_of_another_sector_asks_its_steward_whatever_the_kernel_said():
    """A record the session made up claims CC-101 only; the server saw a univ_ table read."""
    events = [forged(), server("warehouse.cc_enrollments"), server("warehouse.univ_degrees")]
    assert stewards_for(events) == {
        "CC-101": [LINEAGE, CC_READ],
        "UNI-201": [server_read_reason(["univ_degrees"])],
    }


def test_tables_of_every_sector_ask_every_project_steward():
    both = server_read_reason(["students"])
    assert stewards_for([forged(), server("warehouse.students")]) == {
        "CC-101": [LINEAGE, both],
        "UNI-201": [both],
    }


def test_relations_outside_the_warehouse_schema_are_not_warehouse_tables():
    assert (
        tables_read_server_side([server("pg_catalog.pg_class", "public.cc_enrollments")]) == set()
    )


def test_records_of_the_retired_text_log_count_as_reading_every_table():
    events = [forged(), server(source="postgresql-log")]
    assert tables_read_server_side(events) == {ANY_TABLE}
    assert set(stewards_for(events)) == {"CC-101", "UNI-201"}


def test_the_query_process_records_count_like_pgaudit_and_forged_ones_not_at_all():
    events = [server("warehouse.univ_degrees", source="query-process"), forged(["K12-001"])]
    assert tables_read_server_side(events) == {"univ_degrees"}
    assert stewards_for(events, run_lineage=()) == {
        "UNI-201": [server_read_reason(["univ_degrees"])]
    }


def test_an_unread_log_asks_every_steward():
    reasons = stewards_for([forged()], server_log_read=False)
    assert reasons == {"CC-101": [LINEAGE, LOG_UNREADABLE], "UNI-201": [LOG_UNREADABLE]}


def test_a_withdrawn_institution_whose_rows_were_read_before_still_signs_off():
    """UNI-201 withdrew (the project now has CC-101 only), but this user's recorded reads of
    students in the project may hold its rows: its steward is asked."""
    students = server_read_reason(["students"])
    reasons = required_institutions(
        nb=nb_with(),
        run_lineage=("CC-101",),
        query_events=[server("warehouse.students")],
        project_institutions=lambda: ["CC-101"],
        consortium=demo(),
        ever_approved=lambda: {"CC-101": "*", "UNI-201": {"students": None}},
    )
    assert reasons == {"CC-101": [LINEAGE, students], "UNI-201": [students]}


def test_a_table_outside_an_institutions_approved_scope_never_held_its_rows():
    """Both approved students; only CC-101 approved cc_awards: a read of cc_awards asks CC-101
    only (the sectors alone would not tell), a read of students both."""
    reasons = required_institutions(
        nb=nb_with(),
        run_lineage=(),
        query_events=[server("warehouse.cc_awards")],
        project_institutions=lambda: ["CC-101", "CC-102"],
        consortium=demo(),
        ever_approved=lambda: {"CC-101": "*", "CC-102": {"students": ["gender"]}},
    )
    assert reasons == {"CC-101": [server_read_reason(["cc_awards"])]}
