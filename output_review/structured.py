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
from functools import cached_property, partial
from itertools import chain, repeat
from typing import NamedTuple

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


class Cell(NamedTuple):
    """One displayed cell (a tuple: thousands are made per table, a dataclass is slow)."""

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
            flat = chain.from_iterable
            rows = flat(repeat(i, len(row)) for i, row in enumerate(values))
            columns = flat(range(len(row)) for row in values)
            size = sum(map(len, values))
            fields = [
                flat(cells[name]) if cells.get(name) is not None else repeat(None, size)
                for name in CELL_FIELDS
            ]
            if cells.get("top") is not None:
                fields[4] = [None if top is None else tuple(top) for top in fields[4]]
            fields[6] = map(bool, fields[6])
            make = partial(tuple.__new__, Cell)  # Cell._make without its Python frame
            self._cells = list(map(make, zip(rows, columns, flat(values), *fields, strict=True)))
        return self._cells

    @property
    def has_evidence(self) -> bool:
        return bool(self.payload.get("cells"))

    @cached_property
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
    if "text/plain" in data and not shown_in(payload, text_of(data["text/plain"])):
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
                if not shown_in(payload, part):
                    raise Untrusted("the structured data shows numbers the printed text does not")
                return Structure(payload, printed_in=(number, start, start + length))
            start = text.find("\n", start) + 1 or -1
    raise Untrusted("the printed text the structured data was made with is not in the cell")


def shown_in(payload, text: str) -> bool:
    """:func:`numbers_shown`; a number too large for a float is not one the text shows."""
    try:
        return numbers_shown(payload, text)
    except OverflowError:
        return False


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
        if not all(isinstance(row, list) and scalars(row) for row in labels["labels"]):
            fail(f"{axis} labels")
    values = payload.get("values")
    if not isinstance(values, list) or not all(isinstance(r, list) for r in values):
        fail("values")
    rows, width = len(values), len(payload["columns"]["labels"])
    if payload["kind"] != "Index" and rows != len(payload["index"]["labels"]):
        fail("rows and row labels differ")
    if payload["kind"] not in ("Index", "model") and any(len(r) != width for r in values):
        fail("columns and column labels differ")
    if not all(map(scalars, values)):
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
            or not {list}.issuperset(map(type, grid))
            or list(map(len, grid)) != widths
        ):
            fail(f"cells.{name}")
        flat = list(chain.from_iterable(grid))
        try:
            valid = CELL_CHECKS[name](flat, set(map(type, flat)))
        except TypeError:  # an unhashable statistic
            valid = False
        if not valid:
            fail("unknown statistic" if name == "statistic" else f"cells.{name}")


# Each check takes a grid's cells flattened (None where nothing was recorded) and their types;
# whole grids are tested by type sets and builtins (thousands of cells per table).
NONE = type(None)


def finite(v) -> bool:
    return (type(v) is float and math.isfinite(v)) or type(v) is int


def all_finite(flat, types) -> bool:
    """Every given value an int or a finite float."""
    if not types <= {int, float, NONE}:
        return False
    try:  # a sum is finite when every term is, unless large terms overflow: then one by one
        if float not in types or math.isfinite(sum(filter(None, flat))):
            return True
    except OverflowError:
        pass
    return all(finite(v) for v in flat if v is not None)


def all_counts(flat, types) -> bool:
    """Every given value a whole number, none negative (booleans are not numbers)."""
    return types <= {int, NONE} and min(filter(None, flat), default=0) >= 0


def all_pairs(flat, types) -> bool:
    """Every given value a list of two finite numbers (the two largest contributions)."""
    if not types <= {list, NONE}:
        return False
    pairs = [v for v in flat if v is not None] if NONE in types else flat
    if not set(map(len, pairs)) <= {2}:
        return False
    inner = list(chain.from_iterable(pairs))
    return NONE not in set(map(type, inner)) and all_finite(inner, set(map(type, inner)))


CELL_CHECKS = {
    "statistic": lambda flat, types: set(flat) - {None} <= set(STATISTICS),
    "records": all_counts,
    "denominator": all_counts,
    "total": all_finite,
    "top": all_pairs,
    "negative": lambda flat, types: types <= {bool, NONE},
    "derived": lambda flat, types: types <= {bool, NONE},
}
SCALARS = {NONE, str, bool, int, float}


def scalars(row: list) -> bool:
    """Every item a JSON scalar or a list of them (tested by type first: JSON gives exact
    types, so only rows holding lists are walked)."""
    return SCALARS.issuperset(map(type, row)) or all(map(scalar, row))


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

    Most values are shown as Python formats them (``1474``, ``8.986499``: pandas' display),
    so each is first looked up among the words of the text, formatted as Python does and to
    each precision the text uses (a word that is such a number is a number shown to that
    precision); only the rest are compared by value, to the precision of the nearest number
    shown."""
    words = set(text.split())  # pandas separates the numbers it shows by spaces
    formats = [f".{n}f" for n in sorted(decimals(words))[:8]]
    rest = []
    for v in chain.from_iterable(payload.get("values", [])):
        kind = type(v)
        if kind is int:
            if str(v) in words:
                continue
        elif kind is not float or not math.isfinite(v):
            continue  # not a number: nothing claimed
        elif repr(v) in words or any(format(v, f) in words for f in formats):
            continue
        rest.append(v)
    return not rest or within_precision(rest, text)


def decimals(words) -> set[int]:
    """How many decimals the text's numbers show (a few words with a point suffice)."""
    return {len(w) - w.index(".") - 1 for w in words if "." in w and w[-1:].isdigit()}


def within_precision(claimed: list, text: str) -> bool:
    """Every claimed value within half a last digit of a number the text shows."""
    shown = sorted(shown_numbers(text))
    if not shown:
        return False
    values = [v for v, _ in shown]
    widest = max(h for _, h in shown)
    for v in claimed:
        v = float(v)
        lo = bisect.bisect_left(values, v - widest)
        hi = bisect.bisect_right(values, v + widest)
        if not any(abs(values[k] - v) <= shown[k][1] * 1.000001 + 1e-12 for k in range(lo, hi)):
            return False
    return True
