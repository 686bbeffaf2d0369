"""E-mail notifications through a real SMTP server on loopback (aiosmtpd): queued in the
transaction of the change, delivered by the Postman with retries, every attempt audited, and
nothing in a message a session chose (no notebook name, purpose, comment or output value)."""

import json

import pytest
import sqlalchemy as sa
from conftest import create_project, submit
from review_factories import researcher, reviewer, steward
from test_workflow import approve_all, builder
from traitlets.config import Config

from enclave.audit import AuditLog
from enclave.errors import EnclaveError
from enclave.notify import Mail, Postman, remember_user
from enclave.review_service.errors import Conflict
from enclave.tables import mail_outbox, review_decisions
from tests.support.smtp import SMTPServer, subject

RITA = researcher("rita")
PEOPLE = {
    "rita": ["researchers"],
    "rev1": ["reviewers"],
    "rev2": ["reviewers"],
    "steward-cc-101": ["stewards-CC-101"],
    "steward-uni-201": ["stewards-UNI-201"],
    "sk12": ["stewards-K12-001"],
}


@pytest.fixture
def smtp():
    with SMTPServer() as server:
        yield server


def mail_settings(smtp, **overrides) -> Mail:
    config = Config()
    values = dict(
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        security="none",
        sender="enclave@consortium.example",
        base_url="https://enclave.consortium.example/",
        retry_delay=0.0,
    )
    for key, value in {**values, **overrides}.items():
        setattr(config.Mail, key, value)
    return Mail(config=config)


@pytest.fixture
def mailing(workflows, sqlite_url, tmp_path, smtp):
    """A workflow whose changes queue mail, its Postman, and the people signed on once."""
    mail = mail_settings(smtp)
    wf = workflows(sqlite_url, tmp_path / "store")
    wf.data.mail = mail
    create_project(wf.engine)
    for user, groups in PEOPLE.items():
        remember_user(wf.engine, user, f"{user}@example.org", groups)
    return wf, Postman(mail, wf.engine)


def outbox(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(mail_outbox).order_by(mail_outbox.c.id)).all()


def subjects(smtp, user) -> list[str]:
    return [subject(m) for m in smtp.mailbox.to(f"{user}@example.org")]


def test_submission_decisions_and_release_each_mail_who_must_act(mailing, smtp):
    wf, postman = mailing
    secret_name = "ssn-123-45-6789.ipynb"  # a session may name its notebook anything
    rid = submit(
        wf,
        RITA,
        notebook=secret_name,
        purpose="Purpose text 424242 that must stay inside",
        summary="Summary 31337",
    )["id"]
    queued = outbox(wf.engine)
    assert {(r.kind, r.user) for r in queued} == {
        ("request.submitted", "rev1"),
        ("request.submitted", "rev2"),
        ("request.sign-off", "steward-cc-101"),
        ("request.sign-off", "steward-uni-201"),
    }  # not the requester, not K12-001's steward (its data is not used)
    assert postman.deliver_due() == 4
    (review,) = smtp.mailbox.to("rev1@example.org")
    assert subject(review) == f"[Consortium research enclave] Request {rid} waits for review (demo)"
    assert review["From"] == "enclave@consortium.example"
    assert review["Auto-Submitted"] == "auto-generated"
    body = review.get_content()
    assert f"https://enclave.consortium.example/services/review/requests/{rid}" in body
    assert "rita has submitted" in body
    (sign_off,) = smtp.mailbox.to("steward-uni-201@example.org")
    assert "UNI-201's sign-off is needed" in subject(sign_off)
    assert postman.deliver_due() == 0  # each message once

    wf.decide(reviewer("rev1"), rid, "approve", comment="Comment 8675309 for the requester")
    wf.decide(reviewer("rev2"), rid, "approve")
    wf.decide(steward("CC-101"), rid, "approve")
    assert wf.decide(steward("UNI-201"), rid, "approve") == "approved"
    wf.release(rid, builder(wf))
    assert postman.deliver_due() == 5
    assert subjects(smtp, "rita") == [
        f"[Consortium research enclave] rev1 approved request {rid} (now in review)",
        f"[Consortium research enclave] rev2 approved request {rid} (now in review)",
        f"[Consortium research enclave] steward-cc-101 approved request {rid} (now in review)",
        f"[Consortium research enclave] steward-uni-201 approved request {rid} (now approved)",
        f"[Consortium research enclave] Request {rid} is released: the package is ready (demo)",
    ]
    every_message = "\n".join(m.as_string() for _, m in smtp.mailbox.messages)
    for chosen_in_the_session in ("ssn-123", "424242", "31337", "8675309", "analysis"):
        assert chosen_in_the_session not in every_message

    sent = AuditLog(wf.engine).events(action="mail.sent")
    assert len(sent) == 9 and {e.request for e in sent} == {rid}
    assert sent[0].details == {"outbox": 1, "kind": "request.submitted", "to": "rev1", "attempt": 1}
    assert AuditLog(wf.engine).verify() == len(AuditLog(wf.engine).events())


def test_changes_requested_and_resubmission_tell_the_requester_then_the_reviewers(mailing, smtp):
    wf, postman = mailing
    rid = submit(wf, RITA)["id"]
    wf.decide(reviewer("rev1"), rid, "request_changes", comment="Round the counts.")
    submit(wf, RITA, resubmit=rid)
    postman.deliver_due()
    assert subjects(smtp, "rita") == [
        f"[Consortium research enclave] rev1 asked for changes to request {rid} "
        "(now changes requested)"
    ]
    assert subjects(smtp, "rev1")[-1] == (
        f"[Consortium research enclave] Request {rid} waits for review (demo, round 2)"
    )
    assert "round 2" in subject(smtp.mailbox.to("steward-cc-101@example.org")[-1])


def test_a_refused_change_queues_nothing(mailing, smtp):
    wf, postman = mailing
    rid = submit(wf, RITA)["id"]
    before = len(outbox(wf.engine))
    with pytest.raises(Exception, match="own"):
        wf.decide(researcher("rita"), rid, "approve")  # nobody reviews their own request
    wf.store.path(wf.data.request(rid).sha256).chmod(0o600)
    wf.store.path(wf.data.request(rid).sha256).write_bytes(b"changed")
    with pytest.raises(Conflict):
        wf.decide(reviewer("rev1"), rid, "approve")  # the frozen copy changed: rolled back
    assert len(outbox(wf.engine)) == before
    with wf.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(review_decisions)).scalar() == 0


def test_a_busy_or_absent_server_is_retried_until_it_takes_the_message(mailing, smtp):
    wf, postman = mailing
    wf.data.mail.send_to = ["researchers"]
    rid = submit(wf, RITA)["id"]
    assert outbox(wf.engine) == []  # reviewers and stewards are off
    wf.decide(reviewer("rev1"), rid, "approve")
    smtp.mailbox.refuse = True
    assert postman.deliver_due() == 0
    (row,) = outbox(wf.engine)
    assert (row.state, row.attempts, row.error) == ("pending", 1, "SMTPDataError 451")
    smtp.stop()  # the server goes away altogether
    assert postman.deliver_due() == 0
    assert outbox(wf.engine)[0].error == "ConnectionRefusedError"
    smtp.restart()
    smtp.mailbox.refuse = False
    assert postman.deliver_due() == 1
    (row,) = outbox(wf.engine)
    assert (row.state, row.attempts) == ("sent", 3)
    assert len(subjects(smtp, "rita")) == 1
    log = AuditLog(wf.engine)
    failed = [e.details["error"] for e in log.events(action="mail.failed")]
    assert failed == ["SMTPDataError 451", "ConnectionRefusedError"]
    assert [e.details["attempt"] for e in log.events(action="mail.sent")] == [3]


def test_a_message_is_given_up_after_its_attempts_and_that_is_audited(mailing, smtp):
    wf, postman = mailing
    wf.data.mail.max_attempts = 2
    wf.data.mail.send_to = ["researchers"]
    rid = submit(wf, RITA)["id"]
    wf.decide(reviewer("rev1"), rid, "reject", comment="Not releasable.")
    smtp.mailbox.refuse = True
    postman.deliver_due()
    postman.deliver_due()
    assert postman.deliver_due() == 0
    (row,) = outbox(wf.engine)
    assert (row.state, row.attempts) == ("failed", 2)
    (given_up,) = AuditLog(wf.engine).events(action="mail.undeliverable")
    assert given_up.details["error"] == "SMTPDataError 451" and given_up.request == rid
    assert smtp.mailbox.refused == 2


def test_a_user_without_an_address_is_undeliverable_unless_configured(mailing, smtp):
    wf, postman = mailing
    wf.data.mail.send_to = ["researchers"]
    remember_user(wf.engine, "rita", "not an address", ["researchers"])
    rid = submit(wf, RITA)["id"]
    wf.decide(reviewer("rev1"), rid, "approve")
    postman.deliver_due()
    (given_up,) = AuditLog(wf.engine).events(action="mail.undeliverable")
    assert given_up.details["error"] == "no address"
    wf.data.mail.addresses = {"rita": "rita.r@college.example"}
    wf.decide(reviewer("rev2"), rid, "approve")
    assert postman.deliver_due() == 1
    assert len(smtp.mailbox.to("rita.r@college.example")) == 1


def test_a_context_with_free_text_is_refused_and_nothing_is_written(mailing):
    wf, _ = mailing
    mail = wf.data.mail
    good = {"request": "r-0123456789", "project": "demo"}
    for bad, error in [
        ({**good, "notebook": "analysis.ipynb"}, "field 'notebook' is not one it may carry"),
        ({**good, "project": "demo\nBcc: x@evil.example"}, "field 'project' must be a project"),
        ({**good, "request": "mean income 52,300"}, "field 'request' must be a request"),
        ({"request": "r-0123456789"}, "field 'project' must be a project"),
    ]:
        with pytest.raises(ValueError, match=error), wf.engine.begin() as conn:
            mail.notify(conn, "request.released", users=["rita"], context=bad)
    with pytest.raises(ValueError, match="no such kind"), wf.engine.begin() as conn:
        mail.notify(conn, "request.leak", users=["rita"], context=good)
    with pytest.raises(ValueError, match="'round' must be a number"), wf.engine.begin() as conn:
        mail.notify(
            conn,
            "request.submitted",
            groups=["reviewers"],
            context={**good, "author": "rita", "round": "1"},
        )
    assert outbox(wf.engine) == []


def test_mail_off_queues_nothing(workflows, sqlite_url, tmp_path):
    wf = workflows(sqlite_url, tmp_path / "store")  # no Mail settings: no SMTP host
    create_project(wf.engine)
    remember_user(wf.engine, "rev1", "rev1@example.org", ["reviewers"])
    rid = submit(wf, RITA)["id"]
    approve_all(wf, rid, "CC-101", "UNI-201")
    assert outbox(wf.engine) == []


def test_sign_on_keeps_the_latest_address_and_groups(sqlite_url):
    from enclave.notify import members_of
    from enclave.state import make_engine

    engine = make_engine(sqlite_url)
    remember_user(engine, "sam", "sam@example.org", ["stewards-CC-101"])
    remember_user(engine, "sam", "sam@college.example", ["reviewers"])
    with engine.connect() as conn:
        assert members_of(conn, ["stewards-CC-101"]) == set()
        assert members_of(conn, ["reviewers", "admins"]) == {"sam"}
    assert Postman(Mail(), engine).address("sam") == "sam@college.example"
    engine.dispose()


@pytest.mark.parametrize(
    "settings, error",
    [
        ({"sender": ""}, "Mail.sender: set the From address"),
        ({"smtp_host": "mail.consortium.example"}, "sends in the clear"),
        ({"password_file": "/nonexistent/smtp-password"}, "Mail.password_file"),
    ],
)
def test_settings_that_would_send_nothing_or_in_the_clear_are_refused(smtp, settings, error):
    with pytest.raises(EnclaveError, match=error):
        mail_settings(smtp, **settings).check()
    mail_settings(smtp).check()
    mail_settings(smtp, smtp_host="mail.consortium.example", security="starttls").check()


@pytest.mark.parametrize(
    "trait, value, error",
    [
        ("sender", "Enclave <enclave@x.org>", "not an address"),
        ("send_to", ["everyone"], "not a role"),
        ("addresses", {"rita": "rita@x.org\nBcc: y@z.org"}, "not an address"),
    ],
)
def test_bad_settings_name_the_setting(trait, value, error):
    config = Config()
    setattr(config.Mail, trait, value)
    with pytest.raises(Exception, match=f"Mail.{trait}.*{error}"):
        Mail(config=config)


def test_links_start_at_the_hubs_public_url_when_mail_has_none():
    config = Config()
    config.JupyterHub.public_url = "https://enclave.college.example"
    assert Mail(config=config).link_base() == "https://enclave.college.example/"
    config.JupyterHub.public_url = ""
    config.JupyterHub.bind_url = "http://127.0.0.1:8000/"
    assert Mail(config=config).link_base() == "http://127.0.0.1:8000/"


def test_every_kind_has_a_template_using_only_its_fields(smtp, tmp_path):
    from enclave.notify import FIELDS, KINDS
    from enclave.state import make_engine

    samples = {"request": "r-0123456789", "project": "demo", "user": "rita"}
    samples |= {"institution": "CC-101", "state": "approve", "date": "2027-01-31", "id": "x-1"}
    engine = make_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    postman = Postman(mail_settings(smtp), engine)
    for kind, spec in KINDS.items():
        context = {name: (2 if FIELDS[t] is int else samples[t]) for name, t in spec.fields.items()}
        if kind == "request.decided":
            context["status"] = "in_review"
        message = postman.compose(kind, json.loads(json.dumps(context)), "a@example.org")
        assert subject(message).startswith("[Consortium research enclave] ")
        assert "r-0123456789" in message.get_content()
    engine.dispose()


def test_starttls_is_verified_against_the_configured_ca(mailing, tmp_path):
    from tests.support.smtp import self_signed

    wf, _ = mailing
    cert, key = self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    other, _ = self_signed(tmp_path / "other")  # a certificate the server does not have
    with SMTPServer(starttls=(cert, key)) as server:
        wf.data.mail = mail_settings(
            server, smtp_host="localhost", security="starttls", ca_file=cert
        )
        wf.data.mail.send_to = ["researchers"]
        rid = submit(wf, RITA)["id"]
        wf.decide(reviewer("rev1"), rid, "approve")
        assert Postman(wf.data.mail, wf.engine).deliver_due() == 1
        assert len(server.mailbox.to("rita@example.org")) == 1
        wf.decide(reviewer("rev2"), rid, "approve")
        wf.data.mail.ca_file = other  # a server that cannot prove who it is gets nothing
        assert Postman(wf.data.mail, wf.engine).deliver_due() == 0
        assert len(server.mailbox.to("rita@example.org")) == 1
    (failed,) = AuditLog(wf.engine).events(action="mail.failed")
    assert failed.details["error"] == "SSLCertVerificationError"
