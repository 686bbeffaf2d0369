"""The ``warehouse`` object of an enclave session: read the project's slice, every read recorded.

Recording is done where the kernel cannot reach it. On SQLite the session holds no file: it asks
its query process (``enclave.warehouse.query_server``, outside the sandbox) over a Unix socket,
and that process records each statement before it runs it and streams the rows back as Arrow.
On PostgreSQL the session's role reads a hot standby whose pgAudit records every statement
server-side. Nothing here logs SQL results.
"""

import contextlib
import os
import socket
from collections.abc import Mapping

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from enclave.kernels.errors import QueryRefused, WarehouseError, explain_query_error
from enclave.kernels.masked import Masked
from enclave.session_env import PROJECT, WAREHOUSE_URL
from enclave.warehouse import lineage
from enclave.warehouse.query_protocol import (
    ProtocolError,
    parameter,
    read_frame,
    send_frame,
    socket_path,
)

POSTGRES_SCHEMA = "warehouse"


class Warehouse:
    """Read-only access to one project's warehouse slice.

    ``query(sql, params=None)`` runs one SELECT (named parameters as ``:name``) and returns a
    DataFrame; ``tables()`` lists the tables; ``describe(table)`` shows one table's columns.
    """

    def __init__(self, url: str | None, project: str | None):
        self._url = Masked(url) if url else None  # a PostgreSQL URL holds the role's password
        self.project = project
        self._backend = None
        # told of every result returned (frame, SQL, institutions read): the kernel's
        # structured outputs name the institutions, so the gate applies their policies
        self.on_result = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "Warehouse":
        """Configured by the hub's spawner, or by whoever started the kernel for a run
        (``environ``: this process's environment unless given)."""
        environ = os.environ if environ is None else environ
        return cls(url=environ.get(WAREHOUSE_URL), project=environ.get(PROJECT))

    def __repr__(self) -> str:
        return f"<enclave warehouse for project {self.project!r}>"

    # -- public API ------------------------------------------------------------------------

    def query(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        """Run one read-only statement and return its rows (recorded before it runs)."""
        if not isinstance(sql, str) or not sql.strip():
            raise WarehouseError("query: give the SQL text of one SELECT statement.")
        if not self.project:
            raise QueryRefused(
                "query refused: ENCLAVE_PROJECT is not set, so the query cannot be attributed "
                "to a project; start the session from the hub."
            )
        if params is not None and not isinstance(params, dict):
            raise WarehouseError("query: give the parameters as a dict of name to value.")
        frame, institutions = self._connect().query(sql, dict(params or {}))
        if self.on_result is not None:
            self.on_result(frame, sql, institutions)
        return frame

    def tables(self) -> list[str]:
        """Names of the warehouse tables this session can query."""
        return sorted(self._connect().catalog())

    def describe(self, table: str) -> pd.DataFrame:
        """Columns of ``table``: name, type and whether it may be null."""
        name = table.removeprefix(f"{POSTGRES_SCHEMA}.") if isinstance(table, str) else table
        catalog = self._connect().catalog()
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
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def _connect(self):
        if self._backend is None:
            if self._url is None:
                raise WarehouseError(
                    "ENCLAVE_WAREHOUSE_URL is not set: this session has no warehouse access; "
                    "start it from the hub for one of your approved projects."
                )
            url = self._url.reveal()
            path = socket_path(url)
            if path is not None:
                self._backend = QueryProcessBackend(path)
            elif url.startswith(("postgresql", "postgres:")):
                self._backend = PostgresBackend(url)
            else:
                raise WarehouseError(
                    "ENCLAVE_WAREHOUSE_URL: a session reads SQLite through its query process "
                    "(an enclave-query:// socket) or PostgreSQL through its role; start the "
                    "session from the hub."
                )
        return self._backend


class QueryProcessBackend:
    """The session's SQLite query process, over its Unix socket."""

    def __init__(self, path: str):
        self.path = path
        self._sock: socket.socket | None = None
        self._catalog: dict | None = None

    def _ask(self, request: dict) -> tuple[dict, object]:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
            except OSError as e:
                sock.close()
                raise WarehouseError(
                    f"the warehouse cannot be reached ({e.strerror}); restart the session from "
                    "the hub, or ask an administrator."
                ) from None
            self._sock = sock
            self._reader = sock.makefile("rb")
            self._writer = sock.makefile("wb")
        try:
            send_frame(self._writer, request)
            answer = read_frame(self._reader)
        except (OSError, ProtocolError):
            answer = None
        if answer is None:
            self.close()
            raise WarehouseError(
                "the warehouse connection broke; run the query again, or restart the session."
            )
        if not answer.get("ok"):
            error = str(answer.get("error") or "the query process refused the request.")
            raise (QueryRefused if answer.get("refused") else WarehouseError)(error)
        return answer, self._reader

    def query(self, sql: str, params: dict) -> tuple[pd.DataFrame, list[str]]:
        """The rows, and the institutions the query process found the statement reads."""
        values = {str(k): parameter(str(k), v) for k, v in params.items()}
        answer, reader = self._ask({"op": "query", "sql": sql, "params": values})
        try:
            table = pa.ipc.open_stream(reader).read_all()
        except (pa.ArrowInvalid, OSError):
            self.close()
            raise WarehouseError(
                "the warehouse connection broke while reading rows; run the query again."
            ) from None
        return table.to_pandas(), list(answer.get("institutions") or ())

    def catalog(self) -> dict[str, list[dict]]:
        if self._catalog is None:
            self._catalog = self._ask({"op": "catalog"})[0]["catalog"]
        return self._catalog

    def version(self) -> str:
        """The extract's version (changes whenever it is rebuilt)."""
        return str(self._ask({"op": "catalog"})[0]["version"])

    def close(self) -> None:
        if self._sock is not None:
            for f in (self._reader, self._writer, self._sock):
                with contextlib.suppress(OSError):
                    f.close()
            self._sock = None


class PostgresBackend:
    """The session's PostgreSQL role on the hot standby (pgAudit records every statement)."""

    def __init__(self, url: str):
        from enclave.warehouse.db import connect_readonly

        self.engine = connect_readonly(url)
        self._catalog: dict | None = None
        self._institutions: dict[str, set[str]] = {}  # table -> institutions its rows hold

    def query(self, sql: str, params: dict) -> tuple[pd.DataFrame, list[str]]:
        """The rows, and the institutions in the tables the plan reads (for the kernel's
        structured outputs; the record of the read is pgAudit's)."""
        sql = sql.strip().rstrip(";")
        try:
            with self.engine.connect() as conn:
                # prepared statements hold exactly one command: "SELECT 1; DELETE ..." is refused
                conn.connection.driver_connection.prepare_threshold = 0
                conn.execute(sa.text("SET TRANSACTION READ ONLY"))
                read = lineage.postgres_tables_read(conn, sql, params)
                result = conn.execute(sa.text(sql), params)
                if not result.returns_rows:
                    raise QueryRefused(
                        "query refused: only statements that return rows are allowed."
                    )
                columns, rows = list(result.keys()), result.fetchall()
                institutions = self._institutions_of(conn, read)
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
        frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
        return frame, sorted(institutions)

    def _institutions_of(self, conn, read) -> set[str]:
        """Institutions present in the tables read (a plan that cannot tell: every table)."""
        catalog = self.catalog()
        tables = set(catalog) if read is None else {t for s, t in read if s == POSTGRES_SCHEMA}
        found: set[str] = set()
        for table in tables:
            if not any(c["name"] == "institution" for c in catalog.get(table, ())):
                continue
            if table not in self._institutions:
                quote = conn.dialect.identifier_preparer.quote
                name = f"{quote(POSTGRES_SCHEMA)}.{quote(table)}"
                self._institutions[table] = lineage.institutions_in(conn, name)
            found |= self._institutions[table]
        return found

    def catalog(self) -> dict[str, list[dict]]:
        if self._catalog is None:
            try:
                with self.engine.connect() as conn:
                    inspector = sa.inspect(conn)
                    names = inspector.get_table_names(schema=POSTGRES_SCHEMA)
                    readable = self._readable_columns(conn)
                    self._catalog = {
                        n: [
                            c
                            for c in inspector.get_columns(n, schema=POSTGRES_SCHEMA)
                            if (n, c["name"]) in readable
                        ]
                        for n in names
                        if any(t == n for t, _ in readable)
                    }
            except sa.exc.SQLAlchemyError as e:
                raise WarehouseError(
                    f"the warehouse cannot be read ({type(e).__name__}); ask an administrator."
                ) from None
        return self._catalog

    @staticmethod
    def _readable_columns(conn) -> set[tuple[str, str]]:
        """(table, column) pairs this role may SELECT: a project's grant can leave out tables
        and columns its owners did not approve, and the catalog shows only what it may read."""
        rows = conn.execute(
            sa.text(
                "SELECT c.relname, a.attname FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND a.attnum > 0 AND NOT a.attisdropped "
                "AND has_column_privilege(c.oid, a.attnum, 'SELECT')"
            ),
            {"schema": POSTGRES_SCHEMA},
        )
        return {(table, column) for table, column in rows}

    def close(self) -> None:
        self.engine.dispose()
