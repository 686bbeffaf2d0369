"""A signed-on enclave user driving the hub like a browser would: agreement, spawn, kernel.

Usage::

    alice = Researcher.sign_on(hub.url, "alice", password)
    alice.accept_agreement()
    kernel = alice.start_session("proj_a")  # spawn, wait until ready, start a kernel
    out = kernel.execute("print(warehouse.tables())")
"""

import time

import requests

from devstack.kernel import Kernel
from devstack.login import api_token, login, xsrf_headers


class Researcher:
    def __init__(self, hub_url: str, name: str, session: requests.Session, token: str):
        self.hub_url = hub_url
        self.name = name
        self.session = session  # the hub's cookies, for pages
        self.token = token  # a hub API token, for the REST API and the session server

    @classmethod
    def sign_on(cls, hub_url: str, name: str, password: str) -> "Researcher":
        session = login(hub_url, name, password)
        session.login_response.raise_for_status()
        return cls(hub_url, name, session, api_token(session, hub_url, name))

    @property
    def headers(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    @property
    def api(self) -> str:
        return f"{self.hub_url}/hub/api/users/{self.name}"

    def accept_agreement(self) -> requests.Response:
        """Accept the current version through the agreement page (no-op if accepted); the
        response is the confirmation page."""
        page = self.session.get(f"{self.hub_url}/hub/agreement", timeout=30)
        if 'id="agreement-accepted"' in page.text:
            return page
        version = page.text.split('name="version" value="')[1].split('"')[0]
        return self.session.post(
            f"{self.hub_url}/hub/agreement",
            data={
                "accept": "yes",
                "version": version,
                "_xsrf": xsrf_headers(self.session)["X-XSRFToken"],
            },
            timeout=30,
        )

    def spawn(self, project: str, timeout: float = 120) -> requests.Response:
        return requests.post(
            f"{self.api}/server",
            json={"project": project},
            headers=self.headers,
            timeout=timeout,
        )

    def model(self) -> dict:
        return requests.get(self.api, headers=self.headers, timeout=30).json()

    def wait_ready(self, timeout: float = 120) -> float:
        """Seconds until the server is ready; raises if the spawn failed or timed out."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            model = self.model()
            server = model["servers"].get("")
            if server and server["ready"] and not model["pending"]:
                return time.monotonic() - start
            if not server and not model["pending"]:
                raise AssertionError(f"{self.name}: the spawn failed")
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: server not ready in {timeout}s")

    def wait_stopped(self, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.model()
            if not model["servers"] and not model["pending"]:
                return True
            time.sleep(0.1)
        return False

    def stop_server(self, timeout: float = 60) -> bool:
        response = requests.delete(f"{self.api}/server", headers=self.headers, timeout=timeout)
        response.raise_for_status()
        return self.wait_stopped(timeout)

    def kernel(self) -> Kernel:
        return Kernel(f"{self.hub_url}/user/{self.name}", self.token)

    def start_session(self, project: str) -> Kernel:
        """Spawn for ``project``, wait until ready, and start a kernel (or fail the test)."""
        response = self.spawn(project)
        assert response.status_code in (201, 202), response.text
        self.wait_ready()
        return self.kernel()
