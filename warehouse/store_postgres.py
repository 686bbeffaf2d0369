"""Write the warehouse into PostgreSQL, all or nothing, owned by a dedicated role.

One transaction: make sure the owner role exists, become it, build every table in a staging
schema (COPY, then indexes, then row-level security), drop the old ``warehouse`` schema and
rename the staging one in its place, and give the registered project roles their grants and
row policies again. Readers never see a half-built warehouse; a failure rolls everything back
(and a crash leaves only an uncommitted transaction, which the server discards).
"""

import io

import pandas as pd
import psycopg
from psycopg import sql

from enclave.errors import EnclaveError
from enclave.warehouse import grant
from enclave.warehouse.db import CONNECT_ERROR, SCHEMA, pg_connect, shown
from enclave.warehouse.schema import INDEXED_COLUMNS, WAREHOUSE_TABLES

STAGING = f"{SCHEMA}_staging"
CHUNK_ROWS = 200_000
SWAP_WAIT_MS = 60_000  # how long the swap waits for readers' open transactions
_PG_TYPES = {"TEXT": "text", "INTEGER": "integer", "REAL": "double precision"}


def _create(cur, schema: str) -> None:
    cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    for name, columns in WAREHOUSE_TABLES.items():
        cols = sql.SQL(", ").join(
            sql.SQL("{} {} NOT NULL").format(sql.Identifier(c), sql.SQL(_PG_TYPES[t]))
            for c, t in columns
        )
        cur.execute(
            sql.SQL("CREATE TABLE {}.{} ({})").format(
                sql.Identifier(schema), sql.Identifier(name), cols
            )
        )


def _copy(cur, schema: str, name: str, df: pd.DataFrame) -> None:
    columns = [c for c, _ in WAREHOUSE_TABLES[name]]
    statement = sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(schema),
        sql.Identifier(name),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
    )
    with cur.copy(statement) as copy:
        for start in range(0, len(df), CHUNK_ROWS):
            chunk = df[columns].iloc[start : start + CHUNK_ROWS]
            buf = io.StringIO()
            chunk.to_csv(buf, index=False, header=False, lineterminator="\n")
            copy.write(buf.getvalue())


def _finish_tables(cur, schema: str) -> None:
    for name, columns in WAREHOUSE_TABLES.items():
        table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))
        for col in INDEXED_COLUMNS:
            if col in dict(columns):
                cur.execute(sql.SQL("CREATE INDEX ON {} ({})").format(table, sql.Identifier(col)))
        # no policy = no rows: a project role sees only what grant_project allows it
        cur.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(table))
        cur.execute(sql.SQL("ANALYZE {}").format(table))


class PostgresSink:
    """The warehouse's tables, COPYed into a staging schema and swapped in on ``finish``."""

    def __init__(self, url: str):
        self.url = url
        self.conn = None

    def sweep(self) -> list:
        """Nothing to sweep: an interrupted load's transaction is discarded by the server."""
        return []

    def open(self) -> None:
        self.conn = pg_connect(self.url)
        self.cur = self.conn.cursor()
        try:
            owner = grant.prepare_owner(self.cur, self.conn.info.dbname)
        except psycopg.errors.InsufficientPrivilege:
            raise EnclaveError(
                f"{shown(self.url)}: this role may not create the warehouse owner role or grant "
                "on the database; load as a superuser (or the database owner with CREATEROLE).",
                CONNECT_ERROR,
            ) from None
        self.cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(owner)))
        _create(self.cur, STAGING)

    def write(self, name: str, df: pd.DataFrame) -> None:
        _copy(self.cur, STAGING, name, df)

    def finish(self) -> None:
        cur = self.cur
        _finish_tables(cur, STAGING)
        # dropping the old tables waits for readers' open transactions; not for ever
        cur.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{SWAP_WAIT_MS}ms")))
        try:
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
        except psycopg.errors.LockNotAvailable:
            raise EnclaveError(
                f"{shown(self.url)}: a session kept a transaction open on the warehouse for "
                f"{SWAP_WAIT_MS / 1000:g} s; nothing was changed. Retry when it has finished.",
                CONNECT_ERROR,
            ) from None
        cur.execute(
            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                sql.Identifier(STAGING), sql.Identifier(SCHEMA)
            )
        )
        grant.reapply_all(cur)
        self.conn.commit()
        self.conn.close()

    def abort(self) -> None:
        if self.conn is not None and not self.conn.closed:
            self.conn.rollback()
            self.conn.close()
