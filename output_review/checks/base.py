"""The base of every check: an nbconvert Preprocessor that is on unless turned off.

nbconvert's preprocessors are off by default; a safety gate must be the opposite. A check
reports through ``resources["enclave_findings"]`` and never changes the notebook.
"""

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from enclave.output_review.findings import Finding

FINDINGS = "enclave_findings"


class OutputCheck(Preprocessor):
    """Subclass, set ``rule``, and implement ``preprocess_cell`` and/or ``check_notebook``.

    Third-party checks register under the entry-point group ``enclave.output_checks``.
    """

    rule = "unnamed-check"
    advice = ""  # what a researcher can do about a finding, appended by ``flag``

    enabled = Bool(
        True,
        help="""Whether this check runs. Every check is on unless a deployment turns it off,
        e.g. ``c.Images.enabled = False``; a gate with no enabled check refuses to run.""",
    ).tag(config=True)

    def report(self, resources, cell, output, severity: str, message: str) -> None:
        resources.setdefault(FINDINGS, []).append(
            Finding(cell, output, self.rule, severity, message)
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
        for index, cell in enumerate(nb.cells):
            self.preprocess_cell(cell, resources, index)
        return nb, resources
