"""The review service behind a real hub: people, requests through HTTP, waiting for the service."""

import time
from dataclasses import dataclass

import requests
from review_notebooks import passing, to_bytes

from devstack.login import api_token, login
from enclave.kernels import submit as client

PEOPLE = {
    "rita": ["researchers"],
    "bob": ["researchers"],
    "rosa": ["researchers", "reviewers"],
    "rev1": ["reviewers"],
    "rev2": ["reviewers"],
    "rev3": ["reviewers"],
    "scc": ["stewards-CC-101"],
    "suni": ["stewards-UNI-201"],
    "sk12": ["stewards-K12-001"],
    "ada": ["admins"],
}
PROJECTS = {
    "demo": {"members": ["rita", "bob", "rosa"], "institutions": ["CC-101", "UNI-201"]},
}
# sessions reach the review service through the hub's proxy
# These modules' notebooks are made by hand (outputs without the code that made them): they
# test review, not re-execution (test_reexecution_e2e.py runs the service with it).
SERVICE_CONFIG = """
c.EnclaveSpawner.review_url = c.JupyterHub.bind_url.rstrip("/") + "/services/review/"
c.Reexecution.enabled = False
"""


@dataclass
class Person:
    name: str
    http: requests.Session  # signed in at the hub (cookies)
    token: str
    base: str  # the review service's URL through the hub

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.base}{path}", headers=headers, timeout=120, **kwargs
        )

    def decide(self, request_id: str, decision: str = "approve", comment: str = ""):
        return self.api(
            "POST",
            f"api/requests/{request_id}/decision",
            json={"decision": decision, "comment": comment},
        )

    def environ(self, home) -> dict:
        return {
            "ENCLAVE_REVIEW_URL": self.base,
            "JUPYTERHUB_API_TOKEN": self.token,
            "ENCLAVE_PROJECT": "demo",
            "HOME": str(home),
        }

    def submit(self, home, nb=None, name="analysis.ipynb", **fields) -> dict:
        path = home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(to_bytes(nb if nb is not None else passing()))
        fields.setdefault("purpose", "Completion by term for the consortium board.")
        fields.setdefault("release_use", "internal")
        fields.setdefault("recipients", ["CC-101"])
        return client.submit(path, environ=self.environ(home), **fields)


def sign_in(enclave, stem: str) -> Person:
    name = enclave.names[stem]
    http = login(enclave.hub.url, name, enclave.password)
    return Person(
        name, http, api_token(http, enclave.hub.url, name), f"{enclave.hub.url}/services/review/"
    )


def wait_for_service(person: Person, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if person.api("GET", "api/waiting").status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise AssertionError("the review service did not come up behind the hub")
