"""Helpers shared by the report tests."""


def filed(output):
    """Notebooks in the output area (scratch space excluded)."""
    return sorted(p for p in output.rglob("*.ipynb") if ".report-runs" not in p.parts)
