"""Group-to-role rules of the authenticator, and the data-use agreement's versions."""

import pytest

from enclave.consortium import demo
from enclave.hub.agreement import AgreementRecords, DataUseAgreement
from enclave.hub.authenticator import EnclaveAuthenticator


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
    assert demo().roles(groups) == roles


@pytest.mark.parametrize(
    ("groups", "allowed"),
    [(["researchers"], True), (["stewards-UNI-201"], True), (["outsiders"], False), ([], False)],
)
async def test_check_allowed_admits_only_enclave_roles(groups, allowed, tmp_path):
    authenticator = EnclaveAuthenticator(
        oidc_issuer="http://127.0.0.1:1", config=state_config(tmp_path)
    )
    model = {"name": "x", "admin": False, "groups": groups, "auth_state": {}}
    assert await authenticator.check_allowed("x", model) is allowed


def state_config(tmp_path):
    from traitlets.config import Config

    config = Config()
    config.EnclaveState.db_url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    return config


async def test_sign_on_keeps_the_providers_verified_address_and_groups(tmp_path):
    """What e-mail notifications are sent to (enclave.notify): the last sign-on's word."""
    import sqlalchemy as sa

    from enclave.state import make_engine
    from enclave.tables import user_directory

    config = state_config(tmp_path)
    authenticator = EnclaveAuthenticator(oidc_issuer="http://127.0.0.1:1", config=config)

    def signed_on(name, groups, claims):
        model = {"name": name, "groups": groups, "auth_state": {"oauth_user": claims}}
        return authenticator.check_allowed(name, model)

    assert await signed_on("sam", ["reviewers"], {"email": "sam@college.example"})
    assert await signed_on("una", ["researchers"], {"email": "u@x.org", "email_verified": False})
    assert not await signed_on("out", ["outsiders"], {"email": "out@x.org"})
    engine = make_engine(config.EnclaveState.db_url)
    with engine.connect() as conn:
        rows = {r.user: (r.email, r.groups) for r in conn.execute(sa.select(user_directory))}
    engine.dispose()
    assert rows == {
        "sam": ("sam@college.example", '["reviewers"]'),
        "una": (None, '["researchers"]'),
    }


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
    assert not authenticator.admin_groups  # admins get the enclave-admin role, not the flag


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


def test_the_hub_refuses_to_start_on_mail_settings_that_would_send_in_the_clear(tmp_path, caplog):
    import logging

    from enclave.hub.authenticator import check_state_at_start

    config = state_config(tmp_path)
    config.Mail.smtp_host = "mail.consortium.example"
    config.Mail.security = "none"
    config.Mail.sender = "enclave@consortium.example"
    with pytest.raises(SystemExit), caplog.at_level(logging.CRITICAL):
        check_state_at_start(config, logging.getLogger("hub"))
    assert "Mail.security 'none' sends in the clear" in caplog.text
    config.Mail.security = "starttls"
    check_state_at_start(config, logging.getLogger("hub"))
