"""Quarantine reports and errors name the line of the file, whatever the quoting (issue 15)."""

import csv

import pytest

STUDENTS = "K12-001/students.csv"


def quoted_rewrite(path, change, lineterminator="\n"):
    """Rewrite a CSV with ``change(rows)`` applied, every field quoted."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    change(rows)
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator=lineterminator).writerows(rows)


def line_of(path, text: str) -> int:
    """The physical line of the file holding ``text``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if text in line:
            return number
    raise AssertionError(text)


def report(extracts) -> list[dict]:
    with open(extracts / "quarantine.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("lineterminator", ["\n", "\r\n"])
def test_rows_after_a_field_with_line_breaks(extracts, cli, lineterminator):
    path = extracts / STUDENTS

    def change(rows):
        street = rows[0].index("street_address")
        rows[3][street] = "Apt 4\nBuilding 7\n1 Main St"  # a record over three lines
        rows[20][rows[0].index("zip")] = "9X999"  # a bad value in the 20th data row
        rows[20][street] = "marker street"

    quoted_rewrite(path, change, lineterminator)
    code, _, err = cli("warehouse", "check", extracts)
    assert code == 3
    rejected = [r for r in report(extracts) if r["file"] == STUDENTS]
    assert [r["line"] for r in rejected] == [str(line_of(path, "marker street"))] == ["23"]


def test_a_ragged_row_after_a_field_with_line_breaks(extracts, cli):
    path = extracts / STUDENTS

    def change(rows):
        rows[2][rows[0].index("street_address")] = "two\nlines"
        rows[9].append("one field too many")

    quoted_rewrite(path, change)
    code, _, err = cli("warehouse", "check", extracts)
    assert code == 2
    assert f"{STUDENTS}: line {line_of(path, 'one field too many')} has 10 fields" in err[0]
    assert line_of(path, "one field too many") == 11


def test_shared_ids_point_at_each_others_lines(extracts, cli):
    path = extracts / STUDENTS

    def change(rows):
        rows[1][rows[0].index("street_address")] = "a\nb\nc"
        rows[30][0] = rows[10][0]  # two different rows, one statewide id
        rows[10][rows[0].index("street_address")] = "first copy"
        rows[30][rows[0].index("street_address")] = "second copy"

    quoted_rewrite(path, change)
    assert cli("warehouse", "check", extracts)[0] == 3
    first, second = line_of(path, "first copy"), line_of(path, "second copy")
    rows = {r["line"]: r["reason"] for r in report(extracts) if r["file"] == STUDENTS}
    assert f"also on line {second}" in rows[str(first)]
    assert f"also on line {first}" in rows[str(second)]
    assert (first, second) == (13, 33)
