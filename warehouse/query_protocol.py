"""The wire between a kernel and its SQLite query process: framed JSON asks, Arrow IPC answers.

Over one Unix stream socket, each request is a frame (4-byte big-endian length, then UTF-8
JSON): ``{"op": "query", "sql": ..., "params": {...}}`` or ``{"op": "catalog"}``. Each answer is
a JSON frame ``{"ok": true, ...}`` or ``{"ok": false, "error": ..., "refused": bool}``; a
successful query's frame is followed by the rows as one Arrow IPC stream (schema, record
batches, end-of-stream marker), columnar and typed, never row by row.
"""

import json
import socket
import struct
from datetime import date, datetime, time

from enclave.errors import EnclaveError

FRAME = struct.Struct("!I")
MAX_FRAME = 8 * 1024 * 1024  # a request or an answer header; the rows travel as Arrow
SCHEME = "enclave-query"  # ENCLAVE_WAREHOUSE_URL=enclave-query:///path/to/socket


class ProtocolError(EnclaveError):
    """The other end sent something that is not a frame of this protocol, or hung up."""


def socket_url(path: str) -> str:
    return f"{SCHEME}://{path}"


def socket_path(url: str) -> str | None:
    """The socket a ``enclave-query://`` URL names; None for any other URL."""
    prefix = f"{SCHEME}://"
    return url[len(prefix) :] if url.startswith(prefix) else None


def send_frame(stream, message: dict) -> None:
    data = json.dumps(message, separators=(",", ":")).encode()
    if len(data) > MAX_FRAME:
        raise ProtocolError(f"a message of {len(data):,} bytes is over the {MAX_FRAME:,} limit.")
    stream.write(FRAME.pack(len(data)) + data)
    stream.flush()


def read_frame(stream) -> dict | None:
    """The next frame, or None when the other end closed the connection between frames."""
    head = stream.read(FRAME.size)
    if not head:
        return None
    if len(head) < FRAME.size:
        raise ProtocolError("the connection closed inside a frame.")
    (size,) = FRAME.unpack(head)
    if size > MAX_FRAME:
        raise ProtocolError(f"a frame of {size:,} bytes is over the {MAX_FRAME:,} limit.")
    data = stream.read(size)
    if len(data) < size:
        raise ProtocolError("the connection closed inside a frame.")
    try:
        message = json.loads(data)
    except ValueError:
        raise ProtocolError("a frame is not JSON.") from None
    if not isinstance(message, dict):
        raise ProtocolError("a frame is not a JSON object.")
    return message


def parameter(name: str, value):
    """A query parameter as JSON carries it (numbers, text, booleans, null; dates as ISO text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy and pandas scalars
    if callable(item):
        return parameter(name, item())
    raise EnclaveError(
        f"query: parameter {name!r} is a {type(value).__name__}; give a number, text, a "
        "boolean, None or a date."
    )


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (from the kernel, not it)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid
