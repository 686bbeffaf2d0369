"""Reading the files users and institutions hand the enclave: regular files only, bounded.

An extract, a manifest, a notebook or a parameter grid is a path someone else chose. A named
pipe there blocks a reader for ever, ``/dev/zero`` (or a symbolic link to it) reads until memory
runs out, a socket cannot be opened at all. ``open_regular`` opens without blocking
(``O_NONBLOCK``), checks on the opened descriptor (``fstat``, so a swap after the check cannot
slip through) that it is a regular file no larger than the limit, and returns a reader that
refuses to go past the limit if the file grows while it is read. Every refusal is one line
naming the file, what it is, and the setting that bounds it.
"""

import io
import os
import stat

from traitlets import Integer
from traitlets.config import Configurable

from enclave.errors import EnclaveError

MiB = 1024 * 1024
_BLOCK = 64 * MiB  # a whole small file in one read
_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


class FileLimits(Configurable):
    """The largest files the enclave reads from users and institutions."""

    max_extract_bytes = Integer(
        2048 * MiB,
        min=1,
        help="""Largest CSV extract ``enclave warehouse load|check`` reads, in bytes. The loader
        holds a file in memory while it validates it (several times its size for a students
        file): raise this only on a machine with the memory for it.""",
    ).tag(config=True)

    max_notebook_bytes = Integer(
        256 * MiB,
        min=1,
        help="""Largest notebook the gate (``enclave review check|redact|render``, the review
        service, report templates) and ``enclave review submit`` read, in bytes. The review
        service also refuses uploads over ``ReviewService.max_upload_bytes``.""",
    ).tag(config=True)

    max_text_bytes = Integer(
        16 * MiB,
        min=1,
        help="""Largest small text input read, in bytes: an extracts folder's
        ``manifest.json`` and a report batch's parameter grid.""",
    ).tag(config=True)


class FileRefused(EnclaveError):
    """A path that is not a regular file, or is larger than its limit."""


class _Bounded(io.RawIOBase):
    """A descriptor read up to ``limit`` bytes; one byte more is a ``FileRefused``."""

    def __init__(self, fd: int, limit: int, refuse):
        self._fd, self._left, self._refuse = fd, limit, refuse

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer)
        n = os.readv(self._fd, [view[: self._left + 1]])
        if n > self._left:
            raise self._refuse("grew beyond")
        self._left -= n
        return n

    def readall(self) -> bytes:
        parts = []
        while chunk := os.read(self._fd, min(self._left + 1, _BLOCK)):
            if len(chunk) > self._left:
                raise self._refuse("grew beyond")
            self._left -= len(chunk)
            parts.append(chunk)
        return b"".join(parts)

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def open_regular(
    path: str | os.PathLike,
    limit: int,
    setting: str,
    *,
    name: str | None = None,
    exit_code: int | None = None,
) -> io.BufferedReader:
    """Open ``path`` for reading if it is a regular file of at most ``limit`` bytes.

    ``setting`` names the limit in messages (``FileLimits.max_extract_bytes``); ``name`` is how
    the file is named to the user (default: the path). Raises :class:`FileRefused` (exit
    ``exit_code``) for a non-regular or oversized file, and lets other ``OSError`` through
    (missing, permission) for the caller to word.
    """
    shown = name or str(path)

    def refuse(problem: str) -> FileRefused:
        if problem in ("is larger than", "grew beyond"):
            return FileRefused(
                f"{shown}: the file {problem} the {limit:,}-byte limit ({setting}); give a "
                "smaller file, or raise the limit in the configuration.",
                exit_code,
            )
        return FileRefused(
            f"{shown}: is {problem}, not a regular file; give the path of the file itself.",
            exit_code,
        )

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        kind = _kind_of(path)
        if kind:  # a socket cannot be opened (ENXIO): say what it is instead
            raise refuse(kind) from None
        raise e
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise refuse(_KINDS.get(stat.S_IFMT(info.st_mode), "not a plain file"))
        if info.st_size > limit:
            raise refuse("is larger than")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(_Bounded(fd, limit, refuse))


def read_regular(path: str | os.PathLike, limit: int, setting: str, **kwargs) -> bytes:
    """The whole content of a regular file of at most ``limit`` bytes (see ``open_regular``)."""
    with open_regular(path, limit, setting, **kwargs) as f:
        return f.read()


def _kind_of(path) -> str | None:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return _KINDS.get(stat.S_IFMT(mode))
