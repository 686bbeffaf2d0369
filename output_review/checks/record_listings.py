"""Record-level listings: a table of individual students' attributes (``df.head()`` of a
student-level table) needs review; with an identifier column it is blocked."""

from traitlets import Int, Unicode

from enclave.output_review.checks.base import OutputCheck
from enclave.output_review.tables import find_tables
from enclave.output_review.texts import cell_texts


class RecordListings(OutputCheck):
    rule = "record-listing"

    quasi_identifiers = Unicode(
        r"birth_year|gender|sex|ethnicity|race|zip3?|zip_code|school|school_code|grade_level|"
        r"term|academic_year|gpa|term_gpa|units|units_attempted|scale_score|performance_level|"
        r"diploma_type|award_type|admit_type|degree|course_id|grade|subject|age",
        help="Regex (full match, any case) of column labels that describe one student.",
    ).tag(config=True)

    identifiers = Unicode(
        r"\w*_key|ssn|e-?mail|phone|address|dob|birth_?date|date_of_birth|"
        r"(?:first|last|student|full)_?name|name",
        help="Regex (full match, any case) of column labels that identify one student.",
    ).tag(config=True)

    aggregates = Unicode(
        r"n|count\w*|\w*_count|size|total|sum|students|n_\w+|num_\w+|mean\w*|avg\w*|median\w*|"
        r"std\w*|pct\w*|percent\w*|\w*_rate|share\w*|all",
        help="Regex (full match, any case) of column labels that show a table is aggregated.",
    ).tag(config=True)

    record_index = Unicode(
        r"\d*|\w+_[0-9a-z]{26}",
        help="""Regex (full match) of the row labels of a listing: pandas' row numbers or keys.
        Tables whose rows are labelled by groups or statistics are aggregates.""",
    ).tag(config=True)

    min_quasi_identifiers = Int(
        2, help="How many quasi-identifier columns, with no aggregate column, make a listing."
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for text in cell_texts(cell):
            if text.output is None:
                continue
            for table in find_tables(text.kind, text.text):
                self.check_table(table, resources, index, text.output, f"the {text.kind}")
        return cell, resources

    def check_table(self, table, resources, cell, output, where) -> None:
        labels = [label.strip() for label in table.labels]
        if not table.rows or any(self.matches("aggregates", x) for x in labels):
            return
        quasi = [x for x in labels if self.matches("quasi_identifiers", x)]
        identifying = [x for x in labels if self.matches("identifiers", x)]
        if not identifying and len(quasi) < self.min_quasi_identifiers:
            return
        if not all(self.matches("record_index", x) for x in table.index):
            return  # rows labelled by groups or statistics are aggregates, not students
        if identifying:
            self.report(
                resources,
                cell,
                output,
                "block",
                f"{where} lists individual records with identifier column "
                f"{identifying[0][:20]!r}; release aggregates only.",
            )
        elif len(quasi) >= self.min_quasi_identifiers:
            self.report(
                resources,
                cell,
                output,
                "review",
                f"{where} looks like a listing of individual students ({', '.join(quasi[:4])}); "
                "a reviewer must confirm it is aggregated or remove it.",
            )
