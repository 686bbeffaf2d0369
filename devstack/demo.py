"""``make demo``: the whole enclave on this machine, on synthetic data, until Ctrl-C.

Starts the loopback OpenID Connect provider with demo accounts, creates the researchers' Unix
accounts and one approved project over the synthetic warehouse, and runs the hub on
http://127.0.0.1:8000. Everything lives under the demo directory (made 0700: it holds the
pseudonymization key and the raw extracts) and is reused by the next run.

Ctrl-C stops it in order, in at most about 10 s: the hub (its sessions, services and proxy, then
whatever it left), the provider, the demo's nftables table. The hub and the provider run in
sessions of their own, so the terminal's SIGINT reaches only this process, which stops them
once (a second Ctrl-C meanwhile is ignored).
"""

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devstack.warehouse_demo import DEMO_STUDENTS, prepare_warehouse
from enclave.errors import EnclaveError

HUB_URL_PORT = 8000
PROVIDER_PORT = 8010
PROJECT = "transfer_demo"
APPROVED_BY = ("CC-101", "UNI-201")
# login: (groups, what they can do); the password of each is "<login>-demo"
ACCOUNTS = {
    "ada": (["researchers"], "researcher, member of the demo project"),
    "grace": (["researchers"], "researcher, no project yet"),
    "rosalind": (["reviewers"], "output reviewer"),
    "rita": (["reviewers"], "second output reviewer (two approvals are required)"),
    "stewcc": (["stewards-CC-101"], "data steward of CC-101"),
    "stewuni": (["stewards-UNI-201"], "data steward of UNI-201"),
    "admin": (["admins"], "hub administrator"),
}
RESEARCHERS_IN_PROJECT = ("ada",)


def admin_commands(config: Path) -> list[str]:
    """Commands an administrator can run against the running demo (as root, from the
    checkout): the config file alone names the hub's state, no environment needed."""
    with contextlib.suppress(ValueError):
        config = config.relative_to(Path.cwd())
    return [
        f".venv/bin/enclave project list --config {config}",
        f".venv/bin/enclave project add-member {PROJECT} grace --config {config}",
        f".venv/bin/enclave audit show --project {PROJECT} --config {config}",
        f".venv/bin/enclave audit verify --config {config}",
    ]


def _prepare_project(state_url: str, warehouse: Path) -> None:
    from enclave.hub.isolation.accounts import create_account
    from enclave.projects import ProjectRegistry
    from enclave.state import make_engine

    def grant(name, institutions):  # imported only for a new approval (pandas: ~0.5 s CPU)
        from enclave.warehouse.grant import grant_project

        return grant_project(str(warehouse), name, institutions)

    registry = ProjectRegistry(make_engine(state_url))
    for login, (groups, _) in ACCOUNTS.items():
        if "researchers" in groups:
            create_account(login)
    if registry.get(PROJECT) is None:
        registry.create(
            PROJECT,
            purpose="Community-college transfer students' outcomes at the university (demo).",
            expires=(datetime.now(UTC) + timedelta(days=365)).date(),
            actor="demo",
        )
    for login in RESEARCHERS_IN_PROJECT:
        registry.add_member(PROJECT, login, actor="demo")
    for institution in APPROVED_BY:
        registry.approve_override(
            PROJECT,
            institution,
            actor="demo",
            reason="the demo's set-up",
            grant=grant,
        )
    registry.engine.dispose()


def demo_mail_server(maildir: Path):
    """An SMTP server on loopback that files every message in ``maildir`` (aiosmtpd, dev tooling
    only): the demo's notifications, readable with any mail reader. Not started yet: its start
    waits about a second for the server, so it starts while the hub does."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    from devstack.ports import free_port

    # mailbox.Maildir makes the folder (0700) with its tmp/new/cur only when it does not exist
    return Controller(Mailbox(str(maildir)), hostname="127.0.0.1", port=free_port())


def run_demo(
    directory: str | os.PathLike,
    warehouse: Path,
    port: int = HUB_URL_PORT,
    provider_port: int = PROVIDER_PORT,
) -> int:
    """Run until Ctrl-C; return the exit status."""
    from devstack.launch import start_hub
    from devstack.oidc import OIDCProvider

    root = Path(directory).resolve()
    root.chmod(0o700)
    hub_dir = root / "hub"
    hub_dir.mkdir(mode=0o700, exist_ok=True)
    _prepare_project(f"sqlite:///{hub_dir / 'enclave.sqlite'}", Path(warehouse).resolve())
    accounts = {
        login: {"password": f"{login}-demo", "groups": groups}
        for login, (groups, _) in ACCOUNTS.items()
    }
    url = f"http://127.0.0.1:{port}"
    table = f"enclave_demo_{port}"  # two demos on other ports never share sessions' rules
    sessions_dir = f"/var/lib/enclave/demo-sessions-{port}"
    mail = demo_mail_server(root / "mail")
    mail_started = threading.Thread(target=mail.start, name="demo-mail")
    mail_started.start()
    provider = OIDCProvider(
        accounts, [f"{url}/hub/oauth_callback"], port=provider_port, client_secret=None
    ).start()
    try:
        hub = start_hub(
            hub_dir,
            provider,
            port=port,
            extra_config=(
                f"c.WarehouseSettings.url = {str(Path(warehouse).resolve())!r}\n"
                f"c.EnclaveSpawner.sessions_dir = {sessions_dir!r}\n"
                f"c.EnclaveSpawner.egress_table = {table!r}\n"
                'c.Mail.smtp_host = "127.0.0.1"\n'
                f"c.Mail.smtp_port = {mail.port}\n"
                'c.Mail.security = "none"\n'
                'c.Mail.sender = "enclave@demo.example"\n'
            ),
        )
    except BaseException:
        provider.stop()
        mail_started.join()
        mail.stop()
        raise
    print(f"\nThe enclave is running at {url}  (sign-on: {provider.issuer})")
    print(f"Demo project {PROJECT!r}, approved by {', '.join(APPROVED_BY)}.\n")
    print(f"  {'login':<10} {'password':<15} role")
    for login, (_, role) in ACCOUNTS.items():
        print(f"  {login:<10} {login + '-demo':<15} {role}")
    print("\nAdminister it in the hub (sign in as admin: Administration) or from this checkout:")
    for command in admin_commands(hub.config_path):
        print(f"  {command}")
    print(
        f"\nE-mail notifications (reviewers, stewards, the researcher) are delivered to the "
        f"Maildir {root / 'mail'} (e.g. `mutt -f {root / 'mail'}`)."
    )
    print(f"Hub log: {hub.log_path}. Press Ctrl-C to stop.")
    try:
        while hub.process.poll() is None:
            time.sleep(0.5)
        print(f"the hub stopped (status {hub.process.returncode}); see {hub.log_path}")
        return 1
    except KeyboardInterrupt:
        print("\nstopping the hub and the provider (at most about 10 s) ...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping is not interrupted half-way
        hub.stop()
        provider.stop()
        mail_started.join()
        mail.stop()
        subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)
        shutil.rmtree(sessions_dir, ignore_errors=True)  # empty once its sessions stopped
        print("stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Set up the enclave demo on synthetic data.")
    parser.add_argument("--dir", default="demo-data", help="where the demo keeps its files")
    parser.add_argument("--port", type=int, default=HUB_URL_PORT, help="the hub's port")
    parser.add_argument("--provider-port", type=int, default=PROVIDER_PORT, help="sign-on port")
    parser.add_argument("--students", type=int, default=DEMO_STUDENTS, help="people to simulate")
    args = parser.parse_args(argv)
    try:
        demo = prepare_warehouse(args.dir, students=args.students)
        return run_demo(args.dir, demo.warehouse, args.port, args.provider_port)
    except EnclaveError as e:
        print(f"enclave demo: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:  # while setting up: what had started is stopped already
        print("\nenclave demo: interrupted.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
