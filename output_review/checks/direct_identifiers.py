"""Direct identifiers: SSNs, e-mail addresses, US phone numbers, street addresses, and full
dates of birth or person names in fields named for them."""

import json
import re

from traitlets import Unicode

from output_review.checks.base import OutputCheck
from output_review.tables import find_tables
from output_review.texts import cell_texts

# USPS street suffixes most often seen in US addresses (and in Faker's en_US ones).
SUFFIXES = (
    "Alley|Avenue|Ave|Bend|Boulevard|Blvd|Branch|Bridge|Brooks?|Burgs?|Bypass|Camp|Canyon|Cape|"
    "Causeway|Centers?|Circles?|Cir|Cliffs?|Club|Common|Corners?|Course|Courts?|Ct|Coves?|Creek|"
    "Crescent|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drives?|Dr|Estates?|Expressway|"
    "Extensions?|Falls?|Ferry|"
    "Fields?|Flats?|Fords?|Forest|Forges?|Forks?|Fort|Freeway|Gardens?|Gateway|Glens?|Greens?|"
    "Groves?|Harbors?|Haven|Heights|Highway|Hwy|Hills?|Hollow|Inlet|Islands?|Isle|Junctions?|"
    "Keys?|Knolls?|Lakes?|Land|Landing|Lane|Ln|Lights?|Loaf|Locks?|Lodge|Loop|Mall|Manors?|"
    "Meadows?|Mews|Mills?|Mission|Motorway|Mount|Mountains?|Neck|Orchard|Oval|Overpass|Parks?|"
    "Parkways?|Pkwy|Pass|Passage|Path|Pike|Pines?|Place|Pl|Plains?|Plaza|Points?|Ports?|"
    "Prairie|Radial|Ramp|Ranch|Rapids?|Rest|Ridges?|River|Road|Rd|Roads|Route|Row|Rue|Run|"
    "Shoals?|Shores?|Skyway|Springs?|Spurs?|Squares?|Station|Stravenue|Stream|Street|St|"
    "Streets|Summit|Terrace|Throughway|Trace|Track|Trafficway|Trail|Tunnel|Turnpike|"
    "Underpass|Unions?|Valleys?|Via|Viaduct|Views?|Villages?|Ville|Vista|Walks?|Wall|Ways?|Wells?"
)
PATTERNS = {
    "a social security number": re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"),
    "an e-mail address": re.compile(
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    ),
    "a US phone number": re.compile(
        r"(?<![\d-])(?:\+?1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\d-])"
    ),
    "a street address": re.compile(
        rf"(?<![\w-])\d{{1,6}}(?: [A-Z][a-z]+){{1,4}} (?:{SUFFIXES})\b\.?(?!\w)"
    ),
}
# Cheap substrings without which a pattern cannot match: skips most of a large output.
NEEDS = {
    "a social security number": "-",
    "an e-mail address": "@",
    "a US phone number": None,
    "a street address": " ",
}
DATE = r"(?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}|[A-Z][a-z]+ \d{1,2}, \d{4})"
PERSON_NAME = re.compile(r"[A-Z][a-z'’-]+(?: [A-Z]\.?| [A-Z][a-z'’-]+){0,3}")


class DirectIdentifiers(OutputCheck):
    rule = "direct-identifier"

    birth_date_fields = Unicode(
        r"dob|birth_?date|date_?of_?birth|birthdate|birthday",
        help="Regex (full match, any case) of field names holding dates of birth.",
    ).tag(config=True)

    name_fields = Unicode(
        r"(?:first|last|middle|given|family|full|student|parent|guardian)_?name|surname|name",
        help="Regex (full match, any case) of field names holding person names.",
    ).tag(config=True)

    organization_words = Unicode(
        r"College|University|District|School|Unified|Academy|Institute|County|High|Community|"
        r"Center|Program|Department|Campus|Consortium",
        help="Words that make a value in a name field an organisation, not a person.",
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for text in cell_texts(cell):
            where = f"the {text.kind}"
            for what, pattern in PATTERNS.items():
                needed = NEEDS[what]
                if (needed is None or needed in text.text) and pattern.search(text.text):
                    self.block(resources, index, text.output, f"{where} contains {what}")
            if text.kind == "source" and cell.cell_type == "code":
                continue  # code names fields; the field rules apply to what is shown
            self.check_fields(text.text, resources, index, text.output, where)
            kind = "markdown" if text.kind == "source" else text.kind
            for table in find_tables(kind, text.text):
                self.check_table(table, resources, index, text.output, where)
        return cell, resources

    def check_notebook(self, nb, resources):
        text = json.dumps(nb.metadata)
        for what, pattern in PATTERNS.items():
            if pattern.search(text):
                self.block(resources, None, None, f"the notebook metadata contains {what}")

    def block(self, resources, cell, output, what: str) -> None:
        self.report(
            resources, cell, output, "block", f"{what}; remove direct identifiers before release."
        )

    def field_pattern(self, fields: str, value: str) -> re.Pattern:
        """``field: value`` as printed dicts, JSON, reprs and prose write it."""
        return re.compile(
            rf"(?i)(?<![A-Za-z])(?:{fields})['\"]?\s*[:=]\s*['\"]?(?P<value>(?-i:{value}))"
        )

    def check_fields(self, text, resources, cell, output, where) -> None:
        if ":" not in text and "=" not in text:
            return
        if self.field_pattern(self.birth_date_fields, DATE).search(text):
            self.block(resources, cell, output, f"{where} shows a date of birth")
        names = self.field_pattern(self.name_fields, PERSON_NAME.pattern).finditer(text)
        if any(self.is_person_name(match["value"]) for match in names):
            self.block(resources, cell, output, f"{where} shows a person's name")

    def is_person_name(self, value: str) -> bool:
        return bool(PERSON_NAME.fullmatch(value)) and not re.search(
            rf"\b(?:{self.organization_words})\b", value
        )

    def check_table(self, table, resources, cell, output, where) -> None:
        for label, column in zip(table.labels, table.columns, strict=True):
            values = [v for v in column if v]
            if not values:
                continue
            if re.fullmatch(self.birth_date_fields, label, re.I) and any(
                re.fullmatch(DATE, v) for v in values
            ):
                self.block(resources, cell, output, f"{where} has a date-of-birth column")
            if re.fullmatch(self.name_fields, label, re.I) and any(
                map(self.is_person_name, values)
            ):
                self.block(resources, cell, output, f"{where} has a person-name column")
