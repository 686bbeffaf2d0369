"""Resource limits applied to the session's processes before they run user code."""

import resource
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    memory_bytes: int  # address space per process (RLIMIT_AS); 0 = unlimited
    processes: int  # processes/threads of the researcher's uid (RLIMIT_NPROC)
    open_files: int  # descriptors per process (RLIMIT_NOFILE)

    def apply(self) -> None:
        """Set the limits in the current (forked, still-root) process; children inherit them."""
        if self.memory_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (self.memory_bytes, self.memory_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (self.processes, self.processes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))
        # a core dump would write the session's memory (query results) to disk
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
