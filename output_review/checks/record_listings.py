"""Record-level listings: a table of individual students' rows (``df.head()`` of a
student-level table, a query's rows, ``print(df.to_string())``) needs review; with an
identifier column it is blocked. Whatever its columns are called: a listing of anyone's rows
is one, and a long one printed as text is the whole of a data set."""

from traitlets import Int, Unicode

from enclave.output_review.checks.base import OutputCheck, described, uncovered
from enclave.output_review.person_names import is_person_name
from enclave.output_review.tables import MISSING, find_tables, may_list_rows
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
        r"\w*_key|ssn|e-?mail|phone|address|dob|birth_?date|date_of_birth",
        help="Regex (full match, any case) of column labels that identify one student.",
    ).tag(config=True)

    name_columns = Unicode(
        r"(?:first|last|student|full|given|family)_?name|name|surname",
        help="""Regex (full match, any case) of column labels holding names: an identifier
        column when its values are person names (not a Pokémon's or a city's).""",
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
        2,
        min=1,
        help="How many quasi-identifier columns, with no aggregate column, make a listing.",
    ).tag(config=True)

    min_listing_columns = Int(
        3,
        min=1,
        help="""How many columns a table of rows listed by position (not keyed by groups)
        needs to be a listing whatever its columns are called.""",
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for text in cell_texts(cell):
            if text.output is None or described(resources, text.output):
                continue
            body = uncovered(resources, text)
            if not may_list_rows(text.kind, body):
                continue  # no row numbers: rows labelled by groups, or no table
            for table in find_tables(text.kind, body):
                self.check_table(table, resources, index, text.output, f"the {text.kind}")
        return cell, resources

    def check_table(self, table, resources, cell, output, where) -> None:
        labels = [label.strip() for label in table.labels]
        if not table.rows or any(self.matches("aggregates", x) for x in labels):
            return
        if not all(self.matches("record_index", x) for x in table.index):
            return  # rows labelled by groups or statistics are aggregates, not students
        if table.keys and not self.identifier_columns(table, labels):
            return  # one row per group, listed by position: an aggregate
        identifying = self.identifier_columns(table, labels)
        quasi = [x for x in labels if self.matches("quasi_identifiers", x)]
        if identifying:
            self.report(
                resources,
                cell,
                output,
                "block",
                f"{where} lists individual records with identifier column "
                f"{identifying[0][:20]!r}; release aggregates only.",
                fix="remove",
            )
        elif len(quasi) >= self.min_quasi_identifiers or self.lists_rows(table, labels):
            described_by = f" ({', '.join(quasi[:4])})" if quasi else ""
            self.report(
                resources,
                cell,
                output,
                "review",
                f"{where} looks like a listing of individual records{described_by}; a "
                "reviewer must confirm it is aggregated, or remove it.",
                fix="remove",
            )

    def identifier_columns(self, table, labels) -> list[str]:
        found = [x for x in labels if self.matches("identifiers", x)]
        return found + [
            x
            for j, x in enumerate(labels)
            if self.matches("name_columns", x)
            and any(is_person_name(v) for v in table.column(j) if v not in MISSING)
        ]

    def lists_rows(self, table, labels) -> bool:
        """Rows by position, enough columns, and not one row per group (a keyed table)."""
        return len(labels) >= self.min_listing_columns and table.positional
