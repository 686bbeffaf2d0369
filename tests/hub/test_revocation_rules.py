"""Revocation's small pieces: the administrators' role, the provider asked from poll(), and a
provider that cannot be asked. End to end (real provider and hub): test_revocation.py."""

import time
from types import SimpleNamespace

import pytest
from jupyterhub import scopes
from traitlets.config import Config

from enclave.hub.authenticator import (
    ADMIN_SCOPES,
    Confirmation,
    EnclaveAuthenticator,
    admin_role,
    is_admin,
)
from enclave.hub.context import enclave_context
from enclave.hub.spawner import EnclaveSpawner


def expanded(scope_list) -> set[str]:
    return set().union(*(scopes._expand_scope(s) for s in scope_list))


# -- administrators -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "way_in",
    ["access:servers", "tokens", "shares", "admin:auth_state", "admin:services", "admin:users"],
)
def test_the_admin_role_has_no_way_into_a_session(way_in):
    role = admin_role()
    assert role["name"] != "admin" and role["groups"] == ["admins"]
    assert way_in not in expanded(role["scopes"])


def test_the_admin_role_keeps_what_the_admin_pages_need():
    held = expanded(ADMIN_SCOPES)
    for needed in ("admin-ui", "list:users", "read:users", "read:servers", "delete:servers"):
        assert needed in held


def test_a_deployment_may_let_admins_enter_sessions():
    assert "access:servers" in admin_role(enter_sessions=True)["scopes"]


def test_admins_are_the_provider_group_not_the_flag():
    def person(*groups, admin=False):
        return SimpleNamespace(groups=[SimpleNamespace(name=g) for g in groups], admin=admin)

    assert is_admin(person("admins"))
    assert not is_admin(person("researchers", admin=True))
    assert not is_admin(None)


async def test_no_provider_group_makes_a_jupyterhub_admin():
    authenticator = EnclaveAuthenticator(oidc_issuer="http://127.0.0.1:1")
    model = await authenticator.update_auth_model(
        {"name": "ada", "admin": None, "auth_state": {"oauth_user": {"groups": ["admins"]}}}
    )
    assert model["admin"] is False  # not None: a legacy admin flag is taken away at sign-on


# -- the provider asked from poll() -------------------------------------------------------------
class Provider:
    """A stand-in for EnclaveAuthenticator.confirm: answers what the test says."""

    manage_groups = True
    auth_refresh_age = 60

    def __init__(self, answer: Confirmation):
        self.answer = answer
        self.asked = 0

    async def confirm(self, user, handler=None):
        self.asked += 1
        return self.answer


def user(refreshed_ago: float | None):
    saved = {}

    async def save_auth_state(state):
        saved["state"] = state

    return SimpleNamespace(
        name="alice",
        id=1,
        url="/user/alice/",
        groups=[SimpleNamespace(name="researchers")],
        _auth_refreshed=None if refreshed_ago is None else time.monotonic() - refreshed_ago,
        sync_groups=lambda names: saved.setdefault("groups", names),
        save_auth_state=save_auth_state,
        saved=saved,
    )


def spawner(tmp_path, provider, person):
    c = Config()
    c.EnclaveState.db_url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    enclave_context(c)
    hub = SimpleNamespace(api_url="http://hub:8081/hub/api", base_url="/hub/", url="/hub/")
    return EnclaveSpawner(config=c, user=person, hub=hub, authenticator=provider)


async def test_a_fresh_sign_on_is_not_asked_again(tmp_path):
    provider = Provider(Confirmation(revoked="gone"))
    assert await spawner(tmp_path, provider, user(10)).sign_on_reason_to_end() is None
    assert provider.asked == 0


async def test_a_revoked_user_loses_the_session(tmp_path):
    provider = Provider(Confirmation(revoked="you are no longer in any enclave group"))
    reason = await spawner(tmp_path, provider, user(61)).sign_on_reason_to_end()
    assert reason == "you are no longer in any enclave group" and provider.asked == 1


async def test_a_confirmed_user_gets_the_providers_groups_and_tokens(tmp_path):
    model = {"groups": ["reviewers"], "auth_state": {"access_token": "new"}}
    person = user(None)  # a hub restart: never refreshed in this process
    s = spawner(tmp_path, Provider(Confirmation(auth_model=model)), person)
    assert await s.sign_on_reason_to_end() is None
    assert person.saved == {"groups": ["reviewers"], "state": {"access_token": "new"}}
    assert time.monotonic() - person._auth_refreshed < 5


async def test_an_unreachable_provider_ends_the_session_after_its_grace(tmp_path):
    person = user(61)
    s = spawner(tmp_path, Provider(Confirmation(within_grace=True)), person)
    assert await s.sign_on_reason_to_end() is None  # goes on, asked again after the age
    assert time.monotonic() - person._auth_refreshed < 5
    s = spawner(tmp_path, Provider(Confirmation(within_grace=False)), user(61))
    assert "could not confirm" in await s.sign_on_reason_to_end()


@pytest.mark.parametrize(("confirmed_ago", "grace"), [(10, True), (599, True), (601, False)])
async def test_a_provider_that_cannot_be_reached_revokes_nobody(confirmed_ago, grace):
    authenticator = EnclaveAuthenticator(
        oidc_issuer="http://127.0.0.1:9", enable_auth_state=True, auth_refresh_age=300
    )  # discard port: refused

    async def get_auth_state():
        return {"token_response": {"access_token": "a", "token_type": "Bearer"}}

    async def revoke(*args, **kwargs):
        raise AssertionError("revoked on an outage")

    authenticator.revoke = revoke
    person = SimpleNamespace(
        name="alice",
        get_auth_state=get_auth_state,
        spawners={},
        _auth_refreshed=time.monotonic() - confirmed_ago,
    )
    confirmation = await authenticator.confirm(person)
    assert confirmation.auth_model is None and confirmation.revoked is None
    assert confirmation.within_grace is grace
    # a request within the grace keeps its sign-on (the hub asks again after the age)
    assert await authenticator.refresh_user(person) is grace


async def test_without_auth_state_nobody_is_signed_out():
    authenticator = EnclaveAuthenticator(oidc_issuer="http://127.0.0.1:9", enable_auth_state=False)
    person = SimpleNamespace(name="alice", spawners={}, _auth_refreshed=None)
    assert await authenticator.refresh_user(person) is True
