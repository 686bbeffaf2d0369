"""Starting and stopping dev-stack processes so that nothing outlives them.

``stop_process`` ends one process: SIGTERM, then SIGKILL after a grace period. A hub starts
more than itself (the proxy, its services, sessions), each in a session of its own, and
whatever it fails to stop (a crash, a SIGKILL after the grace period) is re-parented to init
and runs on. ``ProcessTree`` therefore starts a process in a memory cgroup of its own (cgroup
v1, no limit: nested under this process's own memory cgroup, as session cgroups nest under the
hub's); every process it starts stays in that subtree, and ``end()`` kills what is still there.
Without a cgroup v1 memory controller it falls back to the process's descendants found in
``/proc`` (which misses those re-parented already).
"""

import contextlib
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from enclave.hub.isolation.cgroups import hub_memory_cgroup


def stop_process(process: subprocess.Popen | None, grace_seconds: float) -> None:
    """SIGTERM ``process``; SIGKILL it if it is still running after ``grace_seconds``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ProcessTree:
    """A process and everything it starts, ended together (see the module docstring)."""

    def __init__(self, label: str):
        base = hub_memory_cgroup()
        self.cgroup = base / f"{label}-{uuid.uuid4().hex[:8]}" if base else None
        if self.cgroup:
            self.cgroup.mkdir()
        self.process: subprocess.Popen | None = None

    def popen(self, args, **kwargs) -> subprocess.Popen:
        """``subprocess.Popen`` in a new session (Ctrl-C on a terminal reaches only us, and we
        stop it in order) and in the tree's cgroup from before its first instruction."""
        procs = str(self.cgroup / "cgroup.procs") if self.cgroup else None

        def enter_cgroup():
            if procs:
                with open(procs, "w") as f:
                    f.write(str(os.getpid()))

        self.process = subprocess.Popen(
            args, start_new_session=True, preexec_fn=enter_cgroup, **kwargs
        )
        return self.process

    def members(self) -> list[int]:
        """Every live process of the tree but the first, if it still runs."""
        if self.cgroup is None:
            return _descendants(self.process.pid) if self.process else []
        pids = []
        for procs in sorted(self.cgroup.rglob("cgroup.procs")):
            with contextlib.suppress(FileNotFoundError):
                pids += [int(p) for p in procs.read_text().split()]
        return pids

    def stop(self, grace_seconds: float) -> list[str]:
        """Stop the first process (SIGTERM, SIGKILL after ``grace_seconds``), then kill every
        process left in the tree and remove its cgroups. Returns what had to be killed
        (``pid command``): empty when the process stopped everything it started."""
        survivors = []
        if self.process is not None and self.process.poll() is None and self.cgroup is None:
            survivors = _descendants(self.process.pid)  # found while they still have a parent
        stop_process(self.process, grace_seconds)
        left = [f"{pid} {_command(pid)}" for pid in self.members() or survivors]
        self._kill_all(survivors)
        return [entry for entry in left if not entry.endswith(" ?")]

    def _kill_all(self, extra: list[int], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while True:
            pids = self.members() + extra
            extra = []
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if self.cgroup is None or self._remove_cgroups():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.cgroup}: processes remain after SIGKILL")
            time.sleep(0.05)

    def _remove_cgroups(self) -> bool:
        """rmdir the tree's cgroups, deepest first; False while any still holds a process."""
        for directory in sorted(
            (p for p in self.cgroup.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)
        ):
            with contextlib.suppress(FileNotFoundError):
                try:
                    directory.rmdir()
                except OSError:
                    return False
        try:
            self.cgroup.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            return False
        return True


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"
