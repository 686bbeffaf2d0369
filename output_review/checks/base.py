"""The base of every check: a small class with nbconvert's preprocessor interface that is on
unless turned off.

nbconvert's preprocessors are off by default; a safety gate must be the opposite. A check
reports through ``resources["enclave_findings"]`` and never changes the notebook. It has the
interface of ``nbconvert.preprocessors.Preprocessor`` (``preprocess``, ``preprocess_cell``,
callable on ``(nb, resources)``) without importing nbconvert, whose import alone costs the
``enclave review check`` command more than a second.
"""

import re

from traitlets import Bool
from traitlets.config import LoggingConfigurable

from enclave.output_review.findings import Finding

FINDINGS = "enclave_findings"
STRUCTURES = "enclave_structures"  # output index -> trusted Structure, for the current cell
POLICY = "enclave_policy"  # a policy.PolicyResolver
PRINTED = "enclave_printed"  # stream output index -> [Structure] of what the cell printed
INSTITUTIONS = "enclave_institutions"  # the notebook's lineage, when the caller knows it


def uncovered(resources, text) -> str:
    """``text`` (a Text) less the parts the kernel described (printed pandas results): the
    text heuristics for tables read only the rest."""
    printed = resources.get(PRINTED, {}).get(text.output) if text.kind == "stdout" else None
    spans = sorted(s.printed_in[1:] for s in printed or () if s.fully_described)
    if not spans:
        return text.text
    parts, at = [], 0
    for start, end in spans:
        parts.append(text.text[at:start])
        at = max(at, end)
    parts.append(text.text[at:])
    return "\n".join(parts)


def described(resources, output) -> bool:
    """Whether the output's structured data says what every value it shows is; then the
    exact checks judge it and the text heuristics for tables leave it alone."""
    structure = resources.get(STRUCTURES, {}).get(output)
    return structure is not None and structure.fully_described


class OutputCheck(LoggingConfigurable):
    """Subclass, set ``rule``, and implement ``preprocess_cell`` and/or ``check_notebook``.

    Third-party checks register under the entry-point group ``enclave.output_checks``.
    """

    rule = "unnamed-check"
    advice = ""  # what a researcher can do about a finding, appended by ``flag``
    fix = ""  # the finding's fix (findings.FIXES) unless a report names its own

    enabled = Bool(
        True,
        help="""Whether this check runs. Every check is on unless a deployment turns it off,
        e.g. ``c.Images.enabled = False``; a gate with no enabled check refuses to run.""",
    ).tag(config=True)

    def report(
        self, resources, cell, output, severity: str, message: str, rule=None, fix=None
    ) -> None:
        resources.setdefault(FINDINGS, []).append(
            Finding(
                cell,
                output,
                rule or self.rule,
                severity,
                message,
                fix=self.fix if fix is None else fix,
            )
        )

    def flag(self, resources, cell, output, severity: str, what: str) -> None:
        """Report ``what`` was found, followed by the check's ``advice``."""
        self.report(resources, cell, output, severity, f"{what}; {self.advice}")

    def matches(self, setting: str, text: str) -> bool:
        """Whether ``text`` fully matches the regex-valued setting (any case); each setting
        is compiled once, on first use, since checks test thousands of labels."""
        cache = self.__dict__.setdefault("_compiled", {})
        if setting not in cache:
            cache[setting] = re.compile(getattr(self, setting), re.I).fullmatch
        return cache[setting](text.strip()) is not None

    def check_notebook(self, nb, resources) -> None:
        """Notebook-level screening (metadata); findings have ``cell=None``."""

    def preprocess_cell(self, cell, resources, index):
        return cell, resources

    def preprocess(self, nb, resources):
        """Standalone use in an nbconvert pipeline; the Gate drives cells itself."""
        self.check_notebook(nb, resources)
        for index, cell in enumerate(nb["cells"]):
            self.preprocess_cell(cell, resources, index)
        return nb, resources

    def __call__(self, nb, resources):
        return self.preprocess(nb, resources) if self.enabled else (nb, resources)
