"""A real JupyterHub (with configurable-http-proxy) configured by the root ``jupyterhub_config.py``.

``start_hub(hub_dir, provider, port=...)`` writes ``hub_dir/jupyterhub_config.py`` (``hub_dir``
made 0700): it names the hub directory, loads the deployment's config and then your
``extra_config`` lines, so that ``enclave ... --config`` that file finds the same state as the
hub with no environment variables. It starts ``jupyterhub`` as a subprocess on free ports and
waits until its API answers. ``hub.stop()`` stops it in order: the hub stops its sessions,
services and proxy; whatever it left (or everything, if it had to be killed after
``STOP_GRACE_SECONDS``) is then killed, and listed in ``hub.leftovers``.
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from devstack.ports import free_port
from devstack.process import ProcessTree

REPO = Path(__file__).resolve().parents[1]
ROOT_CONFIG = REPO / "jupyterhub_config.py"
# the session venv this checkout built (`make session-venv`; SESSION_VENV=... for a second one)
SESSION_VENV = os.environ.get("ENCLAVE_SESSION_VENV", "/opt/enclave/venv")
STOP_GRACE_SECONDS = 10  # the hub's own shutdown takes 3-8 s with a session


@dataclass
class RunningHub:
    url: str
    hub_dir: Path
    process: subprocess.Popen
    hub_port: int
    log_path: Path
    config_path: Path
    tree: ProcessTree
    env: dict = field(default_factory=dict)
    leftovers: list[str] = field(default_factory=list)  # what the hub's own shutdown left

    @property
    def api_url(self) -> str:
        return f"{self.url}/hub/api"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.leftovers = self.tree.stop(STOP_GRACE_SECONDS)
        if self.leftovers:
            print(f"hub {self.url}: its shutdown left {self.leftovers}", file=sys.stderr)


def hub_config(
    hub_dir: Path,
    port: int,
    hub_port: int,
    proxy_api_port: int,
    extra_config: str,
    tls: tuple[Path, Path] | None = None,
) -> str:
    scheme, ssl = "http", ""
    if tls:
        scheme = "https"
        ssl = f"c.JupyterHub.ssl_cert = {str(tls[0])!r}\nc.JupyterHub.ssl_key = {str(tls[1])!r}\n"
    return f"""c = get_config()  # noqa
import os
# the deployment's config reads its hub directory from here: this file alone names the state
os.environ["ENCLAVE_HUB_DIR"] = {str(hub_dir)!r}
load_subconfig({str(ROOT_CONFIG)!r})  # noqa
{ssl}c.JupyterHub.bind_url = "{scheme}://127.0.0.1:{port}"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.EnclaveSpawner.session_venv = {SESSION_VENV!r}
{extra_config}
"""


def start_hub(
    hub_dir: Path,
    provider,
    *,
    port: int | None = None,
    extra_config: str = "",
    env: dict | None = None,
    timeout: float = 120,
    tls: tuple[Path, Path] | None = None,
) -> RunningHub:
    """Start a hub signing on through ``provider`` (a started ``OIDCProvider``).

    The provider must list ``http://127.0.0.1:{port}/hub/oauth_callback`` among its redirect
    URIs (``https://`` with ``tls``): pick ``port`` with ``free_port()`` before starting it.
    ``tls``: (certificate, key) PEM files; the hub then serves HTTPS only, and ``hub.url`` is
    ``https://``. Clients must trust the certificate (``REQUESTS_CA_BUNDLE``).
    """
    hub_dir = Path(hub_dir).resolve()
    hub_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(hub_dir, 0o700)
    port = port or free_port()
    config_path = hub_dir / "jupyterhub_config.py"
    hub_port = free_port()
    config_path.write_text(hub_config(hub_dir, port, hub_port, free_port(), extra_config, tls))
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    hub_env = {
        **os.environ,
        "PATH": os.pathsep.join(
            [
                str(REPO / "node_modules" / ".bin"),
                str(Path(sys.executable).parent),
                os.environ["PATH"],
            ]
        ),
        "ENCLAVE_HUB_DIR": str(hub_dir),
        "ENCLAVE_OIDC_ISSUER": provider.issuer,
        "OAUTH_CLIENT_ID": provider.client_id,
        "OAUTH_CLIENT_SECRET": provider.client_secret,
        "OAUTH_CALLBACK_URL": f"{url}/hub/oauth_callback",
        **(env or {}),
    }
    log_path = hub_dir / "hub.log"
    tree = ProcessTree("enclave-hub")
    with open(log_path, "ab") as log:
        process = tree.popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config_path)],
            cwd=hub_dir,
            env=hub_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    hub = RunningHub(
        url,
        hub_dir,
        process,
        hub_port,
        log_path,
        config_path,
        tree,
        hub_env,
    )
    try:
        _wait_until_up(hub, timeout)
    except BaseException:  # failed, timed out, or Ctrl-C while it started: nothing stays
        hub.stop()
        raise
    return hub


def _wait_until_up(hub: RunningHub, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.process.poll() is not None:
            raise RuntimeError(f"hub exited with {hub.process.returncode}:\n{hub.log()[-4000:]}")
        try:
            if requests.get(f"{hub.api_url}/", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"hub did not answer within {timeout}s:\n{hub.log()[-4000:]}")
