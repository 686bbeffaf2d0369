"""A whole running enclave for tests: warehouse, projects, accounts, provider, hub.

``running_enclave(None, people, projects)`` yields an ``Enclave`` with everything started;
``people`` maps a stem to provider groups (a Unix account is made for everyone, with a unique
name in ``enclave.names[stem]``); ``projects`` maps a project name to
``{"members": [stems], "institutions": [codes], "expired": bool}``. Every password is
``enclave.password``. The hub runs the deployment's services too (the review service, which
records the kernels' queries in the audit trail).
"""

import contextlib
import functools
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devstack.launch import RunningHub, start_hub
from devstack.oidc import OIDCProvider
from devstack.ports import free_port
from devstack.unix_users import unix_users

SESSIONS_ROOT = Path("/var/lib/enclave")


@dataclass
class Enclave:
    hub: RunningHub
    provider: OIDCProvider
    names: dict
    warehouse_dir: Path
    sessions_dir: Path
    password: str
    projects: dict = field(default_factory=dict)

    @property
    def state_url(self) -> str:
        return f"sqlite:///{self.hub.hub_dir / 'enclave.sqlite'}"


def _register_projects(state_url: str, warehouse: str, names: dict, projects: dict) -> None:
    from enclave.projects import ProjectRegistry
    from enclave.state import make_engine
    from enclave.warehouse.grant import apply_access

    registry = ProjectRegistry(make_engine(state_url))
    expires = (datetime.now(UTC) + timedelta(days=365)).date()
    for name, spec in projects.items():
        registry.create(name, purpose=f"test project {name}", expires=expires, actor="admin")
        for stem in spec.get("members", []):
            registry.add_member(name, names[stem], actor="admin")
        for institution in spec.get("institutions", []):
            registry.approve_override(
                name,
                institution,
                actor="admin",
                reason="the demo's set-up",
                grant=lambda p, scopes: apply_access(warehouse, p, scopes),
            )
        if spec.get("expired"):
            registry.expire(name, actor="admin")
    registry.engine.dispose()


@contextlib.contextmanager
def running_enclave(
    base_dir: Path | None,
    people: dict,
    projects: dict,
    *,
    extra_config: str = "",
    students: int = 300,
    warehouse_url: str | None = None,
    env: dict | None = None,
    provider_options: dict | None = None,
    tls: tuple[Path, Path] | None = None,
):
    """``warehouse_url``: a PostgreSQL database to load the synthetic warehouse into (sessions
    then use PostgreSQL roles); default: the SQLite warehouse under the hub directory.

    ``base_dir``: where the hub's 0700 directory goes; ``None`` (recommended) makes a fresh one
    under /var/lib/enclave, removed afterwards. Sessions see /tmp as a private tmpfs of their own,
    so files under /tmp do not exist for them (rather than being unreadable). ``env``: more
    environment for the hub. ``provider_options``: more arguments for ``OIDCProvider``.
    ``tls``: (certificate, key): the hub serves HTTPS only (``start_hub``); clients must trust
    the certificate (``REQUESTS_CA_BUNDLE``).

    On exit everything stops in order: the hub (its sessions, services and proxy; then whatever
    it left, see ``RunningHub.stop``), this run's nftables table, the session and hub
    directories, the provider, the Unix accounts."""
    from devstack.warehouse_demo import prepare_warehouse

    SESSIONS_ROOT.mkdir(parents=True, exist_ok=True)
    SESSIONS_ROOT.chmod(0o755)
    made_here = base_dir is None
    if made_here:
        base_dir = Path(tempfile.mkdtemp(prefix="test-enclave-", dir=SESSIONS_ROOT))
    hub_dir = Path(base_dir) / "hub"
    hub_dir.mkdir(parents=True, mode=0o700)
    warehouse_dir = hub_dir / "warehouse"
    with contextlib.redirect_stdout(None):
        demo = prepare_warehouse(warehouse_dir, students=students)
        if warehouse_url:
            from enclave.warehouse.load import load
            from enclave.warehouse.pseudonymize import read_key

            load(demo.extracts, warehouse_url, read_key(demo.key))
    remove_stale_egress_tables()
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"  # the pid tells a stale table from a live one
    sessions_dir = SESSIONS_ROOT / f"test-sessions-{tag}"
    password = uuid.uuid4().hex
    port = free_port()
    with contextlib.ExitStack() as stack:  # undone in reverse: the hub first
        if made_here:
            stack.callback(shutil.rmtree, base_dir, True)
        stack.callback(shutil.rmtree, sessions_dir, True)
        stack.callback(_delete_table, f"enclave_test_{tag}")
        names = stack.enter_context(unix_users(*people))
        _register_projects(
            f"sqlite:///{hub_dir / 'enclave.sqlite'}",
            warehouse_url or str(demo.warehouse),
            names,
            projects,
        )
        accounts = {
            names[stem]: {"password": password, "groups": groups} for stem, groups in people.items()
        }
        provider = stack.enter_context(
            OIDCProvider(
                accounts,
                [f"{'https' if tls else 'http'}://127.0.0.1:{port}/hub/oauth_callback"],
                **(provider_options or {}),
            )
        )
        config = f"""
c.EnclaveSpawner.egress_table = "enclave_test_{tag}"
c.EnclaveSpawner.sessions_dir = {str(sessions_dir)!r}
c.Spawner.mem_limit = "1536M"
c.Spawner.poll_interval = 2
c.WarehouseSettings.url = {warehouse_url or str(demo.warehouse)!r}
{extra_config}
"""
        hub = start_hub(hub_dir, provider, port=port, extra_config=config, env=env, tls=tls)
        stack.callback(hub.stop)
        yield Enclave(hub, provider, names, warehouse_dir, sessions_dir, password, projects)


def _delete_table(table: str) -> None:
    subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)


@functools.cache  # once per test run: the tables of this run are not stale
def remove_stale_egress_tables() -> None:
    """Delete the ``enclave_test_<pid>_*`` tables of test runs that were killed before their
    clean-up ran (their pid is gone); other runs going on at the same time keep theirs."""
    listing = subprocess.run(
        ["nft", "list", "tables", "inet"], capture_output=True, text=True, check=True
    ).stdout
    for table, pid in re.findall(r"^table inet (enclave_test_(\d+)_\w+)$", listing, re.M):
        if not Path(f"/proc/{pid}").exists():
            _delete_table(table)
