"""A workspace per project: a session's home directory holds only the chosen project's files.

Data may be used only for the project it was approved for, so what a researcher saved while
working on project B must not be at hand in a project-A session. Each project gets its own
directory ``~/.enclave-projects/<project>`` (0700, the researcher's; the ``.enclave-projects``
directory itself is root's, 0711, so the workspaces cannot be renamed or swapped). The
spawner creates it, with the project's output directory inside; the session's sandbox shows it
as the home directory (``sandbox.py``). The session then sees that project's files
as its home and nothing else: the real home and every other project's workspace are covered.

Every directory on the way is opened without following symbolic links: they sit in the
researcher's home, and root must not be led elsewhere by a link planted there.
"""

import contextlib
import os
import pwd

WORKSPACES = ".enclave-projects"
_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC  # a link: ELOOP


def _layout(account: pwd.struct_passwd, project: str):
    """``(name, uid, gid, mode)`` of each directory from the home down to the output directory."""
    mine = (account.pw_uid, account.pw_gid, 0o700)
    return [
        (WORKSPACES, 0, 0, 0o711),
        (project, *mine),
        ("projects", *mine),
        (project, *mine),
        ("outputs", *mine),
    ]


def _open_home(account: pwd.struct_passwd) -> int:
    return os.open(account.pw_dir, _OPEN)


def prepare_workspace(account: pwd.struct_passwd, project: str) -> str:
    """Create (or repair the owners and modes of) ``project``'s workspace and its
    ``projects/<project>/outputs``; return that output directory as the session sees it."""
    fd = _open_home(account)
    try:
        for name, uid, gid, mode in _layout(account, project):
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, mode, dir_fd=fd)
            child = os.open(name, _OPEN, dir_fd=fd)
            os.close(fd)
            fd = child
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return os.path.join(account.pw_dir, "projects", project, "outputs")


def open_workspace(account: pwd.struct_passwd, project: str) -> int:
    """An open descriptor of ``project``'s workspace (made by ``prepare_workspace``), reached
    without following links and checked to be the researcher's: the sandbox shows it as the
    home directory (``bwrap --bind-fd``). The caller closes it."""
    fd = _open_home(account)
    try:
        for name in (WORKSPACES, project):
            child = os.open(name, _OPEN, dir_fd=fd)
            os.close(fd)
            fd = child
        if os.fstat(fd).st_uid != account.pw_uid:
            raise PermissionError(f"the workspace of {project!r} is not {account.pw_name}'s")
    except BaseException:
        os.close(fd)
        raise
    return fd
