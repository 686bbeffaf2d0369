"""Every bad input in issue 2: one line naming the file (and line), non-zero exit, no load."""

import csv
import hashlib
import shutil

import pytest

from enclave.warehouse.load import load
from enclave.warehouse.pseudonymize import read_key


@pytest.fixture(scope="module")
def previous(population, tmp_path_factory):
    """A warehouse from an earlier, good load: failed loads must leave it byte for byte."""
    work = tmp_path_factory.mktemp("previous")
    key = work / "key"
    key.write_text("ab" * 32 + "\n")
    key.chmod(0o600)
    load(population[0], str(work / "w.sqlite"), read_key(key), quarantine=work / "q.csv")
    return work / "w.sqlite", key


@pytest.fixture
def run_load(previous, extracts, tmp_path, cli):
    """Load the (broken) extracts over a copy of the previous warehouse."""
    target = tmp_path / "w.sqlite"
    shutil.copy(previous[0], target)
    before = hashlib.sha256(target.read_bytes()).hexdigest()

    def run(*extra, key=previous[1]):
        code, out, err = cli("warehouse", "load", extracts, "--key", key, "--url", target, *extra)
        unchanged = hashlib.sha256(target.read_bytes()).hexdigest() == before
        return code, err, unchanged

    return run


def rewrite(path, change):
    """Apply ``change(rows)`` to a CSV file's rows (header included)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    change(rows)
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def set_cell(path, row, column, value):
    """Set one data row's cell; returns the file line of that row (header is line 1)."""

    def change(rows):
        rows[row][rows[0].index(column)] = value

    rewrite(path, change)
    return row + 1


def quarantined(extracts) -> list[dict]:
    with open(extracts / "quarantine.csv", newline="") as f:
        return list(csv.DictReader(f))


def assert_one_line(err, *parts):
    assert len(err) == 1, err
    assert err[0].startswith("enclave: error: ")
    for part in parts:
        assert part in err[0], (part, err[0])


# --- file-level problems: exit 2, nothing loaded ------------------------------------------


def test_missing_column(extracts, run_load):
    rewrite(extracts / "CC-101/students.csv", lambda rows: [r.pop(6) for r in rows])
    code, err, unchanged = run_load()
    assert code == 2 and unchanged
    assert_one_line(err, "CC-101/students.csv", "missing column(s) gender")


def test_extra_column(extracts, run_load):
    rewrite(extracts / "UNI-201/degrees.csv", lambda rows: [r.append("x") for r in rows])
    code, err, unchanged = run_load()
    assert code == 2 and unchanged
    assert_one_line(err, "UNI-201/degrees.csv", "unexpected column(s) x")


def test_non_utf8_bytes(extracts, run_load):
    path = extracts / "K12-002/students.csv"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",", b",\xe9\xff", 1)
    path.write_bytes(b"\n".join(lines))
    code, err, unchanged = run_load()
    assert code == 2 and unchanged
    assert_one_line(err, "K12-002/students.csv", "line 4", "not UTF-8")


def test_empty_file(extracts, run_load):
    (extracts / "CC-102/awards.csv").write_bytes(b"")
    code, err, unchanged = run_load()
    assert code == 2 and unchanged
    assert_one_line(err, "CC-102/awards.csv", "empty")


def test_a_header_only_file_is_a_table_with_no_rows(extracts, run_load):
    path = extracts / "CC-102/awards.csv"
    path.write_text(path.read_text().split("\n")[0] + "\n")
    code, err, unchanged = run_load()
    assert code == 0 and not unchanged


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b'{"rows": [1, 2, 3]}\n', b"PK\x03\x04\x14\x00"],
    ids=["png", "json", "zip"],
)
def test_not_csv_at_all(extracts, run_load, content):
    (extracts / "K12-001/assessments.csv").write_bytes(content)
    code, err, unchanged = run_load()
    assert code == 2 and unchanged
    assert_one_line(err, "K12-001/assessments.csv")
    assert "not a CSV file" in err[0] or "not UTF-8" in err[0]


def test_a_row_with_more_fields_than_the_header(extracts, run_load):
    rewrite(extracts / "CC-101/enrollments.csv", lambda rows: rows[5].append("surplus"))
    code, err, unchanged = run_load()
    assert code == 2 and unchanged
    assert_one_line(err, "CC-101/enrollments.csv", "line 6")


def test_a_file_listed_in_the_manifest_is_missing(extracts, run_load):
    (extracts / "UNI-201/admissions.csv").unlink()
    code, err, unchanged = run_load()
    assert code == 2 and unchanged
    assert_one_line(err, "UNI-201/admissions.csv", "missing")


def test_no_manifest(extracts, run_load):
    (extracts / "manifest.json").unlink()
    code, err, unchanged = run_load()
    assert code == 2 and unchanged
    assert_one_line(err, "manifest.json")


# --- row-level problems: quarantined; exit 3 unless accepted; nothing loaded ----------------


ROW_CASES = {
    "wrong type": ("K12-001/enrollments.csv", "grade_level", "ninth", "not an integer"),
    "out of range": ("UNI-201/enrollments.csv", "term_gpa", "7.5", "not a number from 0 to 4"),
    "unknown code": ("CC-102/course_outcomes.csv", "grade", "Z+", "not one of A, B"),
    "malformed ssn": ("UNI-201/students.csv", "ssn", "123-45-678", "not a valid SSN"),
    "impossible ssn": ("CC-101/students.csv", "ssn", "666-12-3456", "not a valid SSN"),
    "malformed date": ("K12-002/students.csv", "birth_date", "2004-13-45", "not a past date"),
    "date format": ("CC-101/students.csv", "birth_date", "03/05/2004", "not a past date"),
    "malformed term": ("CC-101/awards.csv", "term", "2021 Fall", "not a term"),
    "missing value": ("K12-001/students.csv", "last_name", "", "required value is missing"),
    "bad zip": ("K12-002/students.csv", "zip", "9A110", "not a ZIP code"),
}


@pytest.mark.parametrize("case", ROW_CASES, ids=list(ROW_CASES))
def test_bad_values_are_quarantined_and_stop_the_load(extracts, run_load, case):
    file, column, value, reason = ROW_CASES[case]
    line = set_cell(extracts / file, 3, column, value)
    code, err, unchanged = run_load()
    assert code == 3 and unchanged
    assert_one_line(err, file, f"line {line}", f"{column}: {reason}", "--accept-rejects")
    if value:
        assert value not in err[0]  # messages never carry the values
    report = quarantined(extracts)
    assert {"file": file, "line": str(line)} in [
        {"file": r["file"], "line": r["line"]} for r in report
    ]


def test_duplicate_ids_reject_every_row_sharing_the_id(extracts, run_load):
    path = extracts / "K12-001/students.csv"
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    rewrite(path, lambda r: r[5].__setitem__(0, rows[2][0]))  # line 6 takes line 3's id
    code, err, unchanged = run_load()
    assert code == 3 and unchanged
    assert_one_line(err, "K12-001/students.csv", "line 3", "also on line 6")
    report = quarantined(extracts)
    lines = {r["line"] for r in report if r["file"] == "K12-001/students.csv"}
    assert {"3", "6"} <= lines
    # the id's events cannot be attributed to either row: they are rejected too
    assert any(r["file"] == "K12-001/enrollments.csv" for r in report)


def test_accept_rejects_loads_the_rest_and_counts_reconcile(extracts, run_load, cli, tmp_path):
    set_cell(extracts / "CC-102/course_outcomes.csv", 3, "grade", "Z+")
    set_cell(extracts / "UNI-201/students.csv", 4, "birth_date", "1850-01-01")
    code, err, unchanged = run_load("--accept-rejects")
    assert code == 0 and not unchanged, err
    report = quarantined(extracts)
    assert {r["file"] for r in report} >= {"CC-102/course_outcomes.csv", "UNI-201/students.csv"}


# --- keys and databases -----------------------------------------------------------------


def test_a_key_readable_by_others_is_refused(run_load, tmp_path):
    key = tmp_path / "open.key"
    key.write_text("cd" * 32 + "\n")
    key.chmod(0o644)
    code, err, unchanged = run_load(key=key)
    assert code != 0 and unchanged
    assert_one_line(err, str(key), "mode 0644")


def test_a_database_that_refuses_connections(extracts, key_file, cli):
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:1/warehouse"
    code, out, err = cli("warehouse", "load", extracts, "--key", key_file, "--url", url)
    assert code == 4
    assert_one_line(err, "127.0.0.1:1", "refuses connections")
    assert "secret" not in err[0]


def test_an_unknown_url_scheme(extracts, key_file, cli):
    code, out, err = cli("warehouse", "load", extracts, "--key", key_file, "--url", "mysql://x/y")
    assert code != 0
    assert_one_line(err, "unsupported database URL")


def test_a_file_without_header_is_refused_without_echoing_its_data(extracts, run_load):
    path = extracts / "CC-101/students.csv"
    path.write_text(path.read_text().split("\n", 1)[1])  # header dropped: line 1 is a student
    first_row = path.read_text().split("\n", 1)[0].split(",")
    code, err, unchanged = run_load()
    assert code == 2 and unchanged
    assert_one_line(err, "CC-101/students.csv", "not a CSV file")
    assert not any(v and v in err[0] for v in first_row if len(v) > 3)


def test_a_misspelt_column_is_named(extracts, run_load):
    rewrite(extracts / "K12-001/graduations.csv", lambda rows: rows[0].__setitem__(2, "diploma"))
    code, err, unchanged = run_load()
    assert code == 2 and unchanged
    assert_one_line(err, "missing column(s) diploma_type", "unexpected column(s) diploma")


def test_check_validates_without_loading(extracts, cli, tmp_path):
    code, out, err = cli("warehouse", "check", extracts)
    assert code == 0 and "valid" in out.splitlines()[0] and "(0 rows)" in out
    line = set_cell(extracts / "K12-001/assessments.csv", 2, "subject", "ART")
    code, out, err = cli("warehouse", "check", extracts, "--quarantine", tmp_path / "q.csv")
    assert code == 3 and "(1 rows)" in out
    with open(tmp_path / "q.csv", newline="") as f:
        assert list(csv.DictReader(f)) == [
            {
                "file": "K12-001/assessments.csv",
                "line": str(line),
                "reason": "subject: not one of ELA, MATH, SCI",
            }
        ]


def test_not_a_folder(tmp_path, key_file, cli):
    code, out, err = cli("warehouse", "load", tmp_path / "nowhere", "--key", key_file)
    assert code == 2
    assert_one_line(err, "not a folder of extracts")


def test_an_institution_whose_students_were_all_rejected(extracts, run_load, tmp_path):
    path = extracts / "CC-102/students.csv"
    path.write_text(path.read_text().split("\n")[0] + "\n")  # no students at all
    code, err, unchanged = run_load()
    assert code == 3 and unchanged
    assert_one_line(err, "CC-102/", "no accepted row for this student")
    code, err, unchanged = run_load("--accept-rejects")
    assert code == 0 and not unchanged, err
