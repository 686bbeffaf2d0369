"""Start and stop a SQLite query process (``query_server``) for one session or one run.

``QueryProcess(config=...).start(extract, socket_path, ...)`` binds the listening socket (owned
by the session's uid, mode 0600, in a directory the caller made), opens the query log for
appending, and starts the server with both descriptors; it returns once the server says it is
ready (it has opened the extract and, as root, dropped to ``QueryProcess.account``). The
caller gives the kernel ``ENCLAVE_WAREHOUSE_URL=enclave-query://<socket_path>`` and nothing
else: no path to the extract, no file it could open.
"""

import os
import pwd
import secrets
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from traitlets import Float, Integer, Unicode
from traitlets.config import Configurable

from enclave.errors import EnclaveError
from enclave.warehouse.query_protocol import socket_url

READY = b"query process ready"
PR_SET_PDEATHSIG = 1


class QueryProcessError(EnclaveError):
    """A query process could not be started; one line, fit for the user."""


class QueryProcess(Configurable):
    """How SQLite sessions and re-executions reach their project's extract."""

    account = Unicode(
        "enclave-query",
        help="""Unix account the query processes run as once they have opened their extract
        (a system account of their own, created by the hub if missing; never a researcher's).
        Its uid owns nothing: the extract stays root's, readable only through the descriptors
        opened before the switch.""",
    ).tag(config=True)

    log_file = Unicode(
        "/var/lib/enclave/query-log.jsonl",
        help="""Where every SQLite session's query process appends a record of each statement
        before running it (root-owned, 0600). The hub imports it into the audit trail while
        sessions run and when they stop; the review service before it decides whose stewards
        must sign off.""",
    ).tag(config=True)

    connections = Integer(
        4, min=1, help="""SQLite connections per query process (queries answered at once)."""
    ).tag(config=True)

    statement_timeout = Float(
        600.0,
        help="""Seconds one statement may run in a query process before it is interrupted
        (the kernel then gets "ran longer than the statement time limit").""",
    ).tag(config=True)

    memory_limit = Integer(
        4 * 1024**3,
        min=0,
        help="""Address-space limit (bytes) of a query process; a query whose result would
        need more is refused. 0: none.""",
    ).tag(config=True)

    python = Unicode(
        sys.executable,
        help="""Interpreter the query processes run (with this project and pyarrow installed,
        readable by ``account``): the session venv's.""",
    ).tag(config=True)

    def start(
        self,
        extract: str,
        socket_path: str,
        *,
        peer: pwd.struct_passwd,
        user: str,
        project: str,
        log_file: str | None = None,
    ) -> "RunningQueryProcess":
        """A query process serving ``extract`` to ``peer``'s uid at ``socket_path``, started
        (it dies with the thread that started it: start it from a long-lived one) but not yet
        ready: ``wait_ready()`` before giving its URL to a kernel."""
        as_root = os.geteuid() == 0
        if as_root:
            account = ensure_account(self.account)
        listener = _listen(socket_path, peer)
        try:
            log_fd = os.open(
                log_file or self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600
            )
        except OSError as e:
            listener.close()
            raise QueryProcessError(
                f"the query log {log_file or self.log_file} cannot be opened ({e.strerror}); "
                "ask an administrator (QueryProcess.log_file)."
            ) from None
        session = secrets.token_hex(8)
        argv = [
            self.python,
            "-m",
            "enclave.warehouse.query_server",
            *("--extract", extract),
            *("--listen-fd", str(listener.fileno()), "--log-fd", str(log_fd)),
            *("--peer-uid", str(peer.pw_uid), "--user", user, "--project", project),
            *("--session", session, "--connections", str(self.connections)),
            *("--statement-timeout", str(self.statement_timeout)),
        ]
        if as_root:
            argv += ["--run-as", account.pw_name]
        limit = self.memory_limit
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(listener.fileno(), log_fd),
                preexec_fn=lambda: _child_setup(limit),
                start_new_session=True,
                cwd="/",  # `python -m` puts its cwd first on sys.path: never a checkout's
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            )
        finally:
            listener.close()
            os.close(log_fd)
        return RunningQueryProcess(process, socket_path, session)


@dataclass
class RunningQueryProcess:
    process: subprocess.Popen
    socket_path: str
    session: str  # the id every record of this process carries

    @property
    def url(self) -> str:
        return socket_url(self.socket_path)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        said = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 4096)
                said += chunk
                if READY in said:
                    return
                if not chunk:
                    break
            elif self.process.poll() is not None:
                break
        self.stop()
        last = said.decode(errors="replace").strip().splitlines()[-1:] or ["no answer"]
        raise QueryProcessError(f"the query process did not start: {last[0][:200]}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        Path(self.socket_path).unlink(missing_ok=True)


def _listen(path: str, peer: pwd.struct_passwd) -> socket.socket:
    """The listening socket, connectable by ``peer``'s uid only (and root)."""
    Path(path).unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        os.chmod(path, 0o600)
        if os.geteuid() == 0:
            os.chown(path, peer.pw_uid, peer.pw_gid)
        listener.listen(16)
    except OSError as e:
        listener.close()
        raise QueryProcessError(
            f"the query socket {path} cannot be made ({e.strerror or e}); choose a shorter path."
        ) from None
    listener.set_inheritable(True)
    return listener


def _child_setup(memory_limit: int) -> None:
    """In the forked child: die with the parent (no query process outlives its session's
    owner), and the memory limit."""
    import ctypes
    import resource
    import signal

    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))


def ensure_account(name: str, purpose: str = "query processes") -> pwd.struct_passwd:
    """A system account of the enclave's own (no home, no shell, a group of its own): the
    query processes', or the re-executions'."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    result = subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--shell",
         "/usr/sbin/nologin", "--comment", f"enclave {purpose}", name],
        capture_output=True,
        text=True,
    )  # fmt: skip
    try:
        return pwd.getpwnam(name)  # made by us, or by another hub meanwhile
    except KeyError:
        raise QueryProcessError(
            f"the account {name!r} for {purpose} cannot be created "
            f"({result.stderr.strip()[:200]}); create it or choose another in the configuration."
        ) from None
