"""A private mount namespace per session: other users' processes hidden, chosen paths covered.

Called in the forked child before it drops to the researcher's uid. ``/proc`` is remounted with
``hidepid=invisible`` (other uids' processes disappear from ``ps`` and ``/proc``), each
``hidden_paths`` entry is covered by an empty read-only tmpfs (e.g. PostgreSQL's socket
directory, whose ``local ... trust`` lines must never be reachable from a session), and each
``private_paths`` entry (``/tmp``) gets a tmpfs of its own, so sessions share no scratch space. The
researcher cannot undo either: unmounting needs CAP_SYS_ADMIN, which they do not have. The
home directory is covered the same way by the project's workspace (``workspaces.py``).
"""

import ctypes
import ctypes.util
import os

CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source, target, fstype, flags, data) -> None:
    _check(
        _libc.mount(
            source and source.encode(),
            target.encode(),
            fstype and fstype.encode(),
            flags,
            data and data.encode(),
        ),
        f"mount {target}",
    )


def isolate_mounts(hide_processes: bool = True, hidden_paths=(), private_paths=()) -> None:
    """Enter a private mount namespace: hidepid /proc (if asked), ``hidden_paths`` covered,
    and a fresh tmpfs on each of ``private_paths`` (/tmp shared with no other user)."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # stop our mounts propagating back to the host
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    if hide_processes:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible")
    for path in hidden_paths:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k")
    for path in private_paths:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=512m")


def bind_mount(source: str, target: str) -> None:
    """Show ``source`` at ``target`` (in the calling process's mount namespace)."""
    _mount(source, target, None, MS_BIND, None)
