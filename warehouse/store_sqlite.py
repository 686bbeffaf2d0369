"""Write the warehouse into a SQLite file, all or nothing.

The new warehouse is built in a scratch file beside the target and moved over it with
``os.replace``: readers that have the old file open keep their snapshot, new readers see the
whole new warehouse, and a failed load deletes the scratch file and leaves the old one
untouched. The build runs with journaling and syncing off (it is a scratch file until the
rename); indexes come after the bulk insert; the finished file is synced before the rename.
"""

import os
import sqlite3
from pathlib import Path

import pandas as pd

from enclave.scratch import Scratch, Swept, sweep
from enclave.warehouse.schema import INDEXED_COLUMNS, WAREHOUSE_TABLES


def create_tables(conn: sqlite3.Connection, only: dict[str, list[str]] | None = None) -> None:
    """The warehouse tables (``only``: just these tables, with just these columns)."""
    for name, columns in WAREHOUSE_TABLES.items():
        if only is not None and name not in only:
            continue
        cols = ", ".join(f"{c} {t} NOT NULL" for c, t in columns if only is None or c in only[name])
        conn.execute(f"CREATE TABLE {name} ({cols})")


def create_indexes(conn: sqlite3.Connection, names=tuple(WAREHOUSE_TABLES)) -> None:
    for name in names:
        present = {row[1] for row in conn.execute(f"PRAGMA main.table_info({name})")}
        for col in INDEXED_COLUMNS:
            if col in present:
                conn.execute(f"CREATE INDEX {name}_{col} ON {name} ({col})")


class ScratchDatabase:
    """A SQLite file built beside ``target`` in one transaction, then renamed over it.

    The scratch file (``enclave.scratch``: 0600, locked while it is built) is swept by the next
    build in that folder if this process is killed."""

    def __init__(self, target: Path, mode: int = 0o640, attach: str | None = None):
        """``attach``: a ``file:`` URI attached as ``src`` (ATTACH cannot run in a transaction)."""
        self.target, self.mode = target, mode
        target.parent.mkdir(parents=True, exist_ok=True)
        self.scratch = Scratch(target.parent, target.name)
        self.path = str(self.scratch.path)
        try:
            self.conn = sqlite3.connect(
                self.path, isolation_level=None, uri=True, check_same_thread=False
            )
            if attach:
                self.conn.execute("ATTACH DATABASE ? AS src", (attach,))
            self.conn.execute("PRAGMA journal_mode = OFF")
            self.conn.execute("PRAGMA synchronous = OFF")
            self.conn.execute("BEGIN")
        except BaseException:
            self.discard()
            raise

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()
        os.chmod(self.path, self.mode)
        if self.target.exists():  # a rebuild keeps the owner and group someone gave the file
            old = self.target.stat()
            os.chown(self.path, old.st_uid, old.st_gid)
        with open(self.path, "rb") as f:
            os.fsync(f.fileno())
        self.scratch.replace(self.target)

    def discard(self) -> None:
        if getattr(self, "conn", None) is not None:
            self.conn.close()  # before the scratch's lock goes: closing it drops SQLite's locks
        self.scratch.remove()


class SqliteSink:
    """The warehouse's tables, appended to a scratch database and published on ``finish``."""

    def __init__(self, target: Path):
        self.target = target
        self.scratch = None
        self.unindexed = list(WAREHOUSE_TABLES)

    def sweep(self) -> list[Swept]:
        """Scratch that interrupted loads left beside the warehouse and its project extracts."""
        return sweep(self.target.parent) + sweep(self.target.parent / "projects")

    def open(self) -> None:
        self.scratch = ScratchDatabase(self.target)
        create_tables(self.scratch.conn)

    def write(self, name: str, df: pd.DataFrame) -> None:
        """Append rows. Tables arrive one after another: a new one means the last is complete."""
        done = self.unindexed[: self.unindexed.index(name)] if name in self.unindexed else []
        create_indexes(self.scratch.conn, done)
        self.unindexed = [n for n in self.unindexed if n not in done]
        columns = [c for c, _ in WAREHOUSE_TABLES[name]]
        marks = ", ".join("?" * len(columns))
        # plain lists: iterating pandas arrays element by element costs more than SQLite does
        rows = zip(*(df[c].tolist() for c in columns), strict=True)
        self.scratch.conn.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)

    def finish(self) -> None:
        create_indexes(self.scratch.conn, self.unindexed)
        self.scratch.commit()

    def abort(self) -> None:
        if self.scratch:
            self.scratch.discard()
