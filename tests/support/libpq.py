"""libpq through ctypes, for what psycopg does not expose: fastpath function calls (``PQfn``)
and the client-side large-object import (``lo_import``)."""

import ctypes
import ctypes.util

CONNECTION_OK = 0
PGRES_COMMAND_OK = 1
PGRES_TUPLES_OK = 2


class _ArgBlock(ctypes.Structure):
    class _Value(ctypes.Union):
        _fields_ = [("ptr", ctypes.c_void_p), ("integer", ctypes.c_int)]

    _fields_ = [("len", ctypes.c_int), ("isint", ctypes.c_int), ("u", _Value)]


def _library():
    lib = ctypes.CDLL(ctypes.util.find_library("pq"))
    p, s, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    signatures = {
        "PQconnectdb": ([s], p),
        "PQstatus": ([p], i),
        "PQerrorMessage": ([p], s),
        "PQfinish": ([p], None),
        "PQexec": ([p, s], p),
        "PQresultStatus": ([p], i),
        "PQresultErrorMessage": ([p], s),
        "PQgetvalue": ([p, i, i], s),
        "PQclear": ([p], None),
        "PQfn": ([p, i, p, ctypes.POINTER(i), i, p, i], p),
        "lo_import": ([p, s], ctypes.c_uint),
    }
    for name, (args, result) in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = args, result
    return lib


class Libpq:
    """One libpq connection."""

    def __init__(self, conninfo: str):
        self.lib = _library()
        self.conn = self.lib.PQconnectdb(conninfo.encode())
        if self.lib.PQstatus(self.conn) != CONNECTION_OK:
            message = self.lib.PQerrorMessage(self.conn).decode()
            self.close()
            raise ConnectionError(message)

    def scalar(self, sql: str) -> str:
        result = self.lib.PQexec(self.conn, sql.encode())
        try:
            if self.lib.PQresultStatus(result) != PGRES_TUPLES_OK:
                raise RuntimeError(self.lib.PQresultErrorMessage(result).decode())
            return self.lib.PQgetvalue(result, 0, 0).decode()
        finally:
            self.lib.PQclear(result)

    def call(self, signature: str, *args: bytes) -> bytes:
        """Call the function ``signature`` (e.g. ``query_to_xml(text,boolean,boolean,text)``)
        over the fastpath protocol; each argument in binary form (text: its bytes, boolean:
        one byte). Returns the binary result; raises RuntimeError with the server's message."""
        oid = int(self.scalar(f"SELECT '{signature}'::regprocedure::oid"))
        blocks = (_ArgBlock * len(args))()
        buffers = [ctypes.create_string_buffer(arg, len(arg) or 1) for arg in args]
        for block, arg, buffer in zip(blocks, args, buffers, strict=True):
            block.len, block.isint = len(arg), 0
            block.u.ptr = ctypes.cast(buffer, ctypes.c_void_p)
        out = ctypes.create_string_buffer(1 << 20)
        length = ctypes.c_int()
        result = self.lib.PQfn(self.conn, oid, out, ctypes.byref(length), 0, blocks, len(args))
        try:
            if self.lib.PQresultStatus(result) != PGRES_COMMAND_OK:
                raise RuntimeError(self.lib.PQresultErrorMessage(result).decode())
            return out.raw[: length.value]
        finally:
            self.lib.PQclear(result)

    def lo_import(self, filename: str) -> int:
        """libpq's client-side import of a file as a large object; 0 when refused."""
        return self.lib.lo_import(self.conn, filename.encode())

    def error(self) -> str:
        return self.lib.PQerrorMessage(self.conn).decode()

    def close(self) -> None:
        if self.conn:
            self.lib.PQfinish(self.conn)
            self.conn = None
