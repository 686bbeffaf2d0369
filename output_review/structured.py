"""The structured form of a table the Enclave kernel attaches to each output, and how the gate
decides whether to trust it.

Mimetype ``application/vnd.enclave.table+json``, schema version 1 (documented in README.md).
A structure is trusted only when it is well formed, of a known version, sits in an executed
code cell's ``execute_result`` or ``display_data`` beside the text it was made with (the
digests match), and every number it claims is one the text shows. Otherwise the gate reads
the text and says why it did not trust the structure (:func:`read`).

The form is deterministic (no times, no addresses), so two runs of the same notebook over the
same data give the same :func:`fingerprint`.
"""

import bisect
import hashlib
import json
import math
import re
from dataclasses import dataclass

MIMETYPE = "application/vnd.enclave.table+json"
VERSION = 1
KINDS = ("DataFrame", "Series", "Index", "ndarray", "tuple", "Counter", "model")
STATISTICS = (
    "count",
    "proportion",
    "distinct",
    "key",
    "sum",
    "mean",
    "std",
    "var",
    "sem",
    "prod",
    "min",
    "max",
    "median",
    "quantile",
    "first",
    "last",
    "mode",
)
CELL_FIELDS = ("statistic", "records", "denominator", "total", "top", "negative", "derived")
DIGESTED = ("text/plain", "text/html")
OUTPUT_TYPES = ("execute_result", "display_data")


class Untrusted(ValueError):
    """The structure cannot be trusted; the message says why (never quoting values)."""


@dataclass(frozen=True)
class Cell:
    row: int
    column: int
    value: object
    statistic: str | None
    records: int | None = None
    denominator: int | None = None
    total: float | None = None
    top: tuple | None = None
    negative: bool | None = None
    derived: bool = False


@dataclass
class Structure:
    """A validated structure: labels, values and, per cell, what the kernel recorded."""

    payload: dict
    printed_in: tuple | None = None  # (stream output, start, end) of a printed result
    _cells: list | None = None

    @property
    def kind(self) -> str:
        return self.payload["kind"]

    @property
    def model(self) -> dict | None:
        return self.payload.get("model")

    @property
    def institutions(self) -> list[str]:
        return list(self.payload.get("institutions", ()))

    @property
    def row_labels(self) -> list[list]:
        return self.payload["index"]["labels"]

    @property
    def column_labels(self) -> list[list]:
        return self.payload["columns"]["labels"]

    @property
    def index_names(self) -> list:
        return self.payload["index"]["names"]

    @property
    def column_names(self) -> list:
        return self.payload["columns"]["names"]

    def row_label(self, i: int) -> str:
        return " / ".join(str(x) for x in self.row_labels[i] if x is not None)

    def column_label(self, j: int) -> str:
        labels = self.column_labels[j] if j < len(self.column_labels) else []
        return " / ".join(str(x) for x in labels if x is not None)

    def cells(self) -> list[Cell]:
        """Every displayed cell with what the kernel recorded of it (built once)."""
        if self._cells is None:
            values = self.payload["values"]
            cells = self.payload.get("cells") or {}
            grids = [cells.get(name) for name in CELL_FIELDS]
            out = []
            for i, row in enumerate(values):
                rows = [g[i] if g is not None else None for g in grids]
                for j, value in enumerate(row):
                    fields = [r[j] if r is not None else None for r in rows]
                    top = fields[4]
                    out.append(
                        Cell(
                            i,
                            j,
                            value,
                            fields[0],
                            fields[1],
                            fields[2],
                            fields[3],
                            tuple(top) if top is not None else None,
                            fields[5],
                            bool(fields[6]),
                        )
                    )
            self._cells = out
        return self._cells

    @property
    def has_evidence(self) -> bool:
        return bool(self.payload.get("cells"))

    @property
    def fully_described(self) -> bool:
        """Every value shown has a known statistic (a model's summary counts as described)."""
        if self.kind == "model":
            return True
        if self.kind == "Index":
            return False
        if not self.has_evidence:
            return False
        stats = self.payload["cells"]["statistic"]
        return all(
            stat is not None or value is None
            for row_stats, row in zip(stats, self.payload["values"], strict=True)
            for stat, value in zip(row_stats, row, strict=True)
        )


def fingerprint(payload: dict) -> str:
    """A stable hash of a structure, to compare two runs of one notebook (issue 12)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- validation --------------------------------------------------------------------------------


def read(cell, output) -> Structure | None:
    """The output's trusted structure; None when it has none.

    Raises :class:`Untrusted` (with the reason) when it has one the gate must not rely on."""
    data = output.get("data") if isinstance(output, dict) else None
    if not isinstance(data, dict) or MIMETYPE not in data:
        return None
    if cell.get("cell_type") != "code" or output.get("output_type") not in OUTPUT_TYPES:
        raise Untrusted("structured data outside a code cell's result was added by hand")
    if cell.get("execution_count") is None:
        raise Untrusted("structured data in a cell that was never run was added by hand")
    payload = data[MIMETYPE]
    validate(payload)
    if "printed" in payload:
        return printed_structure(cell, payload)
    digests = payload.get("digest")
    if not isinstance(digests, dict) or not digests:
        raise Untrusted("the structured data names no text it was made with")
    for mime, expected in digests.items():
        if mime not in DIGESTED or not isinstance(expected, str):
            raise Untrusted("the structured data names text it cannot have been made with")
        if mime not in data or digest(text_of(data[mime])) != expected:
            raise Untrusted("the visible output was changed after the structured data was made")
    if "text/plain" in data and not numbers_shown(payload, text_of(data["text/plain"])):
        raise Untrusted("the structured data shows numbers the visible output does not")
    return Structure(payload)


def printed_structure(cell, payload) -> "Structure":
    """A pandas result the cell printed: its text must be on the cell's stdout, whole, at the
    start of a line; the structure then describes that part of the stream."""
    printed = payload["printed"]
    expected, length = printed.get("stdout"), printed.get("length")
    if not isinstance(expected, str) or not whole(length) or length <= 0:
        raise Untrusted("the structured data of a printed result is malformed")
    for number, output in enumerate(cell.get("outputs", ())):
        if output.get("output_type") != "stream" or output.get("name") != "stdout":
            continue
        text = text_of(output.get("text"))
        start = 0
        while start >= 0 and start + length <= len(text):
            part = text[start : start + length]
            if digest(part) == expected:
                if not numbers_shown(payload, part):
                    raise Untrusted("the structured data shows numbers the printed text does not")
                return Structure(payload, printed_in=(number, start, start + length))
            start = text.find("\n", start) + 1 or -1
    raise Untrusted("the printed text the structured data was made with is not in the cell")


def text_of(value) -> str:
    return value if isinstance(value, str) else "".join(value) if isinstance(value, list) else ""


def validate(payload) -> None:
    def fail(problem: str):
        raise Untrusted(f"the structured data is malformed ({problem})")

    if not isinstance(payload, dict):
        fail("not an object")
    version = payload.get("version")
    if version != VERSION:
        raise Untrusted(
            f"the structured data is of schema version {str(version)[:10]!r}, which this gate "
            f"does not know (it reads version {VERSION})"
        )
    if payload.get("kind") not in KINDS:
        fail("unknown kind")
    for axis in ("index", "columns"):
        labels = payload.get(axis)
        if not isinstance(labels, dict) or not isinstance(labels.get("labels"), list):
            fail(f"{axis} labels")
        if not isinstance(labels.get("names"), list):
            fail(f"{axis} names")
        if not all(isinstance(row, list) and all(map(scalar, row)) for row in labels["labels"]):
            fail(f"{axis} labels")
    values = payload.get("values")
    if not isinstance(values, list) or not all(isinstance(r, list) for r in values):
        fail("values")
    rows, width = len(values), len(payload["columns"]["labels"])
    if payload["kind"] != "Index" and rows != len(payload["index"]["labels"]):
        fail("rows and row labels differ")
    if payload["kind"] not in ("Index", "model") and any(len(r) != width for r in values):
        fail("columns and column labels differ")
    if not all(scalar(v) for r in values for v in r):
        fail("values")
    shape = payload.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(whole(x) for x in shape)):
        fail("shape")
    if not isinstance(payload.get("institutions", []), list) or not all(
        isinstance(x, str) for x in payload.get("institutions", [])
    ):
        fail("institutions")
    cells = payload.get("cells")
    if cells is not None:
        validate_cells(cells, values, fail)
    model = payload.get("model")
    if payload["kind"] == "model" and not (
        isinstance(model, dict) and number(model.get("df_resid"))
    ):
        fail("model without residual degrees of freedom")


def validate_cells(cells, values, fail) -> None:
    if not isinstance(cells, dict) or not set(cells) <= set(CELL_FIELDS):
        fail("cells")
    widths = [len(row) for row in values]
    for name, grid in cells.items():
        if (
            not isinstance(grid, list)
            or len(grid) != len(values)
            or any(type(r) is not list or len(r) != w for r, w in zip(grid, widths, strict=True))
        ):
            fail(f"cells.{name}")
        given = [v for row in grid for v in row if v is not None]
        try:
            valid = CELL_CHECKS[name](given)
        except TypeError:  # an unhashable statistic, a list where a number belongs
            valid = False
        if not valid:
            fail("unknown statistic" if name == "statistic" else f"cells.{name}")


def finite(v) -> bool:
    return (type(v) is float and math.isfinite(v)) or type(v) is int


CELL_CHECKS = {
    "statistic": lambda given: set(given) <= set(STATISTICS),
    "records": lambda given: all(type(v) is int and v >= 0 for v in given),
    "denominator": lambda given: all(type(v) is int and v >= 0 for v in given),
    "total": lambda given: all(map(finite, given)),
    "top": lambda given: all(
        type(v) is list and len(v) == 2 and finite(v[0]) and finite(v[1]) for v in given
    ),
    "negative": lambda given: all(v is True or v is False for v in given),
    "derived": lambda given: all(v is True or v is False for v in given),
}


def scalar(v) -> bool:
    return (
        v is None
        or isinstance(v, str | bool | int | float)
        or (isinstance(v, list) and all(scalar(x) for x in v))
    )


def whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


# -- agreement with the visible text -----------------------------------------------------------

NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?%?", re.I)


def shown_numbers(text: str) -> list[tuple[float, float]]:
    """(value, half of its last displayed digit) for each number in the text."""
    out = []
    for token in NUMBER.findall(text):
        body = token.rstrip("%").replace(",", "")
        try:
            value = float(body)
        except ValueError:
            continue
        mantissa = body.lower().split("e")[0]
        decimals = len(mantissa.partition(".")[2])
        exponent = int(body.lower().split("e")[1]) if "e" in body.lower() else 0
        out.append((value, 0.5 * 10.0 ** (exponent - decimals)))
    return out


def numbers_shown(payload: dict, text: str) -> bool:
    """Every numeric cell the structure claims is shown in the text (to its displayed
    precision). A structure written by hand to vouch for other numbers than those shown fails.
    """
    claimed = [
        float(v)
        for row in payload.get("values", [])
        for v in row
        if number(v) and not isinstance(v, bool)
    ]
    if not claimed:
        return True
    shown = sorted(shown_numbers(text))
    if not shown:
        return False
    values = [v for v, _ in shown]

    widest = max(h for _, h in shown)
    for v in claimed:
        lo = bisect.bisect_left(values, v - widest)
        hi = bisect.bisect_right(values, v + widest)
        if not any(abs(values[k] - v) <= shown[k][1] * 1.000001 + 1e-12 for k in range(lo, hi)):
            return False
    return True
