"""Scratch files and folders: private, findable, removed at the end, and after a crash.

A long operation builds its result aside and publishes it in one step: a warehouse load, a
project extract, an upload to the review service, a report run, a gate output. What it builds
aside is pseudonymized data, a researcher's notebook, a report's outputs, so it must neither be
readable by others nor be left behind. ``Scratch(directory, label)`` creates it (a file 0600 or a
folder 0700) named ``.enclave-scratch-<label>-<random>``, and holds an exclusive ``flock`` on it
while the operation runs; ``remove()`` or ``replace(target)`` ends it. A process killed outright
(``kill -9``, the OOM killer, a power cut) leaves the scratch but not its lock, so
``sweep(directory)``, which each such operation runs when it starts, removes exactly the scratch
no running operation holds, and says what it removed and how large it was, for the audit trail.
Creation and sweeps take turns on a lock of the directory, so a sweep never takes a scratch
created that instant for an abandoned one.
"""

import contextlib
import fcntl
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

PREFIX = ".enclave-scratch-"


@dataclass(frozen=True)
class Swept:
    """A scratch file or folder an interrupted operation left, now removed."""

    path: Path
    size: int  # bytes

    def to_dict(self) -> dict:
        return {"path": str(self.path), "bytes": self.size}


@contextlib.contextmanager
def _directory_lock(directory: Path):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Scratch:
    """A private scratch file (or ``folder=True``: folder) in ``directory``, locked while used."""

    def __init__(self, directory: str | os.PathLike, label: str, *, folder: bool = False):
        directory = Path(directory)
        prefix = f"{PREFIX}{label}-"
        with _directory_lock(directory):
            if folder:
                self.path = Path(tempfile.mkdtemp(dir=directory, prefix=prefix))  # 0700
                self._lock = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            else:
                self._lock, name = tempfile.mkstemp(dir=directory, prefix=prefix)  # 0600
                self.path = Path(name)
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.folder = folder

    def release(self) -> None:
        """Drop the lock (the scratch is gone, or published)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def remove(self) -> None:
        if self.folder:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            self.path.unlink(missing_ok=True)
        self.release()

    def replace(self, target: str | os.PathLike) -> None:
        """Publish: rename the scratch over ``target`` (same file system), in one step."""
        os.replace(self.path, target)
        self.release()

    def __enter__(self) -> "Scratch":
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:  # not published: nothing of it stays
            self.remove()


def sweep(directory: str | os.PathLike) -> list[Swept]:
    """Remove the scratch in ``directory`` that no running operation holds; say what it was."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    swept = []
    with _directory_lock(directory):
        for entry in sorted(directory.iterdir()):
            if not entry.name.startswith(PREFIX) or entry.is_symlink():
                continue
            try:
                fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its operation is still running
                os.close(fd)
                continue
            try:
                if os.fstat(fd).st_ino != entry.lstat().st_ino:
                    continue  # replaced meanwhile: not the one whose lock was free
                size = _size(entry)
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except FileNotFoundError:  # its operation finished and removed it meanwhile
                continue
            finally:
                os.close(fd)
            swept.append(Swept(entry, size))
    return swept


def _size(path: Path) -> int:
    if not path.is_dir():
        return path.lstat().st_size
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def describe(swept: list[Swept]) -> str:
    """One line for a person: what a sweep removed."""
    total = sum(s.size for s in swept)
    return (
        f"removed {len(swept)} scratch item(s) ({total:,} bytes) that an interrupted operation "
        f"left in {swept[0].path.parent}"
    )


def record_sweep(engine, swept: list[Swept], *, actor: str, operation: str) -> None:
    """Put a sweep in the audit trail of the state database ``engine``: what, where, how large."""
    from enclave.audit import AuditAction, AuditLog

    AuditLog(engine).append(
        action=AuditAction.SCRATCH_SWEEP,
        actor=actor,
        details={
            "operation": operation,
            "removed": [s.to_dict() for s in swept],
            "bytes": sum(s.size for s in swept),
        },
    )


def report_sweep(swept: list[Swept], *, state_url: str | None, actor: str, operation: str) -> str:
    """For a command: record the sweep in the audit trail at ``state_url`` if that database
    exists, and return one line saying what was removed (and where it was recorded)."""
    from enclave.errors import EnclaveError
    from enclave.state import open_state

    line = describe(swept)
    if not state_url:
        return f"{line} (not recorded: no --config names the enclave's state database)"
    try:
        engine = open_state(state_url)
    except EnclaveError:
        return f"{line} (not recorded: the state database of --config does not exist)"
    try:
        record_sweep(engine, swept, actor=actor, operation=operation)
    finally:
        engine.dispose()
    return f"{line}; recorded in the audit trail"
