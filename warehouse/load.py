"""``enclave warehouse load``: validate, link, pseudonymize and load the extracts.

Stages: read the manifest; validate the students files; link people across institutions and
give each a pseudonymous key; then, file by file, validate the events (rejecting rows whose
student was not accepted), replace local ids by keys, drop every direct identifier and hand
the table to a background writer. The writer builds a scratch SQLite file or an uncommitted
PostgreSQL schema, published in one step only when every file has passed: a file-level
problem, rejected rows without ``accept_rejects``, or any failure discards it.
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

from enclave.consortium import Consortium, demo
from enclave.errors import EnclaveError, naming
from enclave.files import FileLimits, read_regular
from enclave.scratch import Scratch, Swept, sweep
from enclave.warehouse.db import is_postgres, pg_connect, shown, sqlite_path
from enclave.warehouse.link import LinkStats, link, name_keys
from enclave.warehouse.pseudonymize import pseudonyms
from enclave.warehouse.schema import (
    LOCAL_ID,
    MANIFEST,
    RAW_TABLES,
    SUCCESS_GRADES,
    TERMS,
    WAREHOUSE_TABLES,
    warehouse_table,
)
from enclave.warehouse.validate import FILE_ERROR, Extract, read_csv, reject_shared_ids, validate

REJECTS_ERROR = 3  # exit status when rows were rejected and not accepted
LONG_LOAD = 50_000_000  # bytes of extracts: show the progress bar even off a TTY


@dataclass
class LoadResult:
    extracts: list[Extract]
    tables: dict[str, int] = field(default_factory=dict)
    link: LinkStats | None = None
    seconds: float = 0.0
    target: str = ""
    quarantine: Path | None = None
    swept: list[Swept] = field(default_factory=list)  # what interrupted loads had left

    @property
    def rows_read(self) -> int:
        return sum(e.read for e in self.extracts)


def quarantine_path(root: str | os.PathLike, given: str | os.PathLike | None) -> Path:
    """Where the quarantine report goes: as given, else beside the extracts."""
    return Path(given) if given else Path(root) / "quarantine.csv"


def _manifest(root: Path, limits: FileLimits, members: Consortium) -> list[dict]:
    if not root.is_dir():
        raise EnclaveError(
            f"{root}: not a folder of extracts; give the folder holding {MANIFEST}.", FILE_ERROR
        )
    path = root / MANIFEST
    try:
        text = read_regular(
            path, limits.max_text_bytes, "FileLimits.max_text_bytes", exit_code=FILE_ERROR
        )
        manifest = json.loads(text.decode("utf-8"))
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
        members.require([inst], where, FILE_ERROR)
        layout = members.layout(inst)
        if (layout, table) not in RAW_TABLES:
            names = sorted(t for s, t in RAW_TABLES if s == layout)
            raise EnclaveError(
                f"{where}: {inst} (sector {members.sector(inst)}) sends no table {table!r}; "
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
    return [
        {"institution": i, "table": t, "path": p, "layout": members.layout(i)}
        for i, t, p in entries
    ]


def _progress(total: int):
    from tqdm import tqdm

    show = sys.stderr.isatty() or total >= LONG_LOAD
    return tqdm(
        total=total, unit="B", unit_scale=True, desc="loading", disable=not show, file=sys.stderr
    )


def _validated(root: Path, entry: dict, refs: dict, limits: FileLimits) -> Extract:
    """One file read and validated. ``refs``: institution -> (accepted student id -> value an
    events file's id becomes); an events row without an accepted student is rejected."""
    inst = entry["institution"]
    table = RAW_TABLES[entry["layout"], entry["table"]]
    csv_rows = read_csv(root / entry["path"], entry["path"], table, limits)
    ex = validate(csv_rows, Extract(inst, table, entry["path"]), refs.get(inst))
    if table.name == "students":
        reject_shared_ids(ex, LOCAL_ID[table.layout])
    return ex


def _in_order(root: Path, limits: FileLimits, members: Consortium):
    """Manifest entries, students files first; and a progress bar over their bytes."""
    # students first (linkage needs them all), then one warehouse table after another
    order = {name: n for n, name in enumerate(WAREHOUSE_TABLES)}
    entries = sorted(
        _manifest(root, limits, members),
        key=lambda e: (order[warehouse_table(e["layout"], e["table"])], e["institution"]),
    )
    total = sum((root / e["path"]).stat().st_size for e in entries if (root / e["path"]).exists())
    return entries, _progress(total)


def read_extracts(
    root: Path, limits: FileLimits | None = None, consortium: Consortium | None = None
) -> list[Extract]:
    """Every file validated, nothing loaded (``enclave warehouse check``)."""
    limits = limits or FileLimits()
    entries, bar = _in_order(root, limits, consortium or demo())
    extracts, ids = [], {}
    with bar:
        for e in entries:
            ex = _validated(root, e, ids, limits)
            if ex.table.name == "students":  # events refer to accepted ids, which stay ids
                local = ex.rows[LOCAL_ID[ex.table.layout]].to_numpy()
                ids[ex.institution] = pd.Series(local, index=local)
            extracts.append(ex)
            bar.update((root / e["path"]).stat().st_size)
    return extracts


def _records(students: list[Extract]) -> pd.DataFrame:
    """The identifiers linkage needs, one row per accepted student row."""
    frames = []
    for ex in students:
        rows, layout = ex.rows, ex.table.layout
        local = rows[LOCAL_ID[layout]]
        # a district's own id is the statewide student id; others may record it beside theirs
        ssid = (
            local if layout == "k12" else rows.get("statewide_id", pd.Series("", index=rows.index))
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


def _keys(records: pd.DataFrame, key: bytes | None, order) -> tuple[pd.Series, LinkStats | None]:
    """The student key per record: linked and pseudonymized, or (``key=None``) neither."""
    if key is None:  # the benchmark's baseline: institution + local id, no linkage, no hashing
        return records.institution + ":" + records.local_id, None
    person, stats = link(records, order)
    unique = pd.unique(person.to_numpy(object)).tolist()
    return person.map(dict(zip(unique, pseudonyms(unique, key), strict=True))), stats


def key_map(
    extracts: list[Extract], key: bytes | None, order=None
) -> tuple[dict, LinkStats | None]:
    """institution -> (local id -> student key), from the accepted student rows (``order``:
    the consortium's, for the pair rates)."""
    records = _records([e for e in extracts if e.table.name == "students"])
    student_key, stats = _keys(records, key, order)
    key_of = {
        inst: pd.Series(student_key.to_numpy()[pos], index=records.local_id.to_numpy()[pos])
        for inst, pos in records.groupby("institution").indices.items()
    }
    return key_of, stats


def institutions_table(members: Consortium) -> pd.DataFrame:
    return pd.DataFrame(
        [(code, members.name(code), members.sector(code)) for code in members.codes],
        columns=["institution", "name", "sector"],
    )


def students_table(students: list[Extract], key_of: dict) -> pd.DataFrame:
    """One row per student per institution: key, birth year, gender, ethnicity, ZIP3."""
    parts = []
    for ex in students:
        rows = ex.rows
        out = pd.DataFrame(
            {
                # an institution without accepted students has no keys
                "student_key": rows[LOCAL_ID[ex.table.layout]].map(key_of.get(ex.institution, {})),
                "institution": ex.institution,
                "birth_year": rows.birth_date.str[:4].astype(np.int64),
                "gender": rows.gender,
                "ethnicity": rows.ethnicity,
                "zip3": rows.zip.str[:3],
            }
        )
        # two local ids linked to one person at one institution: one student row
        merged = out.student_key.duplicated().to_numpy()
        ex.duplicates += int(merged.sum())
        ex.rows = rows[~merged]
        parts.append(out[~merged])
    return pd.concat(parts, ignore_index=True)


def event_table(ex: Extract) -> pd.DataFrame:
    """An events extract in warehouse form (validation already put keys in the id column)."""
    rows = ex.rows
    out = pd.DataFrame(
        {"student_key": rows[LOCAL_ID[ex.table.layout]], "institution": ex.institution}
    )
    for col in ex.table.column_names[1:]:
        out[col] = rows[col]
    if "term" in rows:
        out["academic_year"] = rows.term.map(TERMS).astype(np.int64)
    if ex.table.name == "course_outcomes":
        out["success"] = rows.grade.isin(SUCCESS_GRADES).astype(np.int64)
    return out


def write_quarantine(path: Path, extracts: list[Extract]) -> None:
    """file, line, reason for every rejected row (never the row's values)."""
    with naming(str(path)), Scratch(path.parent, path.name) as scratch:
        with open(scratch.path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["file", "line", "reason"])
            for ex in extracts:
                out.writerows((ex.path, line, reason) for line, reason in sorted(ex.rejected))
        scratch.replace(path)


def _sink(url: str):
    if is_postgres(url):
        from enclave.warehouse.store_postgres import PostgresSink

        pg_connect(url).close()  # an unreachable database fails before the work, not after
        return PostgresSink(url)
    from enclave.warehouse.store_sqlite import SqliteSink

    return SqliteSink(sqlite_path(url))


def load(
    extracts_dir: str | os.PathLike,
    url: str,
    key: bytes | None,
    accept_rejects: bool = False,
    quarantine: str | os.PathLike | None = None,
    clear_ids_baseline: bool = False,
    limits: FileLimits | None = None,
    on_sweep=None,
    consortium: Consortium | None = None,
) -> LoadResult:
    """Load the extracts into the warehouse at ``url``; all or nothing.

    ``key=None`` with ``clear_ids_baseline=True`` skips linkage and pseudonymization and
    stores local ids in clear: only the privacy-cost benchmark does that, never real data.
    Before anything, the scratch interrupted loads left is removed; ``on_sweep(swept)`` hears
    of it (to report and record it) before the load goes on. ``consortium``: the members
    whose extracts may be loaded (``Consortium`` in the deployment's config; the demo's five
    when not given).
    """
    if key is None and not clear_ids_baseline:
        raise ValueError("load() needs a pseudonymization key")

    started = time.perf_counter()
    root = Path(extracts_dir)
    limits = limits or FileLimits()
    members = consortium or demo()
    sink = _sink(url)
    entries, bar = _in_order(root, limits, members)
    result = LoadResult([], target=shown(str(url)))
    result.quarantine = quarantine_path(root, quarantine)
    if not result.quarantine.parent.is_dir():  # found now, not after the whole load
        raise EnclaveError(
            f"{result.quarantine}: the folder {result.quarantine.parent} does not exist; create "
            "it, or give --quarantine a path in a folder that exists.",
            FILE_ERROR,
        )
    with naming(result.target, "Nothing was loaded."):
        result.swept = sink.sweep() + sweep(result.quarantine.parent)
        if result.swept and on_sweep:
            on_sweep(result.swept)
        _load_into(sink, root, entries, bar, key, limits, result, accept_rejects, members)
    if not is_postgres(url):  # each project's extract follows the new warehouse
        from enclave.warehouse.grant import refresh_extracts

        with naming(
            result.target,
            "The warehouse was loaded, but not every project extract was "
            "rebuilt: load again once that is fixed.",
        ):
            refresh_extracts(sqlite_path(url))
    result.tables = {name: result.tables.get(name, 0) for name in WAREHOUSE_TABLES}
    result.seconds = time.perf_counter() - started
    return result


def _load_into(sink, root, entries, bar, key, limits, result, accept_rejects, members) -> None:
    """Validate, link and pseudonymize file by file, the writer publishing at the end."""
    from enclave.warehouse.writer import BackgroundWriter

    key_of = {}
    with bar, BackgroundWriter(sink) as writer:

        def validated(entry: dict) -> Extract:
            ex = _validated(root, entry, key_of, limits)
            result.extracts.append(ex)
            bar.update((root / entry["path"]).stat().st_size)
            return ex

        def write(name: str, df: pd.DataFrame) -> None:
            result.tables[name] = result.tables.get(name, 0) + len(df)
            writer.write(name, df)

        students = [validated(e) for e in entries if e["table"] == "students"]
        keys, result.link = key_map(students, key, members.codes)
        key_of.update(keys)
        write("institutions", institutions_table(members))
        write("students", students_table(students, key_of))
        for e in entries[len(students) :]:
            ex = validated(e)
            write(warehouse_table(ex.table.layout, ex.table.name), event_table(ex))
        write_quarantine(result.quarantine, result.extracts)
        _refuse_rejects(result, accept_rejects)
        writer.finish()


def _refuse_rejects(result: LoadResult, accept_rejects: bool) -> None:
    rejected = [(ex, min(ex.rejected)) for ex in result.extracts if ex.rejected]
    if rejected and not accept_rejects:
        ex, (line, reason) = rejected[0]
        total = sum(len(e.rejected) for e in result.extracts)
        raise EnclaveError(
            f"{ex.path} line {line}: {reason} ({total} row(s) rejected in all, listed in "
            f"{result.quarantine}); fix the extracts, or load the rest with --accept-rejects. "
            "Nothing was loaded.",
            REJECTS_ERROR,
        )
