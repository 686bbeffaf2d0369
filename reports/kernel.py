"""The kernel manager report runs use: IPC sockets in the user's runtime dir, never TCP.

Sessions have per-uid egress rules that block loopback TCP, and a TCP kernel port on a shared
machine is reachable by other local users; Unix sockets in a 0700 directory are neither.
"""

import os
import uuid

from jupyter_client import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import default


class IpcKernelManager(AsyncKernelManager):
    @default("transport")
    def _transport_default(self) -> str:
        return "ipc"

    @default("connection_file")
    def _connection_file_default(self) -> str:
        # a unique file per kernel: the IPC socket paths derive from it, so parallel report
        # workers never race for the same "kernel-ipc-N" names
        runtime = jupyter_runtime_dir()
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        return os.path.join(runtime, f"kernel-report-{uuid.uuid4().hex}.json")
