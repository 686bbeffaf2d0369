"""Check one extract file against its declared schema (``schema.py``).

File-level problems (missing, empty, binary, not UTF-8, not CSV, ragged, missing or extra
columns) raise ``EnclaveError``: the whole load stops. Row-level problems (a missing required
value, a wrong type, an unknown code, a malformed SSN, date, ZIP or term, an id shared by two
different rows of a students file, an events row whose student has no accepted row) reject the
row with a reason; exact duplicate rows are counted, not rejected.
Checks run once per distinct value (``pd.factorize``), so a column of a million terms costs a
hash pass plus a few hundred checks. Reasons name the column, never the value.
"""

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from enclave.errors import EnclaveError
from enclave.files import FileLimits, read_regular
from enclave.warehouse.schema import TERMS, Column, RawTable

FILE_ERROR = 2  # exit status for a file the loader cannot read at all
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_SSN = re.compile(r"(\d{3})-?(\d{2})-?(\d{4})")
_ZIP = re.compile(r"\d{5}(?:-\d{4})?")
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")
_RAGGED = re.compile(r"line (\d+), saw (\d+)")


@dataclass
class Extract:
    """One validated file: typed valid rows plus what was rejected and why."""

    institution: str
    table: RawTable
    path: str  # as named in the manifest, for messages and the quarantine report
    read: int = 0
    duplicates: int = 0
    rows: pd.DataFrame | None = None  # valid rows; a ``line`` column keeps the file line
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    def reject(self, mask: np.ndarray, reasons: pd.Series) -> None:
        """Move the valid rows selected by ``mask`` to the rejected list."""
        self.rejected.extend(zip(self.rows.line[mask].tolist(), reasons[mask], strict=True))
        self.rows = self.rows[~mask]


def _fail(path: str, what: str) -> EnclaveError:
    return EnclaveError(f"{path}: {what}", exit_code=FILE_ERROR)


def read_csv(
    file: Path, name: str, table: RawTable, limits: FileLimits | None = None
) -> pd.DataFrame:
    """The file's rows as strings, or a one-line error for a file that is not this table."""
    limit = (limits or FileLimits()).max_extract_bytes
    try:
        data = read_regular(
            file, limit, "FileLimits.max_extract_bytes", name=name, exit_code=FILE_ERROR
        )
    except FileNotFoundError:
        raise _fail(name, "file listed in the manifest is missing; re-export it.") from None
    except OSError as e:
        raise _fail(name, f"cannot read the file ({e.strerror}).") from None
    if not data.strip():
        raise _fail(name, "file is empty; export the table with its header row.")
    if b"\x00" in data:
        raise _fail(name, "not a CSV file (binary content); export the table as CSV text.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise _fail(
            name, f"line {line}: bytes that are not UTF-8; re-export the file as UTF-8."
        ) from None
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    names = {h.strip().strip('"') for h in header.split(",")}
    if "," not in header or not names & set(table.column_names):
        raise _fail(
            name,
            "not a CSV file (its first line is not a comma-separated header); export "
            f"{table.name} as CSV with the header {','.join(table.column_names)}.",
        )
    try:
        df = pd.read_csv(
            io.BytesIO(data),
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except pd.errors.ParserError as e:
        m = _RAGGED.search(str(e))  # pandas counts records, not lines
        where = (
            f"line {_record_start(text, int(m.group(1)))} has {m.group(2)} fields, more than "
            "the header"
            if m
            else "not parseable as CSV"
        )
        raise _fail(name, f"{where}; fix the quoting or the delimiters and re-export.") from None
    missing = [c for c in table.column_names if c not in df.columns]
    extra = [c for c in df.columns if c not in table.column_names]
    if missing or extra:
        parts = [f"missing column(s) {', '.join(missing)}"] if missing else []
        # a header that is really a data row must not be echoed: it may hold identifiers
        shown = [str(c) for c in extra if _COLUMN_NAME.fullmatch(str(c))]
        if extra:
            parts.append(
                f"unexpected column(s) {', '.join(shown)}"
                if len(shown) == len(extra)
                else f"{len(extra)} unexpected column(s)"
            )
        raise _fail(
            name,
            f"{'; '.join(parts)}; the {table.layout} {table.name} extract has exactly the "
            f"columns {','.join(table.column_names)}.",
        )
    df.index = physical_lines(text, len(df))
    return df[table.column_names]


def physical_lines(text: str, records: int) -> pd.Index:
    """The line of the file on which each data record starts (the header is line 1).

    A quoted field may hold line breaks, so a record can span lines: then the lines are counted
    by Python's csv module, which splits records as pandas does. One line per record is told by
    the count of line breaks alone, which costs a scan of the text and nothing else.
    """
    if text.count("\n") == records + text.endswith("\n"):
        return pd.RangeIndex(2, records + 2)
    starts = _record_starts(text)
    if starts is None or len(starts) != records + 1:  # not the same split: keep record numbers
        return pd.RangeIndex(2, records + 2)
    return pd.Index(starts[1:])


def _record_starts(text: str) -> list[int] | None:
    """The line each CSV record of ``text`` starts on, header included; None if unsplittable."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))  # pandas has no field limit
    reader = csv.reader(io.StringIO(text))
    starts, line = [], 1
    try:
        for _ in reader:
            starts.append(line)
            line = reader.line_num + 1
    except csv.Error:
        return None
    return starts


def _record_start(text: str, record: int) -> int:
    """The line on which the ``record``-th record (1 = the header) starts."""
    starts = _record_starts(text) or []
    return starts[record - 1] if record <= len(starts) else record


def _check_unique(
    values: np.ndarray, col: Column, refs: pd.Series | None
) -> tuple[np.ndarray, np.ndarray, str]:
    """(valid?, converted value, reason if invalid) for each distinct non-empty value."""
    kind = col.kind
    if kind == "ref":  # valid when students.csv has an accepted row; converted to ``refs``' value
        found = (refs if refs is not None else pd.Series(dtype=object)).reindex(values)
        return (
            found.notna().to_numpy(),
            found.to_numpy(object),
            "no accepted row for this student in students.csv",
        )
    if kind in ("int", "float"):
        num = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(float)
        ok = np.isfinite(num) & (num >= col.low) & (num <= col.high)
        if kind == "int":
            ok &= num == np.floor(num)
            num = np.where(ok, num, 0).astype(np.int64)
        noun = "an integer" if kind == "int" else "a number"
        return ok, num, f"not {noun} from {col.low:g} to {col.high:g}"
    if kind == "date":
        parsed = pd.to_datetime(pd.Series(values, dtype=object), format="%Y-%m-%d", errors="coerce")
        ok = (parsed.dt.year >= 1900).to_numpy() & (
            parsed <= pd.Timestamp(dt.date.today())
        ).to_numpy()
        return ok, parsed.dt.strftime("%Y-%m-%d").to_numpy(object), "not a past date as YYYY-MM-DD"
    if kind == "ssn":
        digits = np.array([_ssn_digits(v) for v in values], dtype=object)
        return digits != "", digits, "not a valid SSN (NNN-NN-NNNN)"
    if kind == "zip":
        ok = np.array([_ZIP.fullmatch(v) is not None for v in values], dtype=bool)
        return ok, values, "not a ZIP code (NNNNN or NNNNN-NNNN)"
    if kind == "term":
        return np.isin(values, list(TERMS)), values, "not a term YYYYFA, YYYYSP or YYYYSU"
    if kind == "code":
        return np.isin(values, col.codes), values, f"not one of {', '.join(col.codes)}"
    if kind == "id":
        ok = np.array([_ID.fullmatch(v) is not None for v in values], dtype=bool)
        return ok, values, "not an id (letters, digits, '.', '_' or '-', at most 40)"
    return np.ones(len(values), dtype=bool), values, ""  # free text


def _ssn_digits(value: str) -> str:
    m = _SSN.fullmatch(value)
    if not m or m[1] in ("000", "666") or m[1][0] == "9" or m[2] == "00" or m[3] == "0000":
        return ""
    return m[1] + m[2] + m[3]


def validate(df: pd.DataFrame, extract: Extract, refs: pd.Series | None = None) -> Extract:
    """Fill ``extract`` with typed valid rows, rejections and the duplicate count.

    ``refs``: accepted student id -> the value a ``ref`` column takes (its student key when
    loading), so an events file's id is checked and replaced once per distinct id.
    """
    extract.read = len(df)
    # one hash pass per column serves both the duplicate check and the per-value checks
    factorized = {c: pd.factorize(df[c].to_numpy(object)) for c in extract.table.column_names}
    keep = ~pd.DataFrame({c: codes for c, (codes, _) in factorized.items()}).duplicated().to_numpy()
    extract.duplicates = int(len(df) - keep.sum())
    lines = df.index.to_numpy()[keep]  # the file line of each record (read_csv)
    reason = np.full(len(lines), None, dtype=object)
    typed = {"line": lines}
    for col in extract.table.columns:
        codes, uniques = factorized[col.name]
        codes, uniques = codes[keep], np.asarray(uniques, dtype=object)
        empty_u = uniques == ""
        ok_u, conv_u, why = _check_unique(uniques, col, refs)
        ok_u = np.where(empty_u, not col.required, ok_u)
        conv_u = np.where(empty_u, "", conv_u) if conv_u.dtype == object else conv_u
        bad = ~ok_u[codes] & (reason == None)  # noqa: E711 (elementwise)
        reason[bad] = np.where(
            empty_u[codes[bad]], f"{col.name}: required value is missing", f"{col.name}: {why}"
        )
        typed[col.name] = conv_u[codes]
    rows = pd.DataFrame(typed)
    valid = reason == None  # noqa: E711
    extract.rows = rows[valid]
    extract.rejected = list(zip(lines[~valid].tolist(), reason[~valid].tolist(), strict=True))
    return extract


def reject_shared_ids(extract: Extract, id_column: str) -> None:
    """A students file must have one row per id; rows sharing an id are all rejected."""
    rows = extract.rows
    shared = rows[id_column].duplicated(keep=False).to_numpy()
    if not shared.any():
        return
    dup = rows[shared]
    lines = dup.groupby(id_column).line
    low, high = lines.transform("min"), lines.transform("max")
    partner = high.where(high != dup.line, low).astype(str)
    reason = pd.Series("", index=rows.index, dtype=object)
    reason[shared] = (
        f"{id_column}: the same id is also on line "
        + partner
        + " with different values; send one row per student"
    )
    extract.reject(shared, reason)
