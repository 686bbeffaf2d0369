"""Group-to-role rules of the authenticator, and the data-use agreement's versions."""

import pytest

from enclave.hub.agreement import AgreementRecords, DataUseAgreement
from enclave.hub.authenticator import EnclaveAuthenticator, enclave_roles


@pytest.mark.parametrize(
    ("groups", "roles"),
    [
        (["researchers"], {"researchers"}),
        (["reviewers"], {"reviewers"}),
        (["stewards-CC-101"], {"stewards"}),
        (["admins", "researchers"], {"admins", "researchers"}),
        (["stewards-NOPE-1"], set()),
        (["students", "staff"], set()),
        ([], set()),
        (None, set()),
    ],
)
def test_roles_from_provider_groups(groups, roles):
    assert enclave_roles(groups) == roles


@pytest.mark.parametrize(
    ("groups", "allowed"),
    [(["researchers"], True), (["stewards-UNI-201"], True), (["outsiders"], False), ([], False)],
)
async def test_check_allowed_admits_only_enclave_roles(groups, allowed):
    authenticator = EnclaveAuthenticator(oidc_issuer="http://127.0.0.1:1")
    model = {"name": "x", "admin": False, "groups": groups, "auth_state": {}}
    assert await authenticator.check_allowed("x", model) is allowed


async def test_check_allowed_refuses_missing_auth_model():
    assert (
        await EnclaveAuthenticator(oidc_issuer="http://127.0.0.1:1").check_allowed("x", None)
        is False
    )


def test_oidc_defaults_follow_the_issuer():
    authenticator = EnclaveAuthenticator(oidc_issuer="https://login.example")
    assert authenticator.authorize_url == "https://login.example/auth"
    assert authenticator.token_url == "https://login.example/token"
    assert authenticator.userdata_url == "https://login.example/me"
    assert (
        authenticator.manage_groups and authenticator.auth_state_groups_key == "oauth_user.groups"
    )
    assert authenticator.admin_groups == {"admins"}


def test_agreement_version_changes_with_its_text(tmp_path):
    text = tmp_path / "agreement.txt"
    text.write_text("FERPA excerpt v1")
    first = DataUseAgreement(text_file=str(text)).version
    text.write_text("FERPA excerpt v2")
    assert DataUseAgreement(text_file=str(text)).version != first
    assert DataUseAgreement(text_file=str(text), version="2027-01").version == "2027-01"


def test_default_agreement_holds_ferpa_and_the_principles():
    text = DataUseAgreement().text
    assert "Family Educational Right to Privacy Act" in text
    assert "Guiding Principles for Data Use" in text and "secure facilities" in text


def test_acceptance_is_per_version_and_audited(tmp_path):
    from enclave.audit import AuditLog
    from enclave.state import make_engine

    records = AgreementRecords(make_engine(f"sqlite:///{tmp_path / 's.sqlite'}"))
    records.accept("alice", "v1")
    records.accept("alice", "v1")  # idempotent
    assert records.has_accepted("alice", "v1")
    assert not records.has_accepted("alice", "v2")
    assert not records.has_accepted("bob", "v1")
    events = AuditLog(records.engine).events(action="agreement.accept")
    assert [(e.actor, e.details["version"]) for e in events] == [("alice", "v1")]
