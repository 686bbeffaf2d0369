"""A 40-member consortium with a sector the code never named (adult schools), as a deployment
writes it in ``jupyterhub_config.py``."""

SECTORS = {
    "k12": {"name": "K-12 school districts", "extracts": "k12"},
    "cc": {"name": "Community colleges", "extracts": "cc"},
    "adult": {"name": "Adult schools", "extracts": "cc"},
    "univ": {"name": "Universities", "extracts": "univ"},
}
PLACES = [
    "Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Ginkgo", "Hazel", "Ironwood", "Juniper",
    "Kapok", "Larch", "Maple", "Nutmeg", "Oak", "Pine", "Quince", "Redwood", "Spruce", "Tamarack",
]  # fmt: skip
KINDS = [  # (sector, code prefix, first number, how many, name)
    ("k12", "K12", 1, 20, "{} Unified School District"),
    ("cc", "CC", 101, 10, "{} Community College"),
    ("adult", "ADULT", 301, 5, "{} Adult School"),
    ("univ", "UNI", 201, 5, "{} State University"),
]
INSTITUTIONS = {
    f"{prefix}-{first + i:03d}": {"name": name.format(PLACES[i]), "sector": sector}
    for sector, prefix, first, count, name in KINDS
    for i in range(count)
}
# one adult school names its own stewards' group, one sets stricter disclosure rules
INSTITUTIONS["ADULT-302"]["steward_group"] = "birch-adult-data-office"
INSTITUTIONS["ADULT-303"]["disclosure"] = {"min_count": 25}
ADULT_SCHOOLS = [code for code in INSTITUTIONS if code.startswith("ADULT-")]


def config_lines() -> str:
    """The lines a ``jupyterhub_config.py`` gets: nothing else configures the consortium."""
    return f"c.Consortium.sectors = {SECTORS!r}\nc.Consortium.institutions = {INSTITUTIONS!r}\n"
