"""A real JupyterHub (with configurable-http-proxy) configured by the root ``jupyterhub_config.py``.

``start_hub(hub_dir, provider, port=...)`` writes ``hub_dir/jupyterhub_config.py`` (``hub_dir``
made 0700): it names the hub directory, loads the deployment's config and then your
``extra_config`` lines, so that ``enclave ... --config`` that file finds the same state as the
hub with no environment variables. It starts ``jupyterhub`` as a subprocess on free ports and
waits until its API answers. Use ``hub.stop()`` (stops servers too).
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from devstack.ports import free_port
from devstack.process import stop_process

REPO = Path(__file__).resolve().parents[1]
ROOT_CONFIG = REPO / "jupyterhub_config.py"
# the session venv this checkout built (`make session-venv`; SESSION_VENV=... for a second one)
SESSION_VENV = os.environ.get("ENCLAVE_SESSION_VENV", "/opt/enclave/venv")


@dataclass
class RunningHub:
    url: str
    hub_dir: Path
    process: subprocess.Popen
    hub_port: int
    log_path: Path
    config_path: Path
    env: dict = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"{self.url}/hub/api"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process, 30)


def hub_config(
    hub_dir: Path, port: int, hub_port: int, proxy_api_port: int, extra_config: str
) -> str:
    return f"""c = get_config()  # noqa
import os
# the deployment's config reads its hub directory from here: this file alone names the state
os.environ["ENCLAVE_HUB_DIR"] = {str(hub_dir)!r}
load_subconfig({str(ROOT_CONFIG)!r})  # noqa
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
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
) -> RunningHub:
    """Start a hub signing on through ``provider`` (a started ``OIDCProvider``).

    The provider must list ``http://127.0.0.1:{port}/hub/oauth_callback`` among its redirect
    URIs: pick ``port`` with ``free_port()`` before starting it.
    """
    hub_dir = Path(hub_dir).resolve()
    hub_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(hub_dir, 0o700)
    port = port or free_port()
    config_path = hub_dir / "jupyterhub_config.py"
    hub_port = free_port()
    config_path.write_text(hub_config(hub_dir, port, hub_port, free_port(), extra_config))
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
        "OAUTH_CALLBACK_URL": f"http://127.0.0.1:{port}/hub/oauth_callback",
        **(env or {}),
    }
    log_path = hub_dir / "hub.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config_path)],
            cwd=hub_dir,
            env=hub_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    hub = RunningHub(
        f"http://127.0.0.1:{port}", hub_dir, process, hub_port, log_path, config_path, hub_env
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hub exited with {process.returncode}:\n{hub.log()[-4000:]}")
        try:
            if requests.get(f"{hub.api_url}/", timeout=2).status_code == 200:
                return hub
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    hub.stop()
    raise RuntimeError(f"hub did not answer within {timeout}s:\n{hub.log()[-4000:]}")
