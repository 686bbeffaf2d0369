"""The bubblewrap command lines every sandbox for a researcher's code is made of.

A research session (``enclave.hub.isolation.sandbox``, which adds its network link) and a
re-execution of a submission (``enclave.review_service.reexecution``, which needs none) run
their command as ``bwrap_argv(spec) + ["--"] + drop_privileges(account) + argv``: new mount,
PID, IPC, network, UTS and cgroup namespaces, a fresh root with ``/usr`` and ``/etc``
read-only, the venv and any ``read_only`` paths read-only, the ``workspace_fd`` as home, private
tmpfs scratch, its own ``/proc``, ``/dev`` and ``/dev/mqueue``, no ``/sys``; ``setpriv`` drops
to the account with no capabilities and ``no_new_privs``. The hub's module docstring says
what each part keeps out.
"""

import os
import pwd
import shutil
from dataclasses import dataclass

from enclave.errors import EnclaveError

BWRAP = "bwrap"
SETPRIV = "setpriv"
HOSTNAME = "enclave"
ROOT_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108 (private tmpfs, the sandbox's own)
START_TIMEOUT = 20


class SandboxError(EnclaveError):
    """A sandbox could not be fully set up; its message is one line, fit for the user."""


@dataclass(frozen=True)
class SandboxSpec:
    """What a sandbox shows and who runs in it."""

    account: pwd.struct_passwd
    workspace_fd: int  # the project workspace, opened without following links: the home
    venv: str  # the session venv, read-only
    read_only: tuple[str, ...] = ()  # more host paths shown read-only at the same place
    scratch_bytes: int = 512 * 1024**2  # size of each private tmpfs
    home: str = ""  # where the workspace is shown (default: the account's home directory)
    writable: tuple[str, ...] = ()  # more host paths shown writable at the same place


def bwrap_argv(
    spec: SandboxSpec, info_fd: int | None = None, block_fd: int | None = None
) -> list[str]:
    """The ``bwrap`` command line (before ``--``) for ``spec``; ``info_fd``/``block_fd``: where
    bwrap says its pid and what holds it back until its network link is attached."""
    argv = [
        BWRAP,
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup",
        "--die-with-parent",
        "--new-session",  # no TIOCSTI into a terminal outside
        "--hostname",
        HOSTNAME,
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name in ROOT_DIRS:
        path = f"/{name}"
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    made = {"/", "/usr", "/etc"}

    def parents(path: str) -> list[str]:
        # bwrap would make missing parents 0700 (root's): the researcher must pass through
        ancestors, out = [], []
        parent = os.path.dirname(path)
        while parent not in made:
            ancestors.append(parent)
            parent = os.path.dirname(parent)
        for directory in reversed(ancestors):
            made.add(directory)
            out += ["--perms", "0755", "--dir", directory]
        made.add(path)
        return out

    argv += ["--ro-bind", "/etc", "/etc"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--mqueue", "/dev/mqueue"]
    made |= {"/proc", "/dev", "/dev/mqueue"}
    for path in SCRATCH:  # before the binds: one under /tmp (a test's) must not be covered
        argv += parents(path)
        argv += ["--size", str(spec.scratch_bytes), "--perms", "1777", "--tmpfs", path]
    for path in (spec.venv, *spec.read_only):
        argv += [*parents(path), "--ro-bind", path, path]
    for path in spec.writable:
        argv += [*parents(path), "--bind", path, path]
    home = spec.home or spec.account.pw_dir
    argv += [*parents(home), "--bind-fd", str(spec.workspace_fd), home, "--chdir", home]
    if info_fd is not None:
        argv += ["--info-fd", str(info_fd)]
    if block_fd is not None:
        argv += ["--block-fd", str(block_fd)]
    return argv


def drop_privileges(account: pwd.struct_passwd) -> list[str]:
    """``setpriv``: the researcher's uid, gid and groups; no capabilities can come back."""
    return [
        SETPRIV,
        f"--reuid={account.pw_uid}",
        f"--regid={account.pw_gid}",
        "--init-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def check_tools() -> None:
    """Fail closed when the tools the sandbox is made of are missing."""
    tools = ((BWRAP, "bubblewrap"), (SETPRIV, "util-linux"), ("nsenter", "util-linux"))
    for tool, package in tools:
        if shutil.which(tool) is None:
            raise SandboxError(f"`{tool}` is not installed (Debian package {package}).")
