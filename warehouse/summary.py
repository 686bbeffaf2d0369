"""The tables ``load`` and ``check`` print: counts only, never values."""

from enclave.warehouse.load import LoadResult
from enclave.warehouse.validate import Extract


def _table(header: list[str], rows: list[list], right_from: int = 1) -> list[str]:
    cells = [header] + [[f"{v:,}" if isinstance(v, int) else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return [
        "  ".join(
            c.rjust(w) if i >= right_from else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in cells
    ]


def format_files(extracts: list[Extract], accepted: str = "loaded") -> list[str]:
    """Per file: read = accepted + rejected + duplicates, and the totals."""
    files = [[ex.path, ex.read, len(ex.rows), len(ex.rejected), ex.duplicates] for ex in extracts]
    totals = ["total", *(sum(r[i] for r in files) for i in range(1, 5))]
    return _table(["file", "read", accepted, "rejected", "duplicates"], files + [totals])


def format_summary(result: LoadResult) -> str:
    lines = format_files(result.extracts)
    rejected = sum(len(ex.rejected) for ex in result.extracts)
    if result.link:
        s = result.link
        amb = ", ".join(f"{rule} {n:,}" for rule, n in s.ambiguous.items())
        lines += [
            "",
            f"linkage: {s.records:,} student records -> {s.people:,} people; ambiguous "
            f"matches not linked: {sum(s.ambiguous.values()):,} ({amb})",
        ]
        lines += _table(
            ["institution pair", "people at both", "share of first", "share of second"],
            [[f"{a} ~ {b}", n, f"{ra:.1%}", f"{rb:.1%}"] for a, b, n, ra, rb in s.pairs],
        )
    lines += [""] + _table(["warehouse table", "rows"], [[k, v] for k, v in result.tables.items()])
    rate = result.rows_read / result.seconds if result.seconds else 0
    lines += [
        "",
        f"loaded {sum(result.tables.values()):,} rows from {result.rows_read:,} read in "
        f"{result.seconds:.1f} s ({rate:,.0f} rows/s) into {result.target}",
        f"quarantine report: {result.quarantine} ({rejected:,} rows)",
    ]
    return "\n".join(lines)
