"""The consortium's member institutions: every part reads them from here."""

# Stable institution codes; the names are fictional.
INSTITUTIONS = {
    "K12-001": ("Harbor Valley Unified School District", "k12"),
    "K12-002": ("Mesa Ridge Unified School District", "k12"),
    "CC-101": ("Bayline Community College", "cc"),
    "CC-102": ("Sierra Foothill Community College", "cc"),
    "UNI-201": ("Pacific Coast State University", "univ"),
}
