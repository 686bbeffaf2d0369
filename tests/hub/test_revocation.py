"""Revocation reaches running sessions, and administrators do not enter researchers' sessions.

One enclave with the real provider, whose access tokens live 3 s (the hub must use its refresh
token) and whose accounts change while the hub runs, as the consortium's identity
administrators would change them. The hub asks the provider again every 4 s
(``auth_refresh_age``) and polls sessions every 2 s.
"""

import html
import re
import time

import pytest
import requests

from devstack.enclave import running_enclave
from devstack.login import login
from devstack.researcher import Researcher

pytestmark = pytest.mark.e2e  # a real hub, provider and sessions: slow

REFRESH_AGE = 4
PEOPLE = {
    "alice": ["researchers"],
    "bob": ["researchers", "reviewers"],
    "carol": ["researchers"],
    "dave": ["researchers"],
    "ada": ["admins"],
}
PROJECTS = {"proj": {"members": ["alice", "bob", "carol", "dave"], "institutions": ["CC-101"]}}


@pytest.fixture(scope="module")
def enclave():
    config = f"c.Authenticator.auth_refresh_age = {REFRESH_AGE}"
    with running_enclave(
        None, PEOPLE, PROJECTS, extra_config=config, provider_options={"access_token_ttl": 3}
    ) as running:
        yield running


@pytest.fixture(scope="module")
def admin(enclave):
    return Researcher.sign_on(enclave.hub.url, enclave.names["ada"], enclave.password)


def running_researcher(enclave, stem) -> Researcher:
    person = Researcher.sign_on(enclave.hub.url, enclave.names[stem], enclave.password)
    person.accept_agreement()
    kernel = person.start_session("proj")
    assert kernel.execute("print(1 + 1)")["stdout"].strip() == "2"
    kernel.shutdown()
    return person


def server_of(enclave, admin, name) -> dict | None:
    model = requests.get(f"{enclave.hub.api_url}/users/{name}", headers=admin.headers, timeout=30)
    model.raise_for_status()
    return model.json()["servers"].get("")


def wait_until_stopped(enclave, admin, name, timeout) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if server_of(enclave, admin, name) is None:
            return time.monotonic() - began
        time.sleep(0.2)
    raise AssertionError(f"{name}'s session still runs after {timeout}s")


def events(enclave, action, user):
    from enclave.audit import AuditLog
    from enclave.state import make_engine

    return AuditLog(make_engine(enclave.state_url)).events(user=user, action=action)


def test_auth_state_is_encrypted_with_the_hubs_own_key(enclave, admin):
    import sqlite3

    key = enclave.hub.hub_dir / "auth-state.key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    with sqlite3.connect(enclave.hub.hub_dir / "jupyterhub.sqlite") as db:
        (state,) = db.execute(
            "SELECT encrypted_auth_state FROM users WHERE name = ?", (admin.name,)
        ).fetchone()
    assert state and b"access_token" not in state and b"groups" not in state


def test_an_administrator_cannot_enter_a_researchers_session(enclave, admin):
    dave = running_researcher(enclave, "dave")
    # the admin page's "access server": the session server sends the admin to the hub's OAuth
    page = admin.session.get(f"{enclave.hub.url}/user/{dave.name}/lab", timeout=30)
    assert page.status_code == 403 and "/hub/api/oauth2/authorize" in page.url
    assert "You do not have permission to access" in page.text
    # the admin's own API token, at the session server
    api = requests.get(
        f"{enclave.hub.url}/user/{dave.name}/api/contents", headers=admin.headers, timeout=30
    )
    assert api.status_code == 403
    # nor a token minted for the researcher, nor their provider tokens
    minted = requests.post(
        f"{enclave.hub.api_url}/users/{dave.name}/tokens", headers=admin.headers, json={}
    )
    assert minted.status_code == 403
    state = requests.get(
        f"{enclave.hub.api_url}/users/{dave.name}?include_stopped_servers", headers=admin.headers
    )
    assert state.status_code == 200 and "auth_state" not in state.json()
    assert not events(enclave, "session.enter", admin.name)
    # what administrators do need still works: stopping the session
    stop = requests.delete(f"{enclave.hub.api_url}/users/{dave.name}/server", headers=admin.headers)
    assert stop.status_code in (202, 204)
    wait_until_stopped(enclave, admin, dave.name, 60)


def test_a_session_outlives_its_access_token(enclave, admin):
    """The access token expires every 3 s: the refresh token keeps a member signed on."""
    alice = running_researcher(enclave, "alice")
    time.sleep(3 * REFRESH_AGE)
    assert server_of(enclave, admin, alice.name)["ready"]
    assert requests.get(f"{alice.hub_url}/hub/api/user", headers=alice.headers).status_code == 200
    assert not events(enclave, "access.revoke", alice.name)


def test_removed_from_every_group_loses_session_token_and_cookie(enclave, admin):
    alice = Researcher.sign_on(enclave.hub.url, enclave.names["alice"], enclave.password)
    if server_of(enclave, admin, alice.name) is None:
        alice = running_researcher(enclave, "alice")
    assert alice.session.get(f"{alice.hub_url}/hub/home", allow_redirects=False).status_code == 200
    server_cookie = alice.session.get(f"{alice.hub_url}/user/{alice.name}/lab")
    assert server_cookie.status_code == 200

    enclave.provider.set_groups(alice.name, [])
    took = wait_until_stopped(enclave, admin, alice.name, REFRESH_AGE + 10)
    print(f"session stopped {took:.1f}s after the provider dropped the user")

    api = requests.get(f"{alice.hub_url}/hub/api/user", headers=alice.headers, timeout=30)
    assert api.status_code == 403
    home = alice.session.get(f"{alice.hub_url}/hub/home", allow_redirects=False)
    assert home.status_code == 302 and "/hub/login" in home.headers["Location"]
    lab = alice.session.get(f"{alice.hub_url}/user/{alice.name}/api/status", allow_redirects=False)
    assert lab.status_code != 200
    (revoked,) = events(enclave, "access.revoke", alice.name)
    assert "no longer in any enclave group" in revoked.details["reason"]
    assert revoked.details["tokens"] >= 2  # the API token and the session server's OAuth token
    # signing on again does not help: the provider refuses the role
    again = login(enclave.hub.url, alice.name, enclave.password).login_response
    assert again.status_code == 403


def test_no_longer_a_researcher_ends_the_session_but_not_the_sign_on(enclave, admin):
    bob = running_researcher(enclave, "bob")
    enclave.provider.set_groups(bob.name, ["reviewers"])
    wait_until_stopped(enclave, admin, bob.name, REFRESH_AGE + 10)
    # still a reviewer: signed on, with his token, but no data session
    assert requests.get(f"{bob.hub_url}/hub/api/user", headers=bob.headers).status_code == 200
    assert not events(enclave, "access.revoke", bob.name)
    response = bob.spawn("proj")
    assert response.status_code == 403 and "Only researchers" in response.json()["message"]


def test_an_account_deleted_at_the_provider_is_revoked(enclave, admin):
    carol = running_researcher(enclave, "carol")
    enclave.provider.remove_account(carol.name)
    wait_until_stopped(enclave, admin, carol.name, REFRESH_AGE + 10)
    assert requests.get(f"{carol.hub_url}/hub/api/user", headers=carol.headers).status_code == 403
    (revoked,) = events(enclave, "access.revoke", carol.name)
    assert "no longer accepts" in revoked.details["reason"]


# -- a deployment that lets administrators in: every entry on record ------------------------------
OPEN_CONFIG = """
from enclave.hub.authenticator import admin_role
c.JupyterHub.load_roles = [
    r for r in c.JupyterHub.load_roles if r["name"] != "enclave-admin"
] + [admin_role(enter_sessions=True)]
"""


def test_where_admins_may_enter_each_entry_is_audited():
    people = {"erin": ["researchers"], "ada": ["admins"]}
    projects = {"proj": {"members": ["erin"], "institutions": ["CC-101"]}}
    with running_enclave(None, people, projects, extra_config=OPEN_CONFIG) as other:
        erin = running_researcher(other, "erin")
        ada = Researcher.sign_on(other.hub.url, other.names["ada"], other.password)
        # JupyterHub asks whoever enters a server not theirs to authorize it: the hub's form
        confirm = ada.session.get(f"{other.hub.url}/user/{erin.name}/lab", timeout=30)
        assert "/hub/api/oauth2/authorize" in confirm.url
        fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm.text)
        page = ada.session.post(confirm.url, data=[(k, html.unescape(v)) for k, v in fields])
        assert page.status_code == 200 and page.url.endswith(f"/user/{erin.name}/lab")
        (entered,) = events(other, "session.enter", ada.name)
        assert entered.details == {"owner": erin.name, "server": ""}
        assert not events(other, "session.enter", erin.name)  # her own entries are not
