"""E-mail through the real provider, hub and review service to a real SMTP server on loopback:
addresses from the provider's claims at sign-on, messages read back as they arrived."""

import time

import pytest
import sqlalchemy as sa
from review_hub import PEOPLE, PROJECTS, SERVICE_CONFIG, sign_in, wait_for_service

from enclave.audit import AuditLog
from enclave.state import make_engine
from enclave.tables import mail_outbox
from tests.support.smtp import SMTPServer, subject

pytestmark = pytest.mark.e2e  # a real hub, provider and service: slow


@pytest.fixture(scope="module")
def smtp():
    with SMTPServer() as server:
        yield server


@pytest.fixture(scope="module")
def enclave(smtp):
    from devstack.enclave import running_enclave

    with running_enclave(None, PEOPLE, PROJECTS, extra_config=SERVICE_CONFIG + smtp.config()) as e:
        yield e


@pytest.fixture(scope="module")
def people(enclave):
    signed_in = {stem: sign_in(enclave, stem) for stem in PEOPLE}  # each sign-on keeps the address
    wait_for_service(signed_in["rita"])
    return signed_in


def wait_for_an_attempt(engine, user, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            row = conn.execute(sa.select(mail_outbox).where(mail_outbox.c.user == user)).first()
        if row is not None and row.attempts:
            return row
        time.sleep(0.2)
    raise AssertionError(f"no attempt at the message to {user} within {timeout} s")


def address(person) -> str:
    return f"{person.name}@example.org"  # what the devstack provider claims


def test_reviewers_stewards_and_the_researcher_hear_of_what_needs_them(
    enclave, people, smtp, tmp_path
):
    rita = people["rita"]
    rid = rita.submit(tmp_path, name="grades-of-student-4411.ipynb")["id"]
    reviewers = [people[s] for s in ("rosa", "rev1", "rev2", "rev3")]
    stewards = [people["scc"], people["suni"]]
    arrived = smtp.mailbox.wait_for(len(reviewers) + len(stewards))
    assert sorted(to for rcpt, _ in arrived for to in rcpt) == sorted(
        address(p) for p in reviewers + stewards
    )  # not the requester, not K12-001's steward, not the admin
    (for_rev1,) = smtp.mailbox.to(address(people["rev1"]))
    assert (
        subject(for_rev1) == f"[Consortium research enclave] Request {rid} waits for review (demo)"
    )
    link = f"{enclave.hub.url}/services/review/requests/{rid}"
    assert link in for_rev1.get_content()
    (for_suni,) = smtp.mailbox.to(address(people["suni"]))
    assert "UNI-201's sign-off is needed" in subject(for_suni)

    # a decision while the mail server is down is sent once it is back: nothing is lost
    smtp.stop()
    assert people["rev1"].decide(rid, "request_changes", "Merge the two small terms.").ok
    engine = make_engine(enclave.state_url)
    queued = wait_for_an_attempt(engine, rita.name)
    assert (queued.kind, queued.state, queued.error) == (
        "request.decided",
        "pending",
        "ConnectionRefusedError",
    )
    smtp.restart()
    smtp.mailbox.wait_for(len(reviewers) + len(stewards) + 1)
    (for_rita,) = smtp.mailbox.to(address(rita))
    assert subject(for_rita) == (
        f"[Consortium research enclave] {people['rev1'].name} asked for changes to request "
        f"{rid} (now changes requested)"
    )
    assert link in for_rita.get_content()
    every_message = "\n".join(m.as_string() for _, m in smtp.mailbox.messages)
    assert "4411" not in every_message and "small terms" not in every_message

    log = AuditLog(engine)
    deadline = time.monotonic() + 30  # the server has the message before the service records it
    while len(sent := log.events(action="mail.sent", request=rid)) < 7:
        assert time.monotonic() < deadline, f"{len(sent)} sends recorded, 7 expected"
        time.sleep(0.2)
    assert len(sent) == 7 and all(e.actor == "review-service" for e in sent)
    (to_rita,) = [e for e in sent if e.details["to"] == rita.name]
    assert to_rita.details["attempt"] >= 2  # the first was refused: the server was down
    assert log.events(action="mail.failed", request=rid)  # the attempt while it was down
    engine.dispose()
