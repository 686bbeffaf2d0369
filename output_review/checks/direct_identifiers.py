"""Direct identifiers: SSNs, e-mail addresses, US phone numbers, street addresses, full dates
of birth in fields named for them, and person names in name fields or as a table's row or
column labels (``person_names.py``: a given name and a family name, so a Pokémon, a city or
pandas' own ``Name: gender`` footer is not one)."""

import json
import re

from traitlets import List, Unicode

from enclave.output_review.checks.base import OutputCheck
from enclave.output_review.person_names import is_person_name
from enclave.output_review.tables import SERIES_FOOTER, find_tables
from enclave.output_review.texts import cell_texts

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
# Each pattern behind a needle: a cheap regex with a literal or rare start, without a match
# of which the pattern cannot match. Most outputs are ruled out at memory speed.
PATTERNS = {
    "a social security number": (r"-\d\d-\d{4}", r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"),
    "an e-mail address": (
        r"@",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    ),
    "a US phone number": (
        # two needles, each with a literal first character (searched at memory speed)
        (r"-\d{4}(?!\d)", r"\.\d{3}\.\d{4}"),
        r"(?<![\d.-])(?:\+?1[ .-])?(?:\(\d{3}\) ?|\d{3}[.-])\d{3}[.-]\d{4}(?![\d.-])",
    ),
    "a street address": (
        # a capitalised word and another: NAME_LIKE below, searched once for both rules
        None,
        rf"(?<![\w-])\d{{1,6}}(?: [A-Z][a-z]+){{1,4}} (?:{SUFFIXES})\b\.?(?!\w)",
    ),
}
PATTERNS = {
    what: (
        None
        if needle is None
        else tuple(map(re.compile, needle if isinstance(needle, tuple) else (needle,))),
        re.compile(full),
    )
    for what, (needle, full) in PATTERNS.items()
}
# a capitalised word, then (after a comma) a capitalised word: what a person's name needs
NAME_LIKE = re.compile(r"[A-Z][a-z'’-]+,? [A-Z]")
# In the text's bytes with capitals as "A" and the rest of a word as "a" (any byte of a
# non-ASCII character too: more than "’"), a match of NAME_LIKE holds "a A" or "a, A": two
# substring searches at memory speed where NAME_LIKE tests every character. Only texts that
# hold one are searched with NAME_LIKE.
WORD_CLASSES = bytes.maketrans(
    bytes(range(65, 91)) + bytes(range(97, 123)) + b"'-" + bytes(range(128, 256)),
    b"A" * 26 + b"a" * (26 + 2 + 128),
)


def name_like(text) -> bool:
    """Whether NAME_LIKE matches ``text`` (a texts.Text)."""
    classes = text.classes(WORD_CLASSES)
    return (b"a A" in classes or b"a, A" in classes) and bool(NAME_LIKE.search(text.text))


DATE = r"(?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}|[A-Z][a-z]+ \d{1,2}, \d{4})"
# a field's value: capitalised words and initials, or "Family, Title Given" (checked further)
PERSON_NAME = re.compile(r"[A-Z][a-z'’-]+(?:,? (?:[A-Z][a-z'’-]+\.?|[A-Z]\.)){0,4}(?![\w])")


def found(text: str, name_like: bool | None = None) -> list[str]:
    """What ``text`` contains; ``name_like``: whether NAME_LIKE matches it, if known."""
    if name_like is None:
        name_like = bool(NAME_LIKE.search(text))
    return [
        what
        for what, (needles, full) in PATTERNS.items()
        if (name_like if needles is None else any(n.search(text) for n in needles))
        and full.search(text)
    ]


class DirectIdentifiers(OutputCheck):
    rule = "direct-identifier"
    advice = "remove direct identifiers before release."

    birth_date_fields = Unicode(
        r"dob|birth_?date|date_?of_?birth|birthdate|birthday",
        help="Regex (full match, any case) of field names holding dates of birth.",
    ).tag(config=True)

    name_fields = Unicode(
        r"(?:first|last|middle|given|family|full|student|parent|guardian)_?name|surname|name",
        help="Regex (full match, any case) of field names holding person names.",
    ).tag(config=True)

    given_name_fields = Unicode(
        r"(?:first|given|middle|fore)_?name|forename",
        help="""Regex (full match, any case) of field names holding given names alone: there a
        single given name ("Ada") is a person's name; elsewhere a name needs two words.""",
    ).tag(config=True)

    field_words = List(
        Unicode(),
        ["name", "dob", "birth"],
        help="""Lower-case words every birth-date or name field contains; text without any
        is not searched for fields. Extend it when adding fields without these words.""",
    ).tag(config=True)

    organization_words = Unicode(
        r"College|University|District|School|Unified|Academy|Institute|County|High|Community|"
        r"Center|Program|Department|Campus|Consortium",
        help="Words that make a value in a name field an organisation, not a person.",
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for text in cell_texts(cell):
            where = f"the {text.kind}"
            named = name_like(text)
            for what in found(text.text, named):
                self.flag(resources, index, text.output, "block", f"{where} contains {what}")
            if text.kind == "source" and cell.cell_type == "code":
                continue  # code names fields; the field rules apply to what is shown
            fields = self.mentions_fields(text.lower)
            if fields:
                self.check_fields(text.text, resources, index, text.output, where)
            if not fields and not named:
                continue  # no field to read, and nothing shaped like a person's name
            kind = "markdown" if text.kind == "source" else text.kind
            for table in find_tables(kind, text.text):
                self.check_table(table, resources, index, text.output, where, fields)
        return cell, resources

    def check_notebook(self, nb, resources):
        for what in found(json.dumps(nb.metadata)):
            self.flag(resources, None, None, "block", f"the notebook metadata contains {what}")

    def mentions_fields(self, low: str) -> bool:
        """Without one of ``field_words`` (in ``low``, the text in lower case) the field
        rules cannot fire (a cheap first test)."""
        return any(word in low for word in self.field_words)

    def field_pattern(self, fields: str, value: str) -> re.Pattern:
        """``field: value`` as printed dicts, JSON, reprs and prose write it."""
        return re.compile(
            rf"(?i)(?<![A-Za-z])(?:{fields})['\"]?\s*[:=]\s*['\"]?(?P<value>(?-i:{value}))"
        )

    def check_fields(self, text, resources, cell, output, where) -> None:
        if ":" not in text and "=" not in text:
            return
        if self.field_pattern(self.birth_date_fields, DATE).search(text):
            self.flag(resources, cell, output, "block", f"{where} shows a date of birth")
        if "Name: " in text:  # pandas' Series footer names the Series, not a person
            text = "\n".join(
                line for line in text.split("\n") if not SERIES_FOOTER.match(line.strip())
            )
        fields = f"(?P<field>{self.name_fields})"
        names = self.field_pattern(fields, PERSON_NAME.pattern).finditer(text)
        if any(self.is_person_name(m["value"], m["field"]) for m in names):
            self.flag(resources, cell, output, "block", f"{where} shows a person's name")

    def is_person_name(self, value: str, field: str = "name") -> bool:
        return is_person_name(value, self.matches("given_name_fields", field)) and not re.search(
            rf"\b(?:{self.organization_words})\b", value
        )

    def check_table(self, table, resources, cell, output, where, fields=True) -> None:
        for j, label in enumerate(table.labels if fields else ()):
            if self.matches("birth_date_fields", label) and any(
                re.fullmatch(DATE, v) for v in table.column(j)
            ):
                self.flag(resources, cell, output, "block", f"{where} has a date-of-birth column")
            elif self.matches("name_fields", label) and any(
                self.is_person_name(v, label) for v in table.column(j)
            ):
                self.flag(resources, cell, output, "block", f"{where} has a person-name column")
        labels = [*table.labels, *table.index]
        if any(self.is_person_name(label) for label in labels if label[:1].isupper()):
            self.flag(resources, cell, output, "block", f"{where} labels rows or columns by name")
