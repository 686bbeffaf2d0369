"""``enclave warehouse load``: validate, link, pseudonymize and load the extracts.

Stages: read the manifest; read and validate every file (a file-level problem stops here);
reject event rows whose student was not accepted; stop with the quarantine report if rows
were rejected and ``accept_rejects`` is off; link people across institutions and replace
every local id by a pseudonymous key; drop every direct identifier; write all tables in one
atomic step. Nothing reaches the database before every check has passed.
"""

import csv
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from enclave.errors import EnclaveError
from warehouse.db import is_postgres, pg_connect, shown, sqlite_path
from warehouse.generate import MANIFEST
from warehouse.link import LinkStats, link, name_keys
from warehouse.pseudonymize import pseudonyms
from warehouse.schema import (
    INSTITUTIONS,
    LOCAL_ID,
    RAW_TABLES,
    SUCCESS_GRADES,
    TERMS,
    WAREHOUSE_TABLES,
    warehouse_table,
)
from warehouse.validate import FILE_ERROR, Extract, read_csv, reject_shared_ids, validate

REJECTS_ERROR = 3  # exit status when rows were rejected and not accepted
# show progress bars off a TTY too for work at least this large (rows written, bytes read)
LONG = {"rows": 500_000, "B": 50_000_000}


@dataclass
class LoadResult:
    extracts: list[Extract]
    tables: dict[str, int] = field(default_factory=dict)
    link: LinkStats | None = None
    seconds: float = 0.0
    target: str = ""
    quarantine: Path | None = None

    @property
    def rows_read(self) -> int:
        return sum(e.read for e in self.extracts)


def _manifest(root: Path) -> list[dict]:
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        entries = [(f["institution"], f["table"], f["path"]) for f in files]
    except FileNotFoundError:
        raise EnclaveError(
            f"{path}: no manifest; a extracts folder lists its files in {MANIFEST}.", FILE_ERROR
        ) from None
    except (ValueError, KeyError, TypeError):
        raise EnclaveError(
            f"{path}: not a valid manifest (JSON with files: institution, table, path).",
            FILE_ERROR,
        ) from None
    seen = set()
    for n, (inst, table, rel) in enumerate(entries, 1):
        where = f"{path}: files[{n}]"
        if inst not in INSTITUTIONS:
            raise EnclaveError(
                f"{where}: unknown institution; use one of {', '.join(INSTITUTIONS)}.", FILE_ERROR
            )
        sector = INSTITUTIONS[inst][1]
        if (sector, table) not in RAW_TABLES:
            names = sorted(t for s, t in RAW_TABLES if s == sector)
            raise EnclaveError(
                f"{where}: a {sector} institution sends no table {table!r}; "
                f"use {', '.join(names)}.",
                FILE_ERROR,
            )
        if (inst, table) in seen:
            raise EnclaveError(f"{where}: {inst} {table} is listed twice.", FILE_ERROR)
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise EnclaveError(
                f"{where}: the path must stay inside the extracts folder.", FILE_ERROR
            )
        seen.add((inst, table))
    for inst in {i for i, _ in seen}:
        if (inst, "students") not in seen:
            raise EnclaveError(f"{path}: {inst} sends no students file; add it.", FILE_ERROR)
    return [{"institution": i, "table": t, "path": p} for i, t, p in entries]


def _progress(total: int, unit: str, desc: str):
    from tqdm import tqdm

    show = sys.stderr.isatty() or total >= LONG[unit]
    return tqdm(total=total, unit=unit, desc=desc, disable=not show, file=sys.stderr, leave=False)


def read_extracts(root: Path) -> list[Extract]:
    """Every file read and validated, students first; event rows need an accepted student."""
    entries = sorted(_manifest(root), key=lambda e: (e["institution"], e["table"] != "students"))
    total = sum((root / e["path"]).stat().st_size for e in entries if (root / e["path"]).exists())
    extracts, student_ids = [], {}
    with _progress(total, "B", "validating") as bar:
        for e in entries:
            inst = e["institution"]
            sector = INSTITUTIONS[inst][1]
            table = RAW_TABLES[sector, e["table"]]
            file = root / e["path"]
            ex = validate(read_csv(file, e["path"], table), Extract(inst, table, e["path"]))
            id_col = LOCAL_ID[sector]
            if table.name == "students":
                reject_shared_ids(ex, id_col)
                student_ids[inst] = ex.rows[id_col]
            else:
                orphan = ~ex.rows[id_col].isin(student_ids[inst]).to_numpy()
                ex.reject(orphan, f"{id_col}: no accepted row for this student in students.csv")
            extracts.append(ex)
            bar.update(file.stat().st_size)
    return extracts


def _records(students: list[Extract]) -> pd.DataFrame:
    """The identifiers linkage needs, one row per accepted student row."""
    frames = []
    for ex in students:
        rows, sector = ex.rows, ex.table.sector
        local = rows[LOCAL_ID[sector]]
        ssid = (
            local if sector == "k12" else rows.get("statewide_id", pd.Series("", index=rows.index))
        )
        frames.append(
            pd.DataFrame(
                {
                    "institution": ex.institution,
                    "local_id": local,
                    "ssid": ssid,
                    "ssn": rows.get("ssn", pd.Series("", index=rows.index)),
                    "name_key": name_keys(rows.first_name, rows.last_name, rows.birth_date),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _keys(records: pd.DataFrame, key: bytes | None) -> tuple[pd.Series, LinkStats | None]:
    """The student key per record: linked and pseudonymized, or (``key=None``) neither."""
    if key is None:  # the benchmark's baseline: institution + local id, no linkage, no hashing
        return records.institution + ":" + records.local_id, None
    person, stats = link(records)
    unique = pd.unique(person)
    return person.map(dict(zip(unique, pseudonyms(unique, key), strict=True))), stats


def key_map(extracts: list[Extract], key: bytes | None) -> tuple[dict, LinkStats | None]:
    """institution -> (local id -> student key), from the accepted student rows."""
    records = _records([e for e in extracts if e.table.name == "students"])
    student_key, stats = _keys(records, key)
    key_of = {
        inst: pd.Series(student_key.to_numpy()[pos], index=records.local_id.to_numpy()[pos])
        for inst, pos in records.groupby("institution").indices.items()
    }
    return key_of, stats


def build_tables(extracts: list[Extract], key: bytes | None) -> tuple[dict, LinkStats | None]:
    """Warehouse tables (DataFrames) from validated extracts; identifiers stay behind."""
    key_of, stats = key_map(extracts, key)
    parts = {name: [] for name in WAREHOUSE_TABLES}
    parts["institutions"].append(
        pd.DataFrame(
            [(code, name, sector) for code, (name, sector) in INSTITUTIONS.items()],
            columns=["institution", "name", "sector"],
        )
    )
    for ex in extracts:
        rows, sector = ex.rows, ex.table.sector
        out = pd.DataFrame(index=rows.index)
        out["student_key"] = rows[LOCAL_ID[sector]].map(key_of[ex.institution])
        out["institution"] = ex.institution
        if ex.table.name == "students":
            out["birth_year"] = rows.birth_date.str[:4].astype(np.int64)
            out["gender"], out["ethnicity"] = rows.gender, rows.ethnicity
            out["zip3"] = rows.zip.str[:3]
            # two local ids linked to one person at one institution: one student row
            merged = out.duplicated(["student_key", "institution"]).to_numpy()
            ex.duplicates += int(merged.sum())
            ex.rows, out = rows[~merged], out[~merged]
        else:
            for col in ex.table.column_names[1:]:
                out[col] = rows[col]
            if "term" in rows:
                out["academic_year"] = rows.term.map(TERMS).astype(np.int64)
            if ex.table.name == "course_outcomes":
                out["success"] = rows.grade.isin(SUCCESS_GRADES).astype(np.int64)
        parts[warehouse_table(sector, ex.table.name)].append(out)
    tables = {}
    for name, frames in parts.items():
        columns = [c for c, _ in WAREHOUSE_TABLES[name]]
        tables[name] = (
            pd.concat(frames, ignore_index=True)[columns]
            if frames
            else pd.DataFrame(columns=columns)
        )
    return tables, stats


def write_quarantine(path: Path, extracts: list[Extract]) -> None:
    """file, line, reason for every rejected row (never the row's values)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["file", "line", "reason"])
        for ex in extracts:
            out.writerows((ex.path, line, reason) for line, reason in sorted(ex.rejected))
    os.replace(tmp, path)


def load(
    extracts_dir: str | os.PathLike,
    url: str,
    key: bytes | None,
    accept_rejects: bool = False,
    quarantine: str | os.PathLike | None = None,
) -> LoadResult:
    """Load the extracts into the warehouse at ``url``; all or nothing."""
    started = time.perf_counter()
    root = Path(extracts_dir)
    if not root.is_dir():
        raise EnclaveError(f"{root}: not a folder of extracts; give the folder holding {MANIFEST}.")
    if is_postgres(url):  # an unreachable database fails before the work, not after
        pg_connect(url).close()
        target = url
    else:
        target = sqlite_path(url)
    extracts = read_extracts(root)
    result = LoadResult(extracts, target=shown(str(url)))
    result.quarantine = Path(quarantine) if quarantine else root / "quarantine.csv"
    write_quarantine(result.quarantine, extracts)
    rejected = [(ex, min(ex.rejected)) for ex in extracts if ex.rejected]
    if rejected and not accept_rejects:
        ex, (line, reason) = rejected[0]
        total = sum(len(e.rejected) for e in extracts)
        raise EnclaveError(
            f"{ex.path} line {line}: {reason} ({total} row(s) rejected in all, listed in "
            f"{result.quarantine}); fix the extracts, or load the rest with --accept-rejects. "
            "Nothing was loaded.",
            REJECTS_ERROR,
        )
    tables, result.link = build_tables(extracts, key)
    result.tables = {name: len(df) for name, df in tables.items()}
    with _progress(sum(result.tables.values()), "rows", "loading") as bar:
        if is_postgres(url):
            from warehouse.store_postgres import write_postgres

            write_postgres(url, tables, bar)
        else:
            from warehouse.store_sqlite import write_sqlite

            write_sqlite(target, tables, bar)
    result.seconds = time.perf_counter() - started
    return result
