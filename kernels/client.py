"""The ``warehouse`` object of an enclave session: read the project's slice, every query recorded.

A query's rows reach the researcher only after its lineage record (project, notebook, SQL, row
count, institutions read, time) has been accepted by the recorder; if recording fails, the rows
are dropped and the query is refused. Nothing here logs SQL results.
"""

import os
from collections.abc import Mapping
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from enclave.kernels.errors import QueryRefused, WarehouseError, explain_query_error
from enclave.kernels.masked import Masked
from enclave.kernels.recording import recorder_from_environment
from enclave.warehouse import lineage

POSTGRES_SCHEMA = "warehouse"


class Warehouse:
    """Read-only access to one project's warehouse slice.

    ``query(sql, params=None)`` runs one SELECT (named parameters as ``:name``) and returns a
    DataFrame; ``tables()`` lists the tables; ``describe(table)`` shows one table's columns.
    """

    def __init__(self, url: str | None, project: str | None, notebook: str | None, recorder):
        self._url = Masked(url) if url else None  # it holds the session role's password
        self.project = project
        self.notebook = notebook
        self.recorder = recorder
        self._engine: sa.Engine | None = None
        self._columns: dict[str, list[dict]] | None = None  # table -> columns, read once
        self._institutions: dict[str, set[str]] = {}  # table -> institutions seen, per session
        # told of every result returned (frame, SQL, institutions read): the kernel's
        # structured outputs name the institutions, so the gate applies their policies
        self.on_result = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "Warehouse":
        """Configured by the hub's spawner, or by ``enclave report run`` for a report kernel
        (``environ``: this process's environment unless given)."""
        environ = os.environ if environ is None else environ
        return cls(
            url=environ.get("ENCLAVE_WAREHOUSE_URL"),
            project=environ.get("ENCLAVE_PROJECT"),
            # a report run names its output notebook; jupyter-server names the session's notebook
            notebook=environ.get("ENCLAVE_NOTEBOOK") or environ.get("JPY_SESSION_NAME"),
            recorder=recorder_from_environment(environ),
        )

    def __repr__(self) -> str:
        return f"<enclave warehouse for project {self.project!r}>"

    # -- public API ------------------------------------------------------------------------

    def query(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        """Run one read-only statement and return its rows; it is recorded before you see them."""
        if not isinstance(sql, str) or not sql.strip():
            raise WarehouseError("query: give the SQL text of one SELECT statement.")
        if not self.project:
            raise QueryRefused(
                "query refused: ENCLAVE_PROJECT is not set, so the query cannot be attributed "
                "to a project; start the session from the hub."
            )
        params = dict(params or {})
        engine = self._connect()
        with engine.connect() as conn:
            columns, rows, tables = self._execute(conn, sql.strip().rstrip(";"), params)
            try:
                institutions = self._institutions_of(conn, tables)
            except sa.exc.SQLAlchemyError as e:  # fail closed: no lineage, no result
                raise QueryRefused(
                    "query refused: the institutions it reads could not be determined."
                ) from e
        self.recorder.record(
            {
                "project": self.project,
                "notebook": self.notebook,
                "sql": sql,
                "rows": len(rows),
                "institutions": sorted(institutions),
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
        if self.on_result is not None:
            self.on_result(frame, sql, institutions)
        return frame

    def tables(self) -> list[str]:
        """Names of the warehouse tables this session can query."""
        return sorted(self._catalog())

    def describe(self, table: str) -> pd.DataFrame:
        """Columns of ``table``: name, type and whether it may be null."""
        name = table.removeprefix(f"{POSTGRES_SCHEMA}.") if isinstance(table, str) else table
        catalog = self._catalog()
        if name not in catalog:
            raise WarehouseError(
                f"describe: unknown table {table!r}; warehouse.tables() lists the tables."
            )
        return pd.DataFrame(
            [(c["name"], str(c["type"]), bool(c["nullable"])) for c in catalog[name]],
            columns=["column", "type", "nullable"],
        )

    def close(self) -> None:
        """Close the warehouse connections (the next call reconnects)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- internals -------------------------------------------------------------------------

    def _connect(self) -> sa.Engine:
        if self._engine is None:
            if self._url is None:
                raise WarehouseError(
                    "ENCLAVE_WAREHOUSE_URL is not set: this session has no warehouse access; "
                    "start it from the hub for one of your approved projects."
                )
            from enclave.warehouse.db import connect_readonly

            self._engine = connect_readonly(self._url.reveal())
        return self._engine

    @property
    def _postgres(self) -> bool:
        return self._connect().dialect.name == "postgresql"

    def _catalog(self) -> dict[str, list[dict]]:
        if self._columns is None:
            schema = POSTGRES_SCHEMA if self._postgres else None
            try:
                with self._connect().connect() as conn:
                    inspector = sa.inspect(conn)
                    self._columns = {
                        name: inspector.get_columns(name, schema=schema)
                        for name in inspector.get_table_names(schema=schema)
                    }
            except sa.exc.SQLAlchemyError as e:
                raise WarehouseError(
                    f"the warehouse cannot be read ({type(e).__name__}); ask an administrator."
                ) from e
        return self._columns

    def _execute(self, conn: sa.Connection, sql: str, params: dict):
        """Run the statement; return (column names, rows, tables read)."""
        try:
            if self._postgres:
                # prepared statements hold exactly one command: "SELECT 1; DELETE ..." is refused
                conn.connection.driver_connection.prepare_threshold = 0
                conn.execute(sa.text("SET TRANSACTION READ ONLY"))
                read = lineage.postgres_tables_read(conn, sql, params)
                # a plan that cannot tell what it reads counts as reading every table
                tables = (
                    set(self._catalog())
                    if read is None
                    else {name for schema, name in read if schema == POSTGRES_SCHEMA}
                )
                return (*self._rows(conn, sql, params), tables)
            with lineage.sqlite_read_only(conn.connection.driver_connection):
                tables = lineage.sqlite_tables_read(conn, sql, params)
                return (*self._rows(conn, sql, params), tables)
        except sa.exc.ArgumentError as e:  # a :name with no value in params
            raise WarehouseError(f"query: {e}") from None
        except sa.exc.StatementError as e:
            if isinstance(e.orig, sa.exc.SQLAlchemyError):  # about the statement, e.g. a :name
                raise WarehouseError(f"query: {str(e.orig).splitlines()[0]}") from None
            explained = explain_query_error(e.orig, sql) if e.orig is not None else None
            if explained:  # names only what the statement itself says
                raise WarehouseError(explained) from None
            # otherwise only the driver's error class: its message may quote values ("invalid
            # input syntax for type integer: ...")
            kind = type(e.orig).__name__ if e.orig is not None else type(e).__name__
            raise WarehouseError(
                f"query failed ({kind}); check the SQL's syntax, and its tables and columns "
                "against warehouse.tables() and warehouse.describe(table)."
            ) from None

    @staticmethod
    def _rows(conn: sa.Connection, sql: str, params: dict):
        result = conn.execute(sa.text(sql), params)
        if not result.returns_rows:
            raise QueryRefused("query refused: only statements that return rows are allowed.")
        return list(result.keys()), result.fetchall()

    def _institutions_of(self, conn: sa.Connection, tables: set[str]) -> set[str]:
        catalog = self._catalog()
        carrying = [
            t for t in tables if any(c["name"] == "institution" for c in catalog.get(t, ()))
        ]
        quote = conn.dialect.identifier_preparer.quote
        for table in carrying:
            if table not in self._institutions:
                qualified = (
                    f"{quote(POSTGRES_SCHEMA)}.{quote(table)}" if self._postgres else quote(table)
                )
                self._institutions[table] = lineage.institutions_in(conn, qualified)
        return set().union(*(self._institutions[t] for t in carrying))
