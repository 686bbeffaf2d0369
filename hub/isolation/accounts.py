"""Researcher Unix accounts, created deliberately by an administrator (never on first login).

Each researcher runs their sessions as their own account: home 0700, no login shell, primary
group of their own. The hub refuses to spawn for a user without an account (a clear message, not
the 500 that ``getpwnam`` would give).
"""

import os
import pwd
import subprocess

from enclave.errors import EnclaveError
from enclave.projects import check_username


def account_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def create_account(name: str) -> pwd.struct_passwd:
    """Create the researcher's account (idempotent); its home is 0700 whatever useradd did."""
    check_username(name)
    if not account_exists(name):
        result = subprocess.run(
            [
                "useradd",
                "--create-home",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
                "-K",
                "HOME_MODE=0700",
                "--comment",
                "enclave researcher",
                name,
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise EnclaveError(
                f"user {name!r}: useradd failed ({result.stderr.strip()}); run as root."
            )
    entry = pwd.getpwnam(name)
    os.chmod(entry.pw_dir, 0o700)
    return entry


def remove_account(name: str) -> None:
    """Delete the account and its home (tests and offboarding); stop its sessions first."""
    check_username(name)
    if account_exists(name):
        subprocess.run(["userdel", "--remove", "--force", name], capture_output=True)
