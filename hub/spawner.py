"""``EnclaveSpawner``: a research session as the researcher's own Unix account, fenced in.

Before anything starts, the spawner checks — and refuses with a clear message — that the user is
a researcher, has accepted the current data-use agreement, chose one of their active projects,
and has a Unix account. Then it gives the session exactly one project's read-only warehouse
access and starts the single-user server in a sandbox of its own (``isolation/sandbox.py``: every
namespace a container gets, the project's workspace as the home, a network namespace whose only
way out is the hub's nftables rules) with a scrubbed environment, resource limits and a memory
cgroup for the whole session. While
the session runs, ``poll()`` ends it as soon as a rule of the shared ``SessionPolicy`` (role,
agreement, project) or the server-side query recording no longer holds, or once its server has
sent more than ``max_output_bytes`` to the browser (counted on the host end of its link, where
the researcher cannot reach the counter); the bytes sent are recorded when it stops.
"""

import asyncio
import os
import pwd
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import sqlalchemy as sa
from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.traitlets import ByteSpecification
from traitlets import Bool, Integer, List, Unicode, default

from enclave.audit.actions import AuditAction
from enclave.errors import EnclaveError
from enclave.hub.context import enclave_context
from enclave.hub.isolation.cgroups import SessionCgroup, hub_memory_cgroup
from enclave.hub.isolation.limits import Limits
from enclave.hub.isolation.network import NetworkError, SandboxNetwork
from enclave.hub.isolation.postgres import SessionRoles, StatementImportFailed, ensure_cluster
from enclave.hub.isolation.sandbox import Sandbox, SandboxError, SandboxSpec
from enclave.hub.isolation.session_dirs import SOCKET, remove_session_dir, session_dir
from enclave.hub.isolation.session_venv import session_config_dir
from enclave.hub.isolation.workspaces import open_workspace, prepare_workspace
from enclave.hub.policy import SessionPolicy, refuse
from enclave.hub.services import wait_for_exit
from enclave.session_env import session_environment
from enclave.warehouse.db import WarehouseSettings, is_postgres
from enclave.warehouse.query_log import import_queries
from enclave.warehouse.query_process import QueryProcess, QueryProcessError
from enclave.warehouse.statement_log import import_statements

_networks: dict[str, SandboxNetwork] = {}
SESSION_PORT = 8888  # the session's server, on its sandbox's own address
_clusters_ready: set[tuple[str, str]] = set()
_import_lock = asyncio.Lock()  # one statement-log import at a time in this hub


_executors = weakref.WeakKeyDictionary()  # loop -> the executor this module gave it


def _enough_threads(workers: int) -> None:
    """Give the running loop a default executor of ``workers`` threads, once."""
    loop = asyncio.get_running_loop()
    if loop not in _executors:
        _executors[loop] = ThreadPoolExecutor(workers, thread_name_prefix="enclave-spawner")
        loop.set_default_executor(_executors[loop])


async def _in_thread_to_the_end(func, *args):
    """``func(*args)`` in a worker thread. Cancelled meanwhile, it still waits for the thread,
    then passes the cancellation on: the spawn's clean-up must not run while the thread may
    still grant access."""
    work = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait([work])
        raise


def _ensure_cluster_once(admin_url: str, reader_url: str) -> None:
    if (admin_url, reader_url) not in _clusters_ready:
        ensure_cluster(admin_url, reader_url)
        _clusters_ready.add((admin_url, reader_url))


class EnclaveSpawner(SessionPolicy, LocalProcessSpawner):
    """Isolated research sessions (see the module docstring)."""

    session_venv = Unicode(
        "/opt/enclave/venv",
        help="""Virtual environment the sessions run from (built from /usr/bin/python3 with a
        non-editable install of this project, readable by researcher accounts:
        ``make session-venv``).""",
    ).tag(config=True)

    sessions_dir = Unicode(
        "/var/lib/enclave/sessions",
        help="""Directory (0711 root) holding each running SQLite session's warehouse socket
        (its query process), reachable by that researcher only. Outside the hub's 0700
        directory.""",
    ).tag(config=True)

    egress_table = Unicode(
        "enclave",
        help="""Name of the nftables ``inet`` table holding the rules for the sessions' network
        links (what a sandbox may reach: ``hub/isolation/network.py``). Recreated when the hub
        starts (sessions end with the hub).""",
    ).tag(config=True)

    sandbox_subnet = Unicode(
        "10.213.0.0/16",
        help="""IPv4 range the sessions' veth links are numbered from (a /30 each: the host end
        is the session's gateway). Must not overlap a network this machine uses; one range for
        every hub on the machine.""",
    ).tag(config=True)

    allowed_egress = List(
        Unicode(),
        help="""Extra ``address:port`` pairs (IPv4, services on this machine) sessions may open
        TCP connections to, at ``<their gateway>:port``. The hub's API, the query-log service
        and (PostgreSQL) the warehouse are always reachable; everything else is rejected.""",
    ).tag(config=True)

    review_url = Unicode(
        help="""The review service as sessions reach it (``$ENCLAVE_REVIEW_URL``: ``enclave
        review submit``, the Lab button, report submissions). Defaults to
        ``<JupyterHub.bind_url>/services/<ReviewService.service_name>/``.""",
    ).tag(config=True)

    @default("review_url")
    def _review_url_default(self):
        from enclave.review_service.config import ReviewService

        bind_url = self.config.JupyterHub.get("bind_url", "http://127.0.0.1:8000")
        name = ReviewService(config=self.config).service_name
        if bind_url.startswith("https:"):
            # the proxy's certificate names the public host, not the sandbox's gateway: sessions
            # reach the service itself on this machine (through the hub's nftables rules)
            for service in self.config.JupyterHub.get("services", []):
                if service.get("name") == name and service.get("url"):
                    return service["url"].rstrip("/") + f"/services/{name}/"
        return bind_url.rstrip("/") + f"/services/{name}/"

    max_import_failures = Integer(
        3,
        min=1,
        help="""Consecutive failed audit-log imports (other than an unreadable log, which
        stops the session at once) after which a running PostgreSQL session is stopped. A
        transient state-database error is retried at the next poll; the statements stay in
        the log and are imported then.""",
    ).tag(config=True)

    max_processes = Integer(
        256, min=1, help="RLIMIT_NPROC for the researcher's uid (processes and threads)."
    ).tag(config=True)

    max_open_files = Integer(1024, min=16, help="RLIMIT_NOFILE per session process.").tag(
        config=True
    )

    blocking_threads = Integer(
        32,
        min=4,
        help="""Worker threads of the hub's default executor, where spawns and stops wait on
        blocking steps (the query process, cgroups, PostgreSQL roles, statement imports).
        Python's default is min(32, cores + 4): 6 on two cores, so 20 researchers starting
        at once queued behind each other's waits.""",
    ).tag(config=True)

    scratch_size = ByteSpecification(
        "512M",
        help="""Size of each of the sandbox's private tmpfs (``/tmp``, ``/var/tmp``,
        ``/dev/shm``), gone when the session stops. Their pages count against the session's
        memory cgroup.""",
    ).tag(config=True)

    max_output_bytes = ByteSpecification(
        "1G",
        help="""What a session's server may send to the browser in all (its kernels' outputs,
        files opened in Lab, terminals), counted by the hub on the host end of the session's
        link. A session over it is ended at the next poll, with a message saying why; a new
        session starts from zero. Every session's count is recorded when it stops
        (``session.output``). 0: no limit (still recorded).""",
    ).tag(config=True)

    require_memory_cgroup = Bool(
        True,
        help="""Refuse to start a session when no cgroup v1 memory controller can hold the
        whole session to ``Spawner.mem_limit`` (then only the per-process RLIMIT_AS would apply,
        and several processes together could exceed the limit). Set to False only on a machine
        where that is acceptable.""",
    ).tag(config=True)

    @default("mem_limit")
    def _mem_limit_default(self):
        return 2 * 1024**3

    @default("cmd")
    def _cmd_default(self):
        return [f"{self.session_venv}/bin/jupyterhub-singleuser"]

    @default("default_url")
    def _default_url_default(self):
        return "/lab"

    @default("env_keep")
    def _env_keep_default(self):
        return []  # a scrubbed environment: nothing of the hub's leaks into the session

    @default("options_form")
    def _options_form_default(self):
        return self.project_form

    # -- start and stop ------------------------------------------------------------------------
    async def start(self):
        began = time.perf_counter()
        _enough_threads(self.blocking_threads)
        self._start_task = asyncio.current_task()  # a stop meanwhile interrupts it
        ctx, project = self.check_may_start()
        account = self.unix_account()
        cgroup_base = self._memory_cgroup_base()
        self._warehouse_url, warehouse_port = await self._open_warehouse(ctx, project, account)
        self._sandbox = None
        try:
            network = await self._network(warehouse_port)
            self._output_dir = self._make_workspace(account, project.name)
            self._cgroup = self._make_cgroup(cgroup_base)
            workspace = self._open_workspace(account, project.name)
            try:
                self._sandbox = await self._prepare_sandbox(account, workspace, network)
                self.record_spawn(ctx, project)
                self.log.info(
                    "Session isolation for %s prepared in %.0f ms",
                    self.user.name,
                    (time.perf_counter() - began) * 1000,
                )
                return await self._start_in_sandbox()
            finally:
                os.close(workspace)
        except BaseException:  # a refusal, a failure, or a stop that interrupted the spawn
            if self._sandbox is not None:
                await self._sandbox.close()
            await self._close_warehouse(self._uses_postgres())  # no access left open
            await self._remove_cgroup()
            raise

    async def _prepare_sandbox(self, account, workspace: int, network) -> Sandbox:
        # SQLite: the directory of the session's query-process socket (never the extract)
        socket_dir = str(Path(self.sessions_dir) / account.pw_name)
        read_only = () if self._uses_postgres() else (socket_dir,)
        spec = SandboxSpec(
            account,
            workspace,
            self.session_venv,
            read_only=read_only,
            scratch_bytes=int(self.scratch_size),
        )
        try:
            return await Sandbox.prepare(
                spec, network, preexec=self._sandbox_preexec(), log=self.log, label=account.pw_name
            )
        except SandboxError as e:
            raise self._sandbox_refusal(e) from None

    async def _start_in_sandbox(self):
        """What ``LocalProcessSpawner.start`` does, with the command inside the sandbox."""
        sandbox = self._sandbox
        self.ip, self.port = sandbox.address, SESSION_PORT
        api = urlparse(self.hub.api_url)
        self.hub_connect_url = sandbox.rewrite(f"{api.scheme}://{api.netloc}")
        cmd = [*self.cmd, *self.get_args()]
        try:
            await sandbox.link.count_served(SESSION_PORT)
            self.proc = await sandbox.start(cmd, self.get_env())
        except NetworkError as e:
            raise self._sandbox_refusal(SandboxError(str(e))) from None
        except SandboxError as e:
            raise self._sandbox_refusal(e) from None
        self.pid = self.proc.pid
        return (self.ip, self.port)

    def _sandbox_refusal(self, e: SandboxError):
        self.log.error("Sandbox of %s: %s", self.user.name, e)
        return refuse(
            f"Your session was refused: its sandbox could not be set up ({e}); ask an "
            "administrator.",
            reason="sandbox",
        )

    async def _open_warehouse(self, ctx, project, account) -> tuple[str, int | None]:
        """The session's read-only warehouse URL (and the PostgreSQL port, if any)."""
        access = project.warehouse_access
        if access.startswith("/"):
            if not Path(access).is_file():
                raise refuse(
                    f"project {project.name!r}: its warehouse extract is missing; ask an "
                    "administrator to re-run the approval.",
                    reason="warehouse",
                )
            return await self._start_query_process(access, account, project.name), None
        admin_url = self._warehouse_admin_url()
        self._check_statement_log()
        try:
            await asyncio.to_thread(_ensure_cluster_once, admin_url, self._warehouse_reader_url)
        except EnclaveError as e:
            self.log.error("PostgreSQL warehouse set-up: %s", e)
            raise refuse(
                "Sessions on the PostgreSQL warehouse are refused: its recording is not set up "
                "(the hub's log says what is missing); ask an administrator.",
                reason="recording",
            ) from None
        roles = self._session_roles(ctx, admin_url)

        def open_role():
            login = roles.open(self.user.name, project.name, access)
            self._warehouse_url = login.url  # at once: a stop meanwhile locks the role again
            return login

        try:
            async with _import_lock:  # open() first imports the previous session's statements
                login = await _in_thread_to_the_end(open_role)
        except StatementImportFailed as e:
            self._log_import_failure(e.__cause__)
            raise refuse(
                "Sessions on the PostgreSQL warehouse are refused: the statements of your "
                "previous session could not be recorded; ask an administrator.",
                reason="statement-log",
            ) from None
        self._import_failures = 0  # open() has just imported the log
        return login.url, sa.engine.make_url(login.url).port

    _query_process = None

    async def _start_query_process(self, extract: str, account, project: str) -> str:
        """The session's SQLite query process (outside the session, recording every read);
        returns the URL the kernel reaches it at."""
        socket = session_dir(Path(self.sessions_dir), account) / SOCKET
        settings = QueryProcess(config=self.config)
        if "python" not in self.config.QueryProcess:  # readable by the query account
            settings.python = f"{self.session_venv}/bin/python"
        try:
            # started from the hub's main thread: it dies with the hub, not with a worker
            running = settings.start(
                extract, str(socket), peer=account, user=self.user.name, project=project
            )
            await asyncio.to_thread(running.wait_ready)
        except QueryProcessError as e:
            self.log.error("Query process of %s: %s", self.user.name, e)
            raise refuse(
                f"Your session was refused: its warehouse access could not be set up ({e}); "
                "ask an administrator.",
                reason="warehouse",
            ) from None
        self._query_process = running
        return running.url

    @property
    def query_log_file(self) -> str:
        return QueryProcess(config=self.config).log_file

    @property
    def postgres_log_file(self) -> str:
        return WarehouseSettings(config=self.config).audit_log

    @property
    def _warehouse_reader_url(self) -> str:
        return WarehouseSettings(config=self.config).reader_url

    def _warehouse_admin_url(self) -> str:
        url = WarehouseSettings(config=self.config).url
        if not is_postgres(url):
            raise refuse(
                "This project's warehouse access is a PostgreSQL role but WarehouseSettings.url "
                "is not a PostgreSQL URL; ask an administrator to fix the configuration.",
                reason="warehouse",
            )
        return url

    def _session_roles(self, ctx, admin_url: str) -> SessionRoles:
        return SessionRoles(
            admin_url,
            ctx.projects.engine,
            log_file=self.postgres_log_file,
            reader_url=self._warehouse_reader_url,
        )

    def _check_statement_log(self) -> None:
        """Server-side recording needs a hot standby and its audit log: no session without."""
        if not self._warehouse_reader_url:
            raise refuse(
                "Sessions on the PostgreSQL warehouse are refused: no hot standby to read from "
                "is configured; ask an administrator to set WarehouseSettings.reader_url.",
                reason="recording",
            )
        try:
            with open(self.postgres_log_file, "rb"):
                pass
        except OSError as e:
            self.log.error(
                "Cannot read PostgreSQL audit log %r: %s", self.postgres_log_file, e.strerror
            )
            raise refuse(
                "Sessions on the PostgreSQL warehouse are refused: the hub cannot read the "
                "audit log that records their queries; ask an administrator to fix "
                "WarehouseSettings.audit_log.",
                reason="statement-log",
            ) from None

    _start_task: asyncio.Task | None = None

    def _starting(self) -> bool:
        task = self._start_task
        return task is not None and not task.done() and task is not asyncio.current_task()

    async def poll(self):
        if self._starting():  # JupyterHub's contract: a spawner still starting is running
            return None
        return await super().poll()

    _sandbox: Sandbox | None = None

    async def stop(self, now=False):
        if self._starting():
            # the hub stopping, or an admin, while start() is still under way: end it first,
            # or it goes on after this stop and starts a session nobody stops
            self.log.warning("Interrupting the pending spawn of %s to stop it", self.user.name)
            self._start_task.cancel()
            await asyncio.wait([self._start_task])
        uses_postgres = self._uses_postgres()  # super().stop() clears the state
        project = self.session_project
        # counted while the link stands: once the server is gone its network namespace, the
        # link's host end and with it the counter go too (at once, or a moment later)
        sent = await self._bytes_served(self._sandbox)
        try:
            await super().stop(now=now)
        finally:
            sandbox, self._sandbox = self._sandbox, None
            if sandbox is not None:
                try:
                    await self._record_output(sent, project)
                finally:
                    await sandbox.close()
            await self._close_warehouse(uses_postgres)
            await self._remove_cgroup()

    _output_over_limit = False

    async def _output_reason_to_end(self) -> str | None:
        if self._sandbox is None or not self.max_output_bytes:
            return None
        if await self._sandbox.link.bytes_served() <= self.max_output_bytes:
            return None
        self._output_over_limit = True
        return (
            f"it sent more than {self.max_output_bytes / 1e6:,.0f} MB to your browser, this "
            "enclave's limit per session (EnclaveSpawner.max_output_bytes); start a new "
            "session to go on"
        )

    async def _bytes_served(self, sandbox: Sandbox | None) -> int | None:
        if sandbox is None:
            return None
        try:
            return await sandbox.link.bytes_served()
        except NetworkError as e:
            self.log.error("Output of %s's session not counted: %s", self.user.name, e)
            return None

    async def _record_output(self, sent: int | None, project: str | None) -> None:
        """The ``session.output`` event: what the session's server sent to the browser (None:
        it could not be counted)."""
        enclave_context(self.config).audit.append(
            actor=self.user.name,
            action=AuditAction.SESSION_OUTPUT,
            project=project,
            details={
                "bytes": sent,
                "limit": int(self.max_output_bytes),
                "ended_by_limit": self._output_over_limit,
            },
        )
        self._output_over_limit = False

    async def _remove_cgroup(self) -> None:
        """Kill whatever is left of the session and remove its memory cgroup."""
        base = hub_memory_cgroup()
        if base is not None:
            await asyncio.to_thread(SessionCgroup(base, self.user.name).remove)

    def wait_for_death(self, timeout=10):
        return wait_for_exit(self, timeout)

    def _memory_cgroup_base(self) -> Path | None:
        """The hub's memory cgroup; refuses the spawn if one is required and there is none."""
        base = hub_memory_cgroup()
        if base is None and self.mem_limit and self.require_memory_cgroup:
            self.log.error("No cgroup v1 memory controller: refusing sessions")
            raise refuse(
                "Sessions are refused: this machine cannot hold a session to its memory limit "
                "(no cgroup v1 memory controller); ask an administrator "
                "(EnclaveSpawner.require_memory_cgroup).",
                reason="memory-cgroup",
            )
        return base

    def _make_cgroup(self, base: Path | None) -> SessionCgroup | None:
        if base is None or not self.mem_limit:
            self.log.warning("No session memory cgroup: per-process memory limits only")
            return None
        cgroup = SessionCgroup(base, self.user.name)
        cgroup.create(self.mem_limit)
        return cgroup

    async def _close_warehouse(self, uses_postgres: bool) -> None:
        """End the session's query process and import its records, or lock its PostgreSQL
        role and import its statements."""
        running, self._query_process = self._query_process, None
        if running is not None:
            await asyncio.to_thread(running.stop)
        remove_session_dir(Path(self.sessions_dir), self.user.name)
        if not uses_postgres:
            await self._import_queries()
        if uses_postgres:
            self.log.info("Locking the PostgreSQL session role of %s", self.user.name)
            ctx = enclave_context(self.config)
            admin_url = self._warehouse_admin_url()
            await asyncio.to_thread(self._session_roles(ctx, admin_url).close, self.user.name)
            await self._import_statements(ctx)

    async def reason_to_end(self, ctx) -> str | None:
        """The shared policy's reasons, and (PostgreSQL) statements that can no longer be
        imported into the audit trail."""
        if self._uses_postgres() and not await self._import_statements(ctx):
            return "its statements can no longer be recorded"
        if getattr(self, "_warehouse_url", None) and not self._uses_postgres():
            if self._query_process is None or not self._query_process.alive():
                return "its warehouse query process ended"
            if not await self._import_queries():
                return "its queries can no longer be imported into the audit trail"
        return await self._output_reason_to_end() or await super().reason_to_end(ctx)

    async def _import_queries(self) -> bool:
        """Import the query log's new records; False (logged) when that failed
        ``max_import_failures`` times in a row."""
        try:
            async with _import_lock:
                await asyncio.to_thread(
                    import_queries,
                    self.query_log_file,
                    enclave_context(self.config).projects.engine,
                )
        except Exception as e:  # a failed import never passes silently
            self.log.error(
                "Cannot import the query log %s: %s", self.query_log_file, type(e).__name__
            )
            self._import_failures += 1
            return self._import_failures < self.max_import_failures
        self._import_failures = 0
        return True

    def _uses_postgres(self) -> bool:
        return (getattr(self, "_warehouse_url", None) or "sqlite").startswith("postgresql")

    _import_failures = 0

    async def _import_statements(self, ctx) -> bool:
        """Import the audit log's new lines; False (logged) when the session must end: the
        log is unreadable, or ``max_import_failures`` imports in a row failed."""
        try:
            async with _import_lock:
                await asyncio.to_thread(
                    import_statements, self.postgres_log_file, ctx.projects.engine
                )
        except Exception as e:  # a failed import never passes silently
            self._log_import_failure(e)
            self._import_failures += 1
            return not isinstance(e, OSError) and self._import_failures < self.max_import_failures
        self._import_failures = 0
        return True

    def _log_import_failure(self, e: Exception) -> None:
        self.log.error(
            "Cannot import PostgreSQL audit log %s: %s",
            self.postgres_log_file,
            e.strerror if isinstance(e, OSError) else type(e).__name__,
        )

    async def _network(self, warehouse_port: int | None) -> SandboxNetwork:
        """The hub's sandbox network, letting sessions reach the hub API, the query log and
        (PostgreSQL) the warehouse."""
        if self.egress_table not in _networks:
            _networks[self.egress_table] = SandboxNetwork(self.egress_table, self.sandbox_subnet)
        network = _networks[self.egress_table]
        try:
            for address, port in self._allowed_destinations():
                await network.allow(address, port)
            if warehouse_port:
                await network.allow("127.0.0.1", warehouse_port, warehouse=True)
        except NetworkError as e:
            raise self._sandbox_refusal(SandboxError(str(e))) from None
        return network

    def _allowed_destinations(self) -> set[tuple[str, int]]:
        urls = [self.hub.api_url, self.review_url]
        allowed = set()
        for url in urls:
            parsed = urlparse(url)
            allowed.add((parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)))
        for pair in self.allowed_egress:
            address, _, port = pair.rpartition(":")
            allowed.add((address, int(port)))
        return allowed

    def _open_workspace(self, account: pwd.struct_passwd, project: str) -> int:
        return self._workspace(open_workspace, "opened", account, project)

    def _make_workspace(self, account: pwd.struct_passwd, project: str) -> str:
        """The project's workspace (the session's home); returns its output directory."""
        return self._workspace(prepare_workspace, "prepared", account, project)

    def _workspace(self, step, done: str, account: pwd.struct_passwd, project: str):
        """``step(account, project)``; an OS error is the researcher's one-line refusal."""
        try:
            return step(account, project)
        except OSError as e:
            self.log.error("Workspace %s of %s: %s", project, account.pw_name, e)
            raise refuse(
                f"Your workspace for project {project!r} could not be {done} "
                f"({e.strerror}); ask an administrator.",
                reason="workspace",
            ) from None

    def get_state(self):
        state = super().get_state()
        if getattr(self, "_warehouse_url", None):
            # what stop() and poll() need after a hub restart (never the password)
            state["enclave_postgres"] = is_postgres(self._warehouse_url)
        return state

    def load_state(self, state):
        super().load_state(state)
        if "enclave_postgres" in state:
            # a SQLite session's query process died with the previous hub: poll() ends it
            self._warehouse_url = (
                "postgresql://" if state["enclave_postgres"] else "enclave-query://"
            )

    def clear_state(self):
        super().clear_state()
        self._warehouse_url = None

    # -- the session process -------------------------------------------------------------------
    def get_env(self):
        env = super().get_env()
        venv_bin = f"{self.session_venv}/bin"
        sandbox = self._sandbox
        env.update(
            PATH=f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            LANG="C.UTF-8",
            # every Jupyter path root-owned (or, for the runtime files, the sandbox's own /tmp):
            # nothing under the home directory is served, loaded or started as a kernel
            JUPYTER_CONFIG_DIR=str(session_config_dir(self.session_venv)),
            JUPYTER_DATA_DIR=f"{self.session_venv}/share/jupyter",
            JUPYTER_RUNTIME_DIR="/tmp/jupyter-runtime",  # noqa: S108 (the sandbox's private /tmp)
            JUPYTER_PREFER_ENV_PATH="1",
            PYTHONNOUSERSITE="1",
            # one BLAS thread: the address-space limit must not be eaten by thread arenas
            OPENBLAS_NUM_THREADS="1",
            OMP_NUM_THREADS="1",
            MALLOC_ARENA_MAX="2",
        )
        env.update(
            session_environment(
                self.config,
                project=self.session_project,
                warehouse_url=sandbox.rewrite(self._warehouse_url),
                review_url=sandbox.rewrite(self.review_url),
                output_dir=self._output_dir,
            )
        )
        return env

    def _sandbox_preexec(self):
        """Run as root in the forked child before ``bwrap``: the memory cgroup (so every process
        of the session is in it, and it is the cgroup namespace's root) and the rlimits."""
        limits = Limits(self.mem_limit or 0, self.max_processes, self.max_open_files)
        cgroup = getattr(self, "_cgroup", None)

        def preexec():
            if cgroup is not None:
                cgroup.join()
            limits.apply()

        return preexec
