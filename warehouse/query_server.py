"""The SQLite query process: a session's only way to its project's extract, recording every read.

A research kernel (or a re-execution's kernel) never opens the extract: the hub starts this
process outside the session's sandbox, as root, with the listening Unix socket and the query
log already open (``--listen-fd``, ``--log-fd``). It opens the extract read-only (``immutable``,
a fixed number of connections), then drops to an account of its own (``--run-as``: no groups,
no capabilities, ``no_new_privs``, a network namespace with nothing in it). From then on the
extract is held only through those open descriptors: the file itself stays root's, unreadable
to the session and to this process alike.

For every statement it is asked to run it first works out what it reads (``EXPLAIN``: the
b-trees the program opens) under an authorizer that denies anything but reading, then appends
the record — user, project, session, statement text, the relations and institutions it reads
— to the query log and ``fsync``s it, and only then runs the statement. No record, no rows.
Parameter values and results are never written anywhere. Rows go back to the kernel as an
Arrow IPC stream (``query_protocol``); errors as one line naming only the driver's error class.

Only the session's own uid may connect (``SO_PEERCRED``, checked per connection).
"""

import argparse
import ctypes
import fcntl
import json
import os
import pwd
import queue
import resource
import socket
import sqlite3
import sys
import threading
import time
from datetime import UTC, datetime
from urllib.parse import quote

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect

from enclave.warehouse.db import SCHEMA, file_version
from enclave.warehouse.lineage import (
    SQLITE_OPEN_READ,
    QueryRefused,
    WarehouseError,
    explain_query_error,
    sqlite_authorizer,
)
from enclave.warehouse.query_protocol import ProtocolError, peer_uid, read_frame, send_frame

BATCH_ROWS = 65536  # rows per Arrow record batch
CLONE_NEWNET = 0x40000000
PR_SET_NO_NEW_PRIVS = 38


class QueryLogFailed(QueryRefused):
    def __init__(self, reason: str):
        super().__init__(f"query refused: it could not be recorded for audit ({reason}).")


class QueryLog:
    """Append one JSON line per statement (under ``flock``, ``fsync``ed) to an open file."""

    def __init__(self, fd: int):
        self.fd = fd
        self._lock = threading.Lock()

    def append(self, record: dict) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._lock:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX)
                try:
                    self._write(line)
                finally:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
            except OSError as e:
                raise QueryLogFailed(e.strerror or type(e).__name__) from None

    def _write(self, line: bytes) -> None:
        """The whole line or none of it (a full disk takes part of a write without an error)."""
        start = os.fstat(self.fd).st_size
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self.fd, view) :]
            os.fsync(self.fd)
        except OSError:
            os.ftruncate(self.fd, start)
            raise


class Extract:
    """The extract's open connections, its catalog and the institutions each table holds."""

    def __init__(self, path: str, connections: int, heap_limit: int):
        uri = f"file:{quote(path)}?mode=ro&immutable=1"
        self.version = file_version(path)
        self._free: queue.Queue[sqlite3.Connection] = queue.Queue()
        for _ in range(connections):
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            conn.execute("PRAGMA temp_store = MEMORY")  # no temp files after the uid is dropped
            self._free.put(conn)
        if heap_limit:
            conn.execute(f"PRAGMA hard_heap_limit = {int(heap_limit)}")
        conn = self._free.get()
        try:
            self.catalog = _catalog(conn)
            self.institutions = {
                table: {v for (v,) in conn.execute(f'SELECT DISTINCT institution FROM "{table}"')}
                - {None}
                for table, columns in self.catalog.items()
                if any(c["name"] == "institution" for c in columns)
            }
        finally:
            self._free.put(conn)

    def connection(self) -> sqlite3.Connection:
        return self._free.get()

    def release(self, conn: sqlite3.Connection) -> None:
        self._free.put(conn)


def _catalog(conn: sqlite3.Connection) -> dict[str, list[dict]]:
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {
        name: [
            {"name": column, "type": kind or "", "nullable": not notnull}
            for _cid, column, kind, notnull, _default, _pk in conn.execute(
                f'PRAGMA table_info("{name}")'
            )
        ]
        for name in tables
    }


class QueryServer:
    """Answers one session's requests (see the module docstring)."""

    def __init__(self, extract: Extract, log: QueryLog, who: dict, statement_timeout: float):
        self.extract = extract
        self.log = log
        self.who = who  # user, project, session: written into every record
        self.statement_timeout = statement_timeout
        self._statements = 0
        self._count_lock = threading.Lock()

    def serve(self, listener: socket.socket, peer: int) -> None:
        while True:
            client, _ = listener.accept()
            if peer_uid(client) != peer:
                client.close()  # not the session's uid: no word, no data
                continue
            threading.Thread(target=self._converse, args=(client,), daemon=True).start()

    def _converse(self, client: socket.socket) -> None:
        with client, client.makefile("rb") as reader, client.makefile("wb") as writer:
            try:
                while (request := read_frame(reader)) is not None:
                    self.answer(request, writer)
            except (ProtocolError, OSError):
                return  # a broken or hostile client: drop the connection

    def answer(self, request: dict, writer) -> None:
        op = request.get("op")
        if op == "catalog":
            catalog = {"ok": True, "catalog": self.extract.catalog, "version": self.extract.version}
            send_frame(writer, catalog)
            return
        if op != "query":
            send_frame(writer, {"ok": False, "refused": True, "error": "unknown request."})
            return
        conn = self.extract.connection()
        try:
            table, institutions = self.query(conn, request.get("sql"), request.get("params"))
        except WarehouseError as e:
            refused = isinstance(e, QueryRefused)
            send_frame(writer, {"ok": False, "refused": refused, "error": str(e)})
            return
        finally:
            conn.set_authorizer(None)
            conn.set_progress_handler(None, 0)
            self.extract.release(conn)
        send_frame(writer, {"ok": True, "rows": table.num_rows, "institutions": institutions})
        sink = pa.PythonFile(writer, mode="w")
        with pa.ipc.new_stream(sink, table.schema) as stream:
            stream.write_table(table)
        writer.flush()

    def query(self, conn: sqlite3.Connection, sql, params) -> tuple[pa.Table, list[str]]:
        """Record, then run; the rows as an Arrow table, and the institutions read."""
        if not isinstance(sql, str) or not sql.strip():
            raise WarehouseError("query: give the SQL text of one SELECT statement.")
        if params is not None and not isinstance(params, dict):
            raise WarehouseError("query: parameters must be a mapping of name to value.")
        text, values = compile_statement(sql.strip().rstrip(";"), params or {})
        denied: list[int] = []
        conn.set_authorizer(sqlite_authorizer(denied))
        deadline = time.monotonic() + self.statement_timeout
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 10000)
        try:
            tables = self._tables_read(conn, text, values, denied)
            institutions = self._record(sql, tables)
            cursor = conn.execute(text, values)
            if cursor.description is None:
                raise QueryRefused("query refused: only statements that return rows are allowed.")
            columns = [d[0] for d in cursor.description]
            chunks = []
            while rows := cursor.fetchmany(BATCH_ROWS):
                chunks.append(_arrays(len(columns), rows))
        except sqlite3.Error as e:
            raise _failure(e, sql, denied, time.monotonic() > deadline) from None
        return as_table(columns, chunks), institutions

    def _tables_read(self, conn, text: str, values, denied: list[int]) -> set[str]:
        """Tables whose b-trees the compiled program opens (views: their base tables).

        The authorizer alone is not enough: SQLite does not report the columns of a ``JOIN ...
        USING`` condition it synthesizes, so a join used only as a filter would go unseen."""
        program = conn.execute(f"EXPLAIN {text}", values).fetchall()
        roots = {
            p2 for _, opcode, _p1, p2, p3, *_ in program if opcode in SQLITE_OPEN_READ and p3 == 0
        }
        conn.set_authorizer(None)  # the catalog is ours to read
        try:
            owners = conn.execute("SELECT rootpage, tbl_name FROM sqlite_master WHERE rootpage > 0")
            return {table for rootpage, table in owners if rootpage in roots}
        finally:
            conn.set_authorizer(sqlite_authorizer(denied))

    def _record(self, sql: str, tables: set[str]) -> list[str]:
        with self._count_lock:
            self._statements += 1
            number = self._statements
        institutions = set().union(*(self.extract.institutions.get(t, set()) for t in tables))
        self.log.append(
            {
                **self.who,
                "statement": number,
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "sql": sql,
                "relations": sorted(f"{SCHEMA}.{t}" for t in tables),
                "institutions": sorted(institutions),
            }
        )
        return sorted(institutions)


def compile_statement(sql: str, params: dict) -> tuple[str, list]:
    """SQLAlchemy ``text()`` rules (``:name`` parameters, ``\\:`` a literal colon) as qmark SQL."""
    try:
        compiled = sa.text(sql).compile(dialect=sqlite_dialect.dialect())
    except sa.exc.SQLAlchemyError as e:
        raise WarehouseError(f"query: {str(e).splitlines()[0]}") from None
    names = compiled.positiontup or []
    missing = sorted({n for n in names if n not in params})
    if missing:
        raise WarehouseError(
            f"query: no value for parameter(s) {', '.join(':' + n for n in missing)}; pass them "
            "in the params dict."
        )
    return str(compiled), [params[n] for n in names]


def _failure(e: sqlite3.Error, sql: str, denied: list[int], timed_out: bool) -> WarehouseError:
    if denied:
        return QueryRefused(
            "query refused: a research session may only read (SELECT); writes, schema "
            "changes, ATTACH and PRAGMA are not allowed."
        )
    if timed_out:
        return QueryRefused("query refused: it ran longer than the statement time limit.")
    explained = explain_query_error(e, sql)  # names only what the statement itself says
    if explained:
        return WarehouseError(explained)
    # else only the class: the driver's message may quote values
    return WarehouseError(
        f"query failed ({type(e).__name__}); check the SQL's syntax, and its tables and columns "
        "against warehouse.tables() and warehouse.describe(table)."
    )


def as_table(columns: list[str], chunks: list[list[pa.Array]]) -> pa.Table:
    """One typed table from the batches' arrays.

    SQLite is dynamically typed: a column's type is the one its values share across batches
    (integers with floats become floats; anything else mixed becomes text)."""
    kinds = []
    for i in range(len(columns)):
        seen = {chunk[i].type for chunk in chunks} - {pa.null()}
        if not seen:
            kinds.append(pa.null())
        elif len(seen) == 1:
            kinds.append(seen.pop())
        elif all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in seen):
            kinds.append(pa.float64())
        else:
            kinds.append(pa.string())
    schema = pa.schema(list(zip(columns, kinds, strict=True)))
    batches = [
        pa.record_batch([_fit(a, t) for a, t in zip(chunk, kinds, strict=True)], schema=schema)
        for chunk in chunks
    ]
    return pa.Table.from_batches(batches, schema=schema)


def _arrays(width: int, rows: list[tuple]) -> list[pa.Array]:
    out = []
    for values in zip(*rows, strict=True) if rows else [()] * width:
        try:
            out.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed within the batch
            out.append(_as_text(values))
    return out


def _as_text(values) -> pa.Array:
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _fit(array: pa.Array, kind: pa.DataType) -> pa.Array:
    if array.type == kind:
        return array
    if pa.types.is_string(kind) and not pa.types.is_null(array.type):
        return _as_text(array.to_pylist())
    return array.cast(kind)


def drop_privileges(account: str) -> None:
    """No network, then the account's uid and gid, no supplementary groups, no way back."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")
    entry = pwd.getpwnam(account)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m enclave.warehouse.query_server")
    parser.add_argument("--extract", required=True)
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--log-fd", type=int, required=True)
    parser.add_argument("--peer-uid", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--session", required=True)
    parser.add_argument("--run-as", default="", help="account to drop to (when started as root)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--statement-timeout", type=float, default=600.0)
    parser.add_argument("--heap-limit", type=int, default=0)
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # results never land on disk
    try:
        extract = Extract(args.extract, args.connections, args.heap_limit)
    except sqlite3.Error as e:
        print(f"query process: the extract cannot be opened ({type(e).__name__}).", file=sys.stderr)
        return 2
    if args.run_as:
        drop_privileges(args.run_as)
    elif os.geteuid() == 0:
        print("query process: started as root without --run-as; refusing.", file=sys.stderr)
        return 2
    server = QueryServer(
        extract,
        QueryLog(args.log_fd),
        {"user": args.user, "project": args.project, "session": args.session},
        args.statement_timeout,
    )
    listener = socket.socket(fileno=args.listen_fd)
    print("query process ready", flush=True)
    server.serve(listener, args.peer_uid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
