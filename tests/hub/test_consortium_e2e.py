"""A 40-member consortium with a new sector, configured in jupyterhub_config.py alone, end to
end: generate -> load -> grant (project approvals) -> session -> submission -> steward sign-off,
through the real provider, hub, proxy, sessions and review service.

Every step reads the consortium from the hub's own config file (the CLI with ``--config``, the
hub, the review service): nothing else names the adult schools.
"""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests

from devstack.enclave import running_enclave
from devstack.login import api_token, login
from devstack.researcher import Researcher
from tests.support import consortium as forty

pytestmark = pytest.mark.e2e  # a real hub, provider and sessions: slow

PEOPLE = {
    "ria": ["researchers"],
    "rev1": ["reviewers"],
    "rev2": ["reviewers"],
    "s301": ["stewards-ADULT-301"],
    "s302": ["birch-adult-data-office"],  # ADULT-302 names its stewards' group
    "sk12": ["stewards-K12-001"],
    "old302": ["stewards-ADULT-302"],  # the default name, which ADULT-302 does not use
}
SERVICE = "airlock"  # ReviewService.service_name: the roles, the sessions' URL, the home page
CONFIG = (
    forty.config_lines()
    + f"c.ReviewService.service_name = {SERVICE!r}\n"
    + "c.Reexecution.enabled = False\n"  # the notebook is made by hand, as in review_hub.py
    # who runs this file: the hub (and the commands given --config), never its services
    + 'open(os.path.join(os.environ["ENCLAVE_HUB_DIR"], "config-runs"), "a").write("x\\n")\n'
)
WRITE_AND_SUBMIT = """
import os, subprocess, nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output
counts = warehouse.query(
    "select institution, count(*) as n from cc_enrollments group by institution order by 1")
print("READ", sorted(counts.institution))
nb = new_notebook(
    cells=[new_code_cell("by_term", outputs=[new_output(
        "execute_result", data={"text/plain": "term  n\\n2021FA  120\\n2022SP  140"})])],
    metadata={"kernelspec": {"name": "enclave-python", "display_name": "Enclave (Python)",
                             "language": "python"}},
)
nbformat.write(nb, os.path.expanduser("~/adults.ipynb"))
done = subprocess.run(
    ["enclave", "review", "submit", os.path.expanduser("~/adults.ipynb"),
     "--purpose", "Adult school course completion", "--summary", "Two term counts",
     "--use", "internal", "--recipients", "ADULT-301,ADULT-302"],
    capture_output=True, text=True,
)
print("SUBMIT", done.returncode, done.stdout, done.stderr)
# the hub's consortium reaches the session's own gate: ADULT-303's stricter rule (25) judges an
# output whose sources it cannot tell, where the consortium's default (10) would pass a 20
small = new_notebook(cells=[new_code_cell("by_term", outputs=[new_output(
    "execute_result",
    data={"text/plain": "term    students\\n2021FA        20\\n2022SP       140"})])])
nbformat.write(small, os.path.expanduser("~/small.ipynb"))
check = subprocess.run(["enclave", "review", "check", os.path.expanduser("~/small.ipynb")],
                       capture_output=True, text=True)
print("CHECK", check.returncode, check.stdout.splitlines()[0], "below 25" in check.stdout)
"""


@pytest.fixture(scope="module")
def enclave():
    with running_enclave(None, PEOPLE, {}, extra_config=CONFIG) as running:
        yield running


def enclave_command(enclave, *args) -> str:
    """``enclave ARGS --config <the hub's jupyterhub_config.py>``, as an administrator runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "enclave", *args],
        capture_output=True,
        text=True,
        env=enclave.hub.env,
        timeout=300,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def service(enclave, stem):
    """A signed-in user's token and the review service's API through the hub."""
    http = login(enclave.hub.url, enclave.names[stem], enclave.password)
    token = api_token(http, enclave.hub.url, enclave.names[stem])
    base = f"{enclave.hub.url}/services/{SERVICE}/"

    def call(method, path, **kwargs):
        return requests.request(
            method, base + path, headers={"Authorization": f"token {token}"}, timeout=120, **kwargs
        )

    return call


def test_forty_members_from_the_config_file_alone(enclave, tmp_path):
    config = str(enclave.hub.config_path)
    rev1 = service(enclave, "rev1")
    assert rev1("GET", "api/waiting").status_code == 200  # the service is up, as "airlock"
    # only the hub ran its config file: the review service and the culler read its settings
    assert (enclave.hub.hub_dir / "config-runs").read_text() == "x\n"
    extracts, key = tmp_path / "extracts", tmp_path / "warehouse.key"
    # generate -> load: every member's extracts, in its sector's layout
    enclave_command(enclave, "warehouse", "--config", config, "keygen", str(key))
    enclave_command(
        enclave, "warehouse", "--config", config, "generate", "--out", str(extracts),
        "--students", "1500",
    )  # fmt: skip
    loaded = enclave_command(
        enclave, "warehouse", "--config", config, "load", str(extracts), "--key", str(key)
    )
    assert "ADULT-305" in loaded
    # grant: the project is approved by two adult schools, through `enclave project`
    project = ["--config", config, "--by", "admin"]
    expires = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    enclave_command(
        enclave, "project", "create", "adults", "--purpose", "Adult school completion",
        "--expires", expires, *project,
    )  # fmt: skip
    enclave_command(enclave, "project", "add-member", "adults", enclave.names["ria"], *project)
    for code in ("ADULT-301", "ADULT-302"):
        enclave_command(
            enclave, "project", "approve", "adults", "--institution", code,
            "--reason", f"{code}'s board approved the study", *project,
        )  # fmt: skip

    # session -> submission: the session reads exactly the approved adult schools' rows
    ria = Researcher.sign_on(enclave.hub.url, enclave.names["ria"], enclave.password)
    ria.accept_agreement()
    kernel = ria.start_session("adults")
    try:
        out = kernel.execute(WRITE_AND_SUBMIT, timeout=180)
    finally:
        kernel.shutdown()
        ria.stop_server()
    assert out["error"] is None, out
    assert "READ ['ADULT-301', 'ADULT-302']" in out["stdout"], out
    assert "SUBMIT 0 submitted" in out["stdout"], out
    assert "CHECK 1" in out["stdout"] and "BLOCK" in out["stdout"], out
    assert out["stdout"].rstrip().endswith("True"), out

    # steward sign-off: the configured groups, and no others
    (request,) = rev1("GET", "api/requests").json()["requests"]
    rid = request["id"]
    assert request["institutions"] == ["ADULT-301", "ADULT-302"]
    sk12 = service(enclave, "sk12")
    decided = sk12("POST", f"api/requests/{rid}/decision", json={"decision": "approve"})
    assert decided.status_code in (403, 404), decided.text
    refused = login(enclave.hub.url, enclave.names["old302"], enclave.password)
    assert refused.login_response.status_code == 403  # no role: ADULT-302 names its own group
    for stem in ("rev1", "rev2", "s301", "s302"):
        decided = service(enclave, stem)(
            "POST", f"api/requests/{rid}/decision", json={"decision": "approve"}
        )
        assert decided.status_code == 200, (stem, decided.text)
    assert decided.json()["status"] == "released"
    # the hub's home page names the steward's institution by the configured group, and links
    # to the service by its name
    s302 = login(enclave.hub.url, enclave.names["s302"], enclave.password)
    home = s302.get(f"{enclave.hub.url}/hub/home", timeout=30).text
    assert "You are the data steward of ADULT-302" in home and f"/services/{SERVICE}/" in home
