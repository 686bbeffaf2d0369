"""Is this text a person's name? Given names from the US Census 1990 lists (5,163 names; the
``names`` package ships them, public-domain data), read once on first use.

A person's name is a given name followed by more name-like words ("Ada Lovelace", "Grace B.
Hopper"), or a family name, a comma and a given name ("Braund, Mr. Owen Harris"), titles
allowed. A single word is a name only where the field says it holds given names. So a Pokémon
("Bulbasaur", "Mr. Mime"), a city ("San Francisco", "Paris") or a column name ("Gender") is
not one.
"""

import re
from functools import cache

TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev", "sir", "master", "don", "dona"}
NOT_SURNAMES = (
    "College|University|District|School|Unified|Academy|Institute|County|High|Community|"
    "Center|Centre|Program|Department|Campus|Consortium|City|Town|Village|Heights|Park|Beach|"
    "Springs|Falls|Valley|Hills?|Lake|River|Station|Island|Bay|Creek|Harbor|Port|Street|Avenue|"
    "Road|Award|Prize|Foundation|Hall|Library|Hospital|Church|Fund|Group|Inc|LLC|Ltd|Team"
)
WORD = re.compile(r"[A-Z][a-zà-ÿ'’-]+|[A-Z]\.")
NOT_SURNAME = re.compile(rf"(?:{NOT_SURNAMES})\b")


@cache
def given_names() -> frozenset[str]:
    from importlib.resources import files

    folder = files("names")
    found = set()
    for name in ("dist.male.first", "dist.female.first"):
        text = folder.joinpath(name).read_text(encoding="ascii")
        found.update(line.split(maxsplit=1)[0] for line in text.splitlines() if line.strip())
    return frozenset(found)


def words(text: str) -> list[str] | None:
    """The words of ``text`` without titles, if it is only capitalised words and initials."""
    parts = [p for p in re.split(r"\s+", text.strip()) if p]
    out = []
    for part in parts:
        bare = part.rstrip(".").lower()
        if bare in TITLES:
            continue
        if not WORD.fullmatch(part):
            return None
        out.append(part)
    return out


def is_given_name(word: str) -> bool:
    return word.rstrip(".").upper() in given_names()


def is_person_name(text: str, given_name_field: bool = False) -> bool:
    """Whether ``text`` (a label or a field's value) is a person's name."""
    text = text.strip().strip("'\"")
    if not text or len(text) > 80 or not text[:1].isupper():
        return False
    if "," in text:  # "Lovelace, Ada" / "Braund, Mr. Owen Harris"
        family, _, given = text.partition(",")
        family_words, given_words = words(family), words(given)
        return bool(
            family_words
            and given_words
            and len(family_words) <= 3
            and is_given_name(given_words[0])
            and not NOT_SURNAME.search(family)
        )
    found = words(text)
    if not found:
        return False
    if len(found) == 1:
        return given_name_field and is_given_name(found[0])
    if len(found) > 4 or NOT_SURNAME.search(" ".join(found[1:])):
        return False
    return is_given_name(found[0]) and not found[-1].endswith(".")
