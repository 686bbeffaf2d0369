"""What the gate says about a notebook: findings and the report that collects them."""

from dataclasses import asdict, dataclass, field

# A verdict is the worst severity found; "pass" is what remains when nothing was found.
SEVERITY_RANK = {"pass": 0, "review": 1, "block": 2}
# What a researcher can do about a finding (review pages offer these as the fix).
FIXES = ("suppress", "round", "combine categories", "add the count of records", "remove", "")


def worst(severities) -> str:
    return max(severities, key=SEVERITY_RANK.__getitem__, default="pass")


@dataclass(frozen=True)
class Finding:
    """One problem: ``cell``/``output`` are 0-based indices, ``None`` for notebook/cell level.

    ``execution_count`` is the cell's prompt number (``In [5]``; None if never run), filled in
    by the gate; ``fix`` is one of ``FIXES`` ("" when a person must decide)."""

    cell: int | None
    output: int | None
    rule: str
    severity: str
    message: str
    execution_count: int | None = None
    fix: str = ""

    def __post_init__(self):
        if self.severity not in ("review", "block"):
            raise ValueError(f"severity must be 'review' or 'block', not {self.severity!r}")
        if self.fix not in FIXES:
            raise ValueError(f"fix must be one of {FIXES}, not {self.fix!r}")

    @property
    def place(self) -> str:
        """Where JupyterLab shows it: ``cell 4 [5]`` (4th cell, prompt 5), ``cell 2 [ ]``."""
        if self.cell is None:
            return "notebook"
        prompt = " " if self.execution_count is None else self.execution_count
        return f"cell {self.cell + 1} [{prompt}]"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GateReport:
    notebook: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return worst(f.severity for f in self.findings)

    def for_output(self, cell: int | None, output: int | None) -> list[Finding]:
        return [f for f in self.findings if f.cell == cell and f.output == output]

    def to_dict(self) -> dict:
        return {
            "notebook": self.notebook,
            "verdict": self.verdict,
            "findings": [f.to_dict() for f in self.findings],
        }
