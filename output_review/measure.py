"""Precision and recall of the gate on a labelled notebook: each cell's output labelled (in
``metadata.enclave_label``) with the verdict and the rules the policy gives it."""

from collections import Counter
from dataclasses import dataclass, field

from enclave.output_review.findings import worst


@dataclass
class Measure:
    outputs: int = 0
    verdicts: Counter = field(default_factory=Counter)  # (label, gate) -> outputs
    found: Counter = field(default_factory=Counter)  # rule -> outputs the gate reported it on
    labelled: Counter = field(default_factory=Counter)  # rule -> outputs labelled with it
    agreed: Counter = field(default_factory=Counter)  # rule -> outputs with both
    missed: list = field(default_factory=list)  # (case id, label, gate, rules) of block misses
    wrong: dict = field(default_factory=dict)  # rule -> [case ids] where it fired unlabelled

    def precision(self, rule: str) -> float:
        return self.agreed[rule] / self.found[rule] if self.found[rule] else float("nan")

    def recall(self, rule: str) -> float:
        return self.agreed[rule] / self.labelled[rule] if self.labelled[rule] else float("nan")

    @property
    def block_recall(self) -> float:
        blocks = sum(n for (label, _), n in self.verdicts.items() if label == "block")
        caught = self.verdicts["block", "block"]
        return caught / blocks if blocks else float("nan")

    @property
    def rules(self) -> list[str]:
        return sorted(set(self.found) | set(self.labelled))


def measure(nb, report) -> Measure:
    m = Measure()
    for index, cell in enumerate(nb["cells"]):
        label = cell.get("metadata", {}).get("enclave_label")
        if not label or label["id"] == "setup":
            continue
        findings = [f for f in report.findings if f.cell == index]
        gate = worst(f.severity for f in findings)
        rules = {f.rule for f in findings}
        expected = set(label["rules"])
        m.outputs += 1
        m.verdicts[label["verdict"], gate] += 1
        for rule in rules:
            m.found[rule] += 1
            if rule not in expected:
                m.wrong.setdefault(rule, []).append(label["id"])
        for rule in expected:
            m.labelled[rule] += 1
            m.agreed[rule] += rule in rules
        if label["verdict"] == "block" and gate != "block":
            m.missed.append((label["id"], label["verdict"], gate, sorted(rules)))
    return m
