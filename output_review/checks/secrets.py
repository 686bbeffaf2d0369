"""Credentials must never leave: hub API tokens, passwords inside URLs, private keys,
``Authorization`` headers and values labelled as a token, password or key, in any source,
output, traceback or metadata. A notebook carrying one hands a live credential to its reviewers
(``help()`` of an object holding ``os.environ`` prints the session's token)."""

import json
import re

from enclave.output_review.checks.base import OutputCheck
from enclave.output_review.texts import Text, cell_texts

HEX = "0-9a-f"
# a value that looks generated: letters and digits (and the usual token punctuation)
GENERATED_VALUE = r"(?=[A-Za-z0-9_~+/=.-]*\d)(?=[A-Za-z0-9_~+/=.-]*[A-Za-z])[A-Za-z0-9_~+/=.-]{8,}"
# every hex digit becomes "h" (and "h" something else): a run of 32 is then a substring search
HEX_CLASS = bytes.maketrans(b"0123456789abcdefh", b"h" * 16 + b".")
HEX_RUN = b"h" * 32
LABELS = ("token", "secret", "passw", "pwd", "api", "access_key")  # "api" for api_key, apikey...


def hex_run(text) -> bool:
    return HEX_RUN in text.classes(HEX_CLASS)


def words(*literals: str, assigned: bool = False):
    """A needle: any of ``literals`` in the lower-case text; ``assigned``: only where the
    text holds ":" or "=" (which every pattern so marked needs after its word)."""
    if assigned:
        return lambda text: (
            (":" in text.text or "=" in text.text) and any(word in text.lower for word in literals)
        )
    return lambda text: any(word in text.lower for word in literals)


# Each pattern behind a needle: a test at memory speed (substring searches) without which the
# pattern cannot match, so that most outputs are ruled out before any regex runs.
PATTERNS = {
    # JupyterHub's API and OAuth tokens are uuid4().hex: 32 hex digits, version nibble 4
    "a hub API token": (
        hex_run,
        rf'(?<![{HEX}])(?<!"model_id": ")[{HEX}]{{12}}4[{HEX}]{{3}}[89ab][{HEX}]{{15}}(?![{HEX}])',
    ),
    "a password inside a URL": (
        words("://", assigned=True),
        r"\b[a-z][a-z0-9+.-]*://[^\s/:@'\"<>]+:(?!\*+@|x+@|\{[^}@]*\}@|\$\{?\w+\}?@|%\(\w+\)s@|"
        r"<[^>@]*>@)[^\s/@'\"<>]+@",
    ),
    "a private key": (
        words("private key"),
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
    ),
    "an Authorization header": (
        words("authorization", assigned=True),
        rf"(?i)\bauthorization['\"]?\s*[:=]\s*['\"]?(?:token|bearer|basic|digest)\s+{GENERATED_VALUE}",
    ),
    "a value labelled as a secret": (
        words(*LABELS, assigned=True),
        r"(?i)(?:token|secret|passw(?:or)?d|pwd|api[_-]?key|access[_-]?key)['\"]?\s*[:=]\s*"
        rf"['\"]?{GENERATED_VALUE}",
    ),
}
PATTERNS = {what: (needle, re.compile(full)) for what, (needle, full) in PATTERNS.items()}


def found(text) -> list[str]:
    """What ``text`` (a texts.Text) contains."""
    return [
        what for what, (needle, full) in PATTERNS.items() if needle(text) and full.search(text.text)
    ]


class Secrets(OutputCheck):
    rule = "secret"
    advice = (
        "remove it from the notebook (clear the output, delete it from the code) and, if it "
        "was a live credential, sign out and start a new session so that it is revoked"
    )

    def report_found(self, text, resources, cell, output, where: str) -> None:
        for what in found(text):  # the finding never quotes the value
            self.flag(resources, cell, output, "block", f"{where} contains {what}")

    def preprocess_cell(self, cell, resources, index):
        for text in cell_texts(cell):
            self.report_found(text, resources, index, text.output, f"the {text.kind}")
        return cell, resources

    def check_notebook(self, nb, resources):
        metadata = Text(None, "metadata", json.dumps(nb.metadata))
        self.report_found(metadata, resources, None, None, "the notebook metadata")
