"""The session sandbox: every namespace a container gets, built by bubblewrap (Debian's ``bwrap``).

A research session — and anything else that runs a researcher's code for them, such as a
re-execution — runs as ``Sandbox(...).start(argv, env)``: the hub (root) starts ``bwrap``, which
gives the command new mount, PID, IPC, network, UTS and cgroup namespaces, and ``setpriv``
(util-linux) then drops to the researcher's uid with no capabilities, an empty bounding set and
``no_new_privs``. Inside:

- **files**: a fresh root holding only ``/usr`` and ``/etc`` read-only, the session venv and any
  ``read_only`` paths (the SQLite extract) read-only, the project's workspace as the home
  directory (the one writable place that outlives the sandbox), private tmpfs for ``/tmp``,
  ``/var/tmp`` and ``/dev/shm``, a minimal ``/dev`` with its own ``devpts``, a ``/proc`` of the
  sandbox's own PID namespace, its own ``/dev/mqueue`` and no ``/sys`` (no cgroup files at all).
  Nothing of the host's other world-writable places (``/run/lock``, ...), the hub's
  directories, other homes or PostgreSQL's socket is there;
- **processes**: PID 1 of the namespace is bwrap's reaper; the session sees only its own
  processes, and when its command exits (or bwrap or the hub dies: ``--die-with-parent``) the
  kernel kills every process left in it;
- **IPC**: SysV semaphores, message queues and shared memory, and POSIX message queues, are the
  sandbox's own;
- **network**: a namespace of its own with one veth link to the host, where the hub's nftables
  table decides what it may reach (``network.py``); abstract Unix sockets are per namespace;
- **cgroup**: the session joins its memory cgroup before the namespaces are made, so the
  cgroup namespace's root is that cgroup.

bwrap blocks the sandbox before its command runs (``--block-fd``) until the hub has moved the
session end of the link into the new network namespace. Any step that fails ends the sandbox
and raises ``SandboxError`` with a one-line reason: a session is never started half-isolated.
"""

import asyncio
import collections
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable

from enclave.hub.isolation.network import NetworkError, SandboxNetwork, SessionLink
from enclave.sandbox import (  # noqa: F401  (SCRATCH, SandboxSpec: this module's API too)
    SCRATCH,
    START_TIMEOUT,
    SandboxError,
    SandboxSpec,
    bwrap_argv,
    check_tools,
    drop_privileges,
)


class Sandbox:
    """One sandbox: prepared (its link exists, its address is known), started, closed."""

    def __init__(
        self,
        spec: SandboxSpec,
        link: SessionLink,
        *,
        preexec: Callable[[], None] | None = None,
        log=None,
        label: str = "",
        output: Callable[[str], None] | None = None,
    ):
        self.spec = spec
        self.link = link
        self.preexec = preexec
        self.log = log
        self.label = label or spec.account.pw_name
        self.output = output or self._log_line
        self.process: subprocess.Popen | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=5)
        self._relay: asyncio.Task | None = None
        self._ready = asyncio.Event()
        self._ready_marker = ""

    @classmethod
    async def prepare(cls, spec: SandboxSpec, network: SandboxNetwork, **kwargs) -> "Sandbox":
        """Check the tools and create the sandbox's link (its address, for the command's env)."""
        check_tools()
        try:
            link = await network.create_link()
        except NetworkError as e:
            raise SandboxError(f"its network could not be set up: {e}") from None
        return cls(spec, link, **kwargs)

    @property
    def address(self) -> str:
        """Where the sandbox's own services listen (reachable from the hub and the proxy)."""
        return self.link.address

    def rewrite(self, url: str) -> str:
        """``url`` of a service on the hub's machine as the sandbox must use it."""
        return self.link.rewrite(url)

    async def start(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        """Start ``argv`` in the sandbox with exactly ``env``; returns once it runs inside."""
        began = time.perf_counter()
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            # the shell prints the marker once everything is set up and the uid is dropped
            self._ready_marker = f"enclave-sandbox-ready-{secrets.token_hex(8)}"
            command = [
                *bwrap_argv(self.spec, info_w, block_r),
                "--",
                *drop_privileges(self.spec.account),
                *("/bin/sh", "-c", 'echo "$0" && exec "$@"', self._ready_marker),
                *argv,
            ]
            self.process = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(info_w, block_r, self.spec.workspace_fd),
                preexec_fn=self.preexec,
                start_new_session=True,
            )
        finally:
            for fd in (info_w, block_r, out_w):
                os.close(fd)
        self._relay = asyncio.create_task(self._relay_output(out_r))
        try:
            pid = await self._sandbox_pid(info_r)
            try:
                await self.link.attach(pid)
                os.write(block_w, b"1")  # the command may start
            except (NetworkError, BrokenPipeError) as e:
                try:  # did bwrap give up setting up the mounts meanwhile?
                    await asyncio.wait_for(asyncio.shield(self.wait()), 2)
                except TimeoutError:
                    raise SandboxError(f"its network could not be set up: {e}") from None
                raise await self._failure() from None
            await self._until_ready()
        except BaseException:
            await self.close()
            raise
        finally:
            os.close(block_w)
        if self.log:
            self.log.info(
                "Sandbox of %s up in %.0f ms", self.label, (time.perf_counter() - began) * 1000
            )
        return self.process

    async def _sandbox_pid(self, info_r: int) -> int:
        """The host pid of the sandbox's PID 1, from bwrap's ``--info-fd``."""
        loop = asyncio.get_running_loop()
        try:
            data = await asyncio.wait_for(
                loop.run_in_executor(None, _read_info, info_r), START_TIMEOUT
            )
        except TimeoutError:
            raise SandboxError(f"bwrap did not start within {START_TIMEOUT} s.") from None
        finally:
            os.close(info_r)
        try:
            return int(json.loads(data)["child-pid"])
        except (ValueError, KeyError, TypeError):
            raise await self._failure() from None

    async def _until_ready(self) -> None:
        """Until the marker shows the command is about to run, or bwrap has given up."""
        ended = asyncio.ensure_future(self.wait())
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait({ended, ready}, timeout=START_TIMEOUT, return_when="FIRST_COMPLETED")
        finally:
            ready.cancel()
        if self._ready.is_set():
            ended.cancel()
            return
        if not ended.done():
            ended.cancel()
            raise SandboxError(f"the sandbox was not ready within {START_TIMEOUT} s.")
        raise await self._failure()

    async def _failure(self) -> SandboxError:
        """What bwrap said before it exited (its last line)."""
        code = await self.wait()
        said = self._output[-1] if self._output else f"exit status {code}"
        return SandboxError(f"bwrap failed: {said}")

    async def _relay_output(self, fd: int) -> None:
        """Log what the sandbox prints (its server's log), line by line, bounded."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=64 * 1024)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0)
        )
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # a line over the limit: skip it
                    continue
                if not line:
                    return
                text = line.decode(errors="replace").rstrip()[:1000]
                if not self._ready.is_set() and text == self._ready_marker:
                    self._ready.set()
                    continue
                self._output.append(text)
                self.output(text)
        finally:
            transport.close()

    def _log_line(self, text: str) -> None:
        if self.log:
            self.log.info("[%s] %s", self.label, text)

    async def wait(self) -> int:
        """Wait for the command to end and its output to be read; its exit status."""
        code = await exited(self.process)
        if self._relay is not None:
            await self._relay
        return code

    async def close(self) -> None:
        """End the sandbox (if still running) and forget its link."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # bwrap's --die-with-parent takes everything inside with it
            await exited(self.process)
        await self.link.remove()


async def exited(process: subprocess.Popen) -> int:
    """``process``'s exit status, awaited on a pidfd: no thread is held while it runs (a
    ``process.wait`` in the default executor held one per running session, and with more
    sessions than its workers every other blocking step of the hub queued behind them)."""
    if process.returncode is not None:
        return process.returncode
    loop = asyncio.get_running_loop()
    pidfd = os.pidfd_open(process.pid)  # not reaped yet (only ``process`` reaps it): still ours
    try:
        done = loop.create_future()
        loop.add_reader(pidfd, lambda: done.done() or done.set_result(None))
        try:
            if process.poll() is None:
                await done
        finally:
            loop.remove_reader(pidfd)
    finally:
        os.close(pidfd)
    return process.wait()


def _read_info(fd: int) -> bytes:
    """bwrap's JSON document on ``fd`` (read until it parses, or until end of file)."""
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
        try:
            json.loads(data)
        except ValueError:
            continue
        break
    return data
