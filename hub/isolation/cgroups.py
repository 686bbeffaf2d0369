"""A memory limit for the whole session (all its processes together), where cgroup v1 allows.

RLIMIT_AS caps each process; a session could still start several big processes. The session's
processes are therefore put in a memory cgroup of their own, nested under the hub's own cgroup
(so whatever limits the hub itself keep applying), with ``memory.limit_in_bytes`` set: when the
session as a whole exceeds it, the kernel's OOM killer ends a process of that session only.
"""

import os
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
        """Remove the cgroup once its processes are gone (rmdir fails while any remain)."""
        deadline = time.monotonic() + timeout
        while self.path.exists():
            try:
                self.path.rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
