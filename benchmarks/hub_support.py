"""Shared steps of the hub benchmarks: a running enclave, login, spawn, first kernel output.

Not a benchmark itself; ``hub_login_to_output.py``, ``hub_spawn_cost.py`` and
``hub_concurrent.py`` import it. Everything is real: provider, hub, proxy, Unix accounts.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.enclave import running_enclave  # noqa: E402
from tests.support.kernel import Kernel  # noqa: E402
from tests.support.login import api_token, login, xsrf_headers  # noqa: E402

PROJECT = "bench"
QUERY = "print(len(warehouse.query('SELECT institution, COUNT(*) AS n FROM students GROUP BY 1')))"


def enclave(researchers: int, extra_config: str = ""):
    """A running enclave with ``researchers`` members of one approved project."""
    stems = [f"r{i}" for i in range(researchers)]
    people = {stem: ["researchers"] for stem in stems}
    projects = {PROJECT: {"members": stems, "institutions": ["CC-101", "UNI-201"]}}
    base = Path(tempfile.mkdtemp(prefix="enclave-bench-"))
    return running_enclave(base, people, projects, extra_config=extra_config, students=2000)


class Researcher:
    def __init__(self, running, name: str):
        self.running = running
        self.name = name
        self.session = None
        self.token = None

    @property
    def headers(self):
        return {"Authorization": f"token {self.token}"}

    def login(self) -> None:
        hub = self.running.hub.url
        self.session = login(hub, self.name, self.running.password)
        self.token = api_token(self.session, hub, self.name)
        page = self.session.get(f"{hub}/hub/agreement", timeout=30).text
        if 'id="agreement-accepted"' not in page:
            version = page.split('name="version" value="')[1].split('"')[0]
            self.session.post(
                f"{hub}/hub/agreement",
                data={
                    "accept": "yes",
                    "version": version,
                    "_xsrf": xsrf_headers(self.session)["X-XSRFToken"],
                },
                timeout=30,
            ).raise_for_status()

    def spawn(self, timeout: float = 120) -> float:
        """Start the server; return seconds from the request until it is ready."""
        api = f"{self.running.hub.api_url}/users/{self.name}"
        start = time.perf_counter()
        response = requests.post(
            f"{api}/server", json={"project": PROJECT}, headers=self.headers, timeout=timeout
        )
        if response.status_code not in (201, 202):
            raise RuntimeError(f"spawn refused: {response.status_code} {response.text[:200]}")
        while time.perf_counter() - start < timeout:
            server = requests.get(api, headers=self.headers, timeout=30).json()["servers"].get("")
            if server and server["ready"]:
                return time.perf_counter() - start
            time.sleep(0.05)
        raise RuntimeError("server not ready in time")

    def first_output(self, code: str = QUERY) -> str:
        kernel = Kernel(f"{self.running.hub.url}/user/{self.name}", self.token)
        try:
            out = kernel.execute(code)
        finally:
            kernel.shutdown()
        if out["error"]:
            raise RuntimeError(f"kernel error {out['error'][0]}")
        return out["stdout"]

    def stop(self) -> None:
        api = f"{self.running.hub.api_url}/users/{self.name}"
        requests.delete(f"{api}/server", headers=self.headers, timeout=60)
        while requests.get(api, headers=self.headers, timeout=30).json()["servers"]:
            time.sleep(0.1)


def summary(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return (
        f"{label}: median {statistics.median(ordered):.2f} s, min {ordered[0]:.2f} s, "
        f"max {ordered[-1]:.2f} s (n={len(ordered)})"
    )
