"""Write the warehouse into a SQLite file, all or nothing.

The new warehouse is built in a temporary file beside the target and moved over it with
``os.replace``: readers that have the old file open keep their snapshot, new readers see the
whole new warehouse, and a failed load leaves the old file untouched. The build runs with
journaling and syncing off (it is a scratch file until the rename); indexes come after the
bulk insert; the finished file is synced before the rename.
"""

import os
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd

from warehouse.schema import INDEXED_COLUMNS, WAREHOUSE_TABLES


def create_tables(conn: sqlite3.Connection, tables=WAREHOUSE_TABLES) -> None:
    for name, columns in tables.items():
        cols = ", ".join(f"{c} {t} NOT NULL" for c, t in columns)
        conn.execute(f"CREATE TABLE {name} ({cols})")


def create_indexes(conn: sqlite3.Connection) -> None:
    for name, columns in WAREHOUSE_TABLES.items():
        for col in INDEXED_COLUMNS:
            if col in dict(columns):
                conn.execute(f"CREATE INDEX {name}_{col} ON {name} ({col})")


def _insert(conn: sqlite3.Connection, name: str, df: pd.DataFrame) -> None:
    columns = [c for c, _ in WAREHOUSE_TABLES[name]]
    marks = ", ".join("?" * len(columns))
    # plain lists: iterating pandas arrays element by element costs more than SQLite does
    rows = zip(*(df[c].tolist() for c in columns), strict=True)
    conn.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)


def atomic_build(target: Path, build, mode: int = 0o640, attach: str | None = None) -> None:
    """Run ``build(conn)`` on a scratch database, then move it over ``target`` atomically.

    ``attach``: a ``file:`` URI attached as ``src`` first (ATTACH cannot run in a transaction).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None, uri=True)
        try:
            if attach:
                conn.execute("ATTACH DATABASE ? AS src", (attach,))
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("BEGIN")
            build(conn)
            conn.execute("COMMIT")
        finally:
            conn.close()
        os.chmod(tmp, mode)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_sqlite(target: Path, tables: dict[str, pd.DataFrame], progress) -> None:
    """Replace the warehouse at ``target`` with ``tables`` in one step."""

    def build(conn):
        create_tables(conn)
        for name, df in tables.items():
            _insert(conn, name, df)
            progress.update(len(df))
        create_indexes(conn)

    atomic_build(target, build)
