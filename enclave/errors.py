"""The one error type every enclave command raises for a user's mistake, and the faults it names.

The CLI prints an ``EnclaveError`` as a single line (no traceback) and exits with
``exit_code``. Messages are full sentences naming the file or field and what to do next; they
never carry cell outputs, query results or raw identifiers.

A full disk, a read-only or missing folder, a refused permission, a database that refuses,
drops or terminates the connection, a lock or statement timeout: these are not bugs but the
machine's state, and ``explain`` turns each into such a line, naming the path or the database
(never its password) and what to do. ``naming(where)`` does that for a block of work that knows
what it is working on. What ``explain`` does not know stays an internal error: a bug.
"""

import contextlib
import errno
from pathlib import Path

OS_ERROR = 74  # the operating system refused (sysexits' EX_IOERR)
DATABASE_ERROR = 4  # the database refused, dropped or ended the connection, or is out of room


class EnclaveError(Exception):
    """A problem the user can fix; shown as one line, exit status ``exit_code``."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


_NO_SPACE = "no space is left on its device; free some space there (or choose another place)"
_READ_ONLY = "is on a read-only file system; choose a place that can be written"
_DENIED = "permission denied; run as a user allowed there, or choose another place"
_LOST = "closed the connection; check that it runs, then run again"
_OS = {
    errno.ENOSPC: _NO_SPACE,
    errno.EDQUOT: "the disk quota is used up; free some space (or choose another place)",
    errno.EFBIG: "the file would grow beyond what this file system (or a limit) allows",
    errno.EROFS: _READ_ONLY,
    errno.ENOENT: "does not exist; check the path (a folder must exist before files go in it)",
    errno.ENOTDIR: "a part of the path is not a folder; check the path",
    errno.EISDIR: "is a folder; give the path of a file",
    errno.EEXIST: "already exists; remove it or choose another name",
    errno.EACCES: _DENIED,
    errno.EPERM: _DENIED,
    errno.ENAMETOOLONG: "the name is too long; choose a shorter path",
    errno.ELOOP: "has too many symbolic links in its path; check the path",
    errno.EMFILE: "too many files are open; close some (or raise the open-file limit)",
    errno.ENFILE: "too many files are open on this machine; try again later",
    errno.EIO: "an input/output error on its device; check the disk",
    errno.ENOMEM: "not enough memory; close other work or use a machine with more memory",
    errno.ECONNREFUSED: "refused the connection; start it or fix the address",
    errno.ECONNRESET: _LOST,
    errno.EPIPE: _LOST,
    errno.ETIMEDOUT: "did not answer in time; check that it runs and can be reached",
    errno.EHOSTUNREACH: "cannot be reached over the network; check the address",
    errno.ENETUNREACH: "cannot be reached over the network; check the address",
}
_SQLITE = {
    "SQLITE_FULL": _NO_SPACE,
    "SQLITE_READONLY": "cannot be written (read-only file, folder or file system); choose a "
    "place that can be written",
    "SQLITE_CANTOPEN": "cannot be opened (its folder is missing or not writable, or it is not a "
    "file); check the path",
    "SQLITE_PERM": _DENIED,
    "SQLITE_AUTH": _DENIED,
    "SQLITE_BUSY": "is locked by another process; run again when that has finished",
    "SQLITE_LOCKED": "is locked by another process; run again when that has finished",
    "SQLITE_IOERR": "an input/output error on its device (a full or failing disk); check the disk",
    "SQLITE_CORRUPT": "is damaged or not a SQLite database; restore it from a backup",
    "SQLITE_NOTADB": "is not a SQLite database; check the path",
    "SQLITE_NOMEM": "not enough memory; close other work or use a machine with more memory",
}
_SQLITE_FILE_SYSTEM = {"FULL", "IOERR", "READONLY", "CANTOPEN", "PERM"}
_CONNECTION = "the connection to the database was lost; check that PostgreSQL runs, then run again"
_POSTGRES = {  # by SQLSTATE class or code
    "08": _CONNECTION,
    "57P01": "the database server ended this session (an administrator, or a server shutdown); "
    "run again",
    "57P02": "the database server crashed and ended this session; run again once it is back",
    "57P03": "the database server is starting or stopping; run again in a moment",
    "57014": "a statement was cancelled (a statement timeout, or an administrator); run again",
    "55P03": "a lock could not be had in time (another session holds it); run again when it has "
    "finished",
    "40P01": "a deadlock with another session; run again",
    "40001": "a conflict with another session; run again",
    "53100": "the database server is out of disk space; ask its administrator to free some",
    "53200": "the database server is out of memory; try again later",
    "53300": "the database server has no connection left; try again later",
    "42501": "this role may not do that; use a role with the privileges it needs",
    "25006": "the database is read-only here (a standby, or a read-only session); use the primary",
    "3D000": "the database does not exist; check the URL",
    "28P01": "the password was refused; check the URL's user and password",
    "28000": "the server refused this role; check the URL's user (and pg_hba.conf)",
}


def explain(error: BaseException, where: str | None = None) -> EnclaveError | None:
    """A one-line ``EnclaveError`` for a foreseeable fault of the OS or a database, or None.

    ``where`` names what was being worked on (a path, a database shown without its
    password); an OS error names its own file when it knows one.
    """
    error = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
    if isinstance(error, OSError) and error.errno in _OS:
        path = _target(error.filename) or where
        return EnclaveError(f"{path or 'a file'}: {_OS[error.errno]}.", OS_ERROR)
    name = getattr(error, "sqlite_errorname", None)
    if name:
        meaning = _SQLITE.get(name) or _SQLITE.get("_".join(name.split("_")[:2]))
        if meaning:  # the file system's faults, or the database file's
            code = OS_ERROR if name.split("_")[1] in _SQLITE_FILE_SYSTEM else DATABASE_ERROR
            return EnclaveError(f"{where or 'the SQLite database'}: {meaning}.", code)
    if type(error).__module__.startswith("psycopg"):
        state = getattr(error, "sqlstate", None)
        meaning = _POSTGRES.get(state or "") or _POSTGRES.get((state or "")[:2])
        if meaning is None and state is None and type(error).__name__ == "OperationalError":
            meaning = _CONNECTION  # lost without a word from the server
        if meaning:
            return EnclaveError(f"{where or 'the database'}: {meaning}.", DATABASE_ERROR)
    return None


@contextlib.contextmanager
def naming(where: str, consequence: str = ""):
    """Within the block, a foreseeable OS or database fault becomes a one-line ``EnclaveError``
    naming ``where`` (and, if given, the ``consequence``: "Nothing was loaded.")."""
    try:
        yield
    except EnclaveError:
        raise
    except Exception as e:
        translated = explain(e, where)
        if translated is None:
            raise
        message = f"{translated} {consequence}".strip()
        raise EnclaveError(message, translated.exit_code) from e


def _target(filename) -> str | None:
    """The path to name for ``filename``: a scratch file is named by what it was building."""
    if not filename:
        return None
    path = Path(str(filename))
    scratch = ".enclave-scratch-"  # enclave.scratch.PREFIX (not imported: the CLI loads this)
    if path.name.startswith(scratch):
        label = path.name[len(scratch) :].rsplit("-", 1)[0]
        return str(path.with_name(label))
    return str(path)
