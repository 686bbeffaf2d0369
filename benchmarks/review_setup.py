"""Shared set-up for the review benchmarks: a whole running enclave (provider, hub, proxy,
review service) with a researcher and a reviewer signed in, as the tests build it."""

import contextlib
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devstack.enclave import running_enclave  # noqa: E402
from devstack.login import api_token, login  # noqa: E402

PEOPLE = {"rita": ["researchers"], "rev1": ["reviewers"]}
PROJECTS = {"bench": {"members": ["rita"], "institutions": ["CC-101", "UNI-201"]}}
SERVICE_CONFIG = """
c.EnclaveSpawner.review_url = c.JupyterHub.bind_url.rstrip("/") + "/services/review/"
"""


@contextlib.contextmanager
def review_enclave(root: Path, extra_config: str = ""):
    """Yield (enclave, {stem: (requests session with hub cookies, token)}, service URL)."""
    config = SERVICE_CONFIG + extra_config
    with running_enclave(root, PEOPLE, PROJECTS, extra_config=config) as enclave:
        people = {}
        for stem in PEOPLE:
            name = enclave.names[stem]
            http = login(enclave.hub.url, name, enclave.password)
            people[stem] = (http, api_token(http, enclave.hub.url, name))
        base = f"{enclave.hub.url}/services/review/"
        deadline = time.monotonic() + 60
        while True:
            try:
                headers = {"Authorization": f"token {people['rita'][1]}"}
                if requests.get(base + "api/waiting", headers=headers, timeout=10).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the review service did not start")
            time.sleep(0.3)
        yield enclave, people, base
