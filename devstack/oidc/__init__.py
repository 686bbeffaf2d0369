"""The loopback OpenID Connect provider (a node process running ``provider.mjs``)."""

import json
import os
import secrets
import subprocess
import tempfile
from pathlib import Path

import requests

from devstack.process import stop_process

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("provider.mjs")


class OIDCProvider:
    """Start ``provider.mjs`` with these accounts and one confidential client.

    ``accounts``: ``{login: {"password": str, "groups": [str], "email": str}}``.
    ``redirect_uris``: the hub's callback URLs; add more later with ``restart`` is not needed if
    you pass them up front. Attributes once started: ``issuer``, ``client_id``, ``client_secret``.
    ``set_groups(login, groups)`` and ``remove_account(login)`` change accounts while it runs,
    as the consortium's identity administrators would. ``access_token_ttl``: seconds an access
    token is valid (the hub then needs its refresh token).
    Use as a context manager, or call ``start()`` / ``stop()``.
    """

    def __init__(
        self,
        accounts: dict,
        redirect_uris: list[str],
        *,
        port: int = 0,
        client_id: str = "enclave-hub",
        client_secret: str | None = None,
        access_token_ttl: int = 3600,
    ):
        self.accounts = accounts
        self.redirect_uris = redirect_uris
        self.port = port
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_hex(16)
        self.access_token_ttl = access_token_ttl
        self._control_secret = secrets.token_hex(16)
        self.issuer = None
        self.process = None
        self._config_dir = None

    def start(self) -> "OIDCProvider":
        self._config_dir = tempfile.TemporaryDirectory(prefix="enclave-oidc-")
        config_path = Path(self._config_dir.name, "provider.json")
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(
                {
                    "port": self.port,
                    "clients": [
                        {
                            "client_id": self.client_id,
                            "client_secret": self.client_secret,
                            "redirect_uris": self.redirect_uris,
                        }
                    ],
                    "accounts": self.accounts,
                    "control_secret": self._control_secret,
                    "access_token_ttl": self.access_token_ttl,
                },
                f,
            )
        self.process = subprocess.Popen(
            ["node", str(SCRIPT), str(config_path)],
            start_new_session=True,  # Ctrl-C on a terminal reaches the launcher, which stops us
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "NODE_PATH": str(REPO / "node_modules")},
        )
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"OIDC provider did not start (said {line!r})")
        self.issuer = line.split()[1]
        return self

    def set_groups(self, login: str, groups: list[str]) -> None:
        self._control("PUT", login, {"groups": groups})

    def remove_account(self, login: str) -> None:
        self._control("DELETE", login)

    def _control(self, method: str, login: str, body: dict | None = None) -> None:
        response = requests.request(
            method,
            f"{self.issuer}/control/accounts/{login}",
            json=body,
            headers={"Authorization": f"Bearer {self._control_secret}"},
            timeout=10,
        )
        response.raise_for_status()

    def stop(self) -> None:
        stop_process(self.process, 10)
        if self.process and self.process.stdout:
            self.process.stdout.close()
        if self._config_dir:
            self._config_dir.cleanup()
            self._config_dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
