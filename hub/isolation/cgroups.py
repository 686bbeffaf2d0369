"""A memory limit for the whole session (all its processes together), where cgroup v1 allows.

RLIMIT_AS caps each process; a session could still start several big processes. The session's
processes are therefore put in a memory cgroup of their own, nested under the hub's own cgroup
(so whatever limits the hub itself keep applying), with ``memory.limit_in_bytes`` set: when the
session as a whole exceeds it, the kernel's OOM killer ends a process of that session only.
"""

import contextlib
import os
import signal
import time
from pathlib import Path

CGROUP_V1_MEMORY = Path("/sys/fs/cgroup/memory")


def hub_memory_cgroup() -> Path | None:
    """The hub's own memory cgroup directory, or None without a cgroup v1 memory controller."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            directory = CGROUP_V1_MEMORY / path.lstrip("/")
            return directory if (directory / "cgroup.procs").exists() else None
    return None


class SessionCgroup:
    def __init__(self, base: Path, user: str):
        self.path = base / f"enclave-{user}"

    def create(self, limit_bytes: int) -> None:
        self.path.mkdir(exist_ok=True)
        (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))

    def join(self) -> None:
        """Move the calling process (the forked session, before exec) into the cgroup."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self, timeout: float = 10) -> None:
        """Kill every process left in the cgroup, then remove it (rmdir fails while any remain).

        A process the researcher detached (``setsid nohup ...``) survives the session server;
        left running it would keep the researcher's access (an open extract, a connection)
        after the session ended. Killing in a loop also catches processes forked meanwhile."""
        deadline = time.monotonic() + timeout
        while self.path.exists():
            self._kill_members()
            try:
                self.path.rmdir()
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _kill_members(self) -> None:
        try:
            pids = (self.path / "cgroup.procs").read_text().split()
        except FileNotFoundError:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile
                os.kill(int(pid), signal.SIGKILL)
