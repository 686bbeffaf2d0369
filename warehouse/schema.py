"""The declared shapes: raw extracts as institutions send them, and the warehouse tables.

Validation (``validate.py``) reads only these declarations; adding a column or a code is an
edit here, not in the checking code. Columns marked ``identifier`` are direct identifiers: the
loader uses them for linkage and drops them; none ever reaches a warehouse table.
"""

from dataclasses import dataclass

# the file in an extracts folder that lists its extracts (made by `generate`, read by `load`)
MANIFEST = "manifest.json"

GENDERS = ("F", "M", "X", "U")
ETHNICITIES = (
    "hispanic",
    "white",
    "asian",
    "black",
    "filipino",
    "pacific_islander",
    "american_indian",
    "two_or_more",
    "unknown",
)
SUBJECTS = ("ELA", "MATH", "SCI")
DIPLOMAS = ("STANDARD", "ADVANCED", "CERTIFICATE")
GRADES = ("A", "B", "C", "D", "F", "P", "NP", "W", "I")
SUCCESS_GRADES = ("A", "B", "C", "P")
AWARDS = ("AA", "AS", "CERT", "ADT")
ADMIT_TYPES = ("first_year", "transfer")
DEGREES = ("BA", "BS")

FIRST_YEAR, LAST_YEAR = 1990, 2040
SEASONS = ("FA", "SP", "SU")


def term_academic_year(term: str) -> int:
    """The academic year a term belongs to: fall starts it; spring and summer end it."""
    year = int(term[:4])
    return year if term.endswith("FA") else year - 1


# every valid term -> its academic year; validation and transformation use the same table
TERMS = {
    f"{y}{s}": term_academic_year(f"{y}{s}")
    for y in range(FIRST_YEAR, LAST_YEAR + 1)
    for s in SEASONS
}


@dataclass(frozen=True)
class Column:
    """One raw column. ``kind``: id, ref (a students.csv id), text, int, float, date, ssn,
    zip, term or code."""

    name: str
    kind: str
    required: bool = True
    codes: tuple = ()
    low: float | None = None
    high: float | None = None
    identifier: bool = False


@dataclass(frozen=True)
class RawTable:
    """One extract file: ``<institution>/<name>.csv``, keyed by the layout's local id column.
    ``layout``: the records a sector's members send (``enclave.consortium.EXTRACT_LAYOUTS``)."""

    layout: str
    name: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


# the local student id column of each layout's extracts
LOCAL_ID = {"k12": "ssid", "cc": "college_id", "univ": "univ_id"}


def _id(layout: str) -> Column:
    return Column(LOCAL_ID[layout], "id", identifier=True)


def _ref(layout: str) -> Column:
    """An events file's student id: valid when students.csv has an accepted row for it."""
    return Column(LOCAL_ID[layout], "ref", identifier=True)


def _person(*extra: Column) -> tuple[Column, ...]:
    return (
        Column("first_name", "text", identifier=True),
        Column("last_name", "text", identifier=True),
        Column("birth_date", "date", identifier=True),
        Column("gender", "code", codes=GENDERS),
        Column("ethnicity", "code", codes=ETHNICITIES),
        *extra,
    )


_ZIP = Column("zip", "zip", identifier=True)
_PHONE = Column("phone", "text", required=False, identifier=True)
_EMAIL = Column("email", "text", required=False, identifier=True)
_SSN = Column("ssn", "ssn", required=False, identifier=True)
_YEAR = Column("academic_year", "int", low=FIRST_YEAR, high=LAST_YEAR)
_TERM = Column("term", "term")
_UNITS = Column("units", "float", low=0, high=30)

RAW_TABLES = {
    (t.layout, t.name): t
    for t in (
        RawTable(
            "k12",
            "students",
            (
                _id("k12"),
                *_person(
                    Column("street_address", "text", required=False, identifier=True),
                    _ZIP,
                    _PHONE,
                ),
            ),
        ),
        RawTable(
            "k12",
            "enrollments",
            (
                _ref("k12"),
                Column("school_code", "id"),
                _YEAR,
                Column("grade_level", "int", low=0, high=12),
            ),
        ),
        RawTable(
            "k12",
            "assessments",
            (
                _ref("k12"),
                _YEAR,
                Column("subject", "code", codes=SUBJECTS),
                Column("scale_score", "int", low=100, high=999),
                Column("performance_level", "int", low=1, high=4),
            ),
        ),
        RawTable(
            "k12",
            "graduations",
            (_ref("k12"), _YEAR, Column("diploma_type", "code", codes=DIPLOMAS)),
        ),
        RawTable(
            "cc",
            "students",
            (
                _id("cc"),
                _SSN,
                Column("statewide_id", "id", required=False, identifier=True),
                *_person(_ZIP, _PHONE, _EMAIL),
            ),
        ),
        RawTable(
            "cc",
            "enrollments",
            (_ref("cc"), _TERM, Column("units_attempted", "float", low=0, high=40)),
        ),
        RawTable(
            "cc",
            "course_outcomes",
            (
                _ref("cc"),
                _TERM,
                Column("course_id", "id"),
                Column("grade", "code", codes=GRADES),
                _UNITS,
            ),
        ),
        RawTable("cc", "awards", (_ref("cc"), _TERM, Column("award_type", "code", codes=AWARDS))),
        RawTable("univ", "students", (_id("univ"), _SSN, *_person(_ZIP, _EMAIL))),
        RawTable(
            "univ",
            "admissions",
            (_ref("univ"), _TERM, Column("admit_type", "code", codes=ADMIT_TYPES)),
        ),
        RawTable(
            "univ",
            "enrollments",
            (_ref("univ"), _TERM, _UNITS, Column("term_gpa", "float", low=0, high=4)),
        ),
        RawTable("univ", "degrees", (_ref("univ"), _TERM, Column("degree", "code", codes=DEGREES))),
    )
}

# Warehouse tables: name -> ((column, SQL type), ...). Every column is NOT NULL.
WAREHOUSE_TABLES = {
    "institutions": (("institution", "TEXT"), ("name", "TEXT"), ("sector", "TEXT")),
    "students": (
        ("student_key", "TEXT"),
        ("institution", "TEXT"),
        ("birth_year", "INTEGER"),
        ("gender", "TEXT"),
        ("ethnicity", "TEXT"),
        ("zip3", "TEXT"),
    ),
    "k12_enrollments": (
        ("student_key", "TEXT"),
        ("institution", "TEXT"),
        ("school_code", "TEXT"),
        ("academic_year", "INTEGER"),
        ("grade_level", "INTEGER"),
    ),
    "k12_assessments": (
        ("student_key", "TEXT"),
        ("institution", "TEXT"),
        ("academic_year", "INTEGER"),
        ("subject", "TEXT"),
        ("scale_score", "INTEGER"),
        ("performance_level", "INTEGER"),
    ),
    "k12_graduations": (
        ("student_key", "TEXT"),
        ("institution", "TEXT"),
        ("academic_year", "INTEGER"),
        ("diploma_type", "TEXT"),
    ),
    "cc_enrollments": (
        ("student_key", "TEXT"),
        ("institution", "TEXT"),
        ("term", "TEXT"),
        ("academic_year", "INTEGER"),
        ("units_attempted", "REAL"),
    ),
    "cc_course_outcomes": (
        ("student_key", "TEXT"),
        ("institution", "TEXT"),
        ("term", "TEXT"),
        ("academic_year", "INTEGER"),
        ("course_id", "TEXT"),
        ("grade", "TEXT"),
        ("units", "REAL"),
        ("success", "INTEGER"),
    ),
    "cc_awards": (
        ("student_key", "TEXT"),
        ("institution", "TEXT"),
        ("term", "TEXT"),
        ("academic_year", "INTEGER"),
        ("award_type", "TEXT"),
    ),
    "univ_admissions": (
        ("student_key", "TEXT"),
        ("institution", "TEXT"),
        ("term", "TEXT"),
        ("academic_year", "INTEGER"),
        ("admit_type", "TEXT"),
    ),
    "univ_enrollments": (
        ("student_key", "TEXT"),
        ("institution", "TEXT"),
        ("term", "TEXT"),
        ("academic_year", "INTEGER"),
        ("units", "REAL"),
        ("term_gpa", "REAL"),
    ),
    "univ_degrees": (
        ("student_key", "TEXT"),
        ("institution", "TEXT"),
        ("term", "TEXT"),
        ("academic_year", "INTEGER"),
        ("degree", "TEXT"),
    ),
}


def warehouse_table(layout: str, raw_name: str) -> str:
    """The warehouse table a raw extract feeds: ``students`` or ``<layout>_<name>`` (every
    sector whose members send that layout)."""
    return "students" if raw_name == "students" else f"{layout}_{raw_name}"


# indexes built after the bulk load: the join key (institution has too few values to help)
INDEXED_COLUMNS = ("student_key",)
