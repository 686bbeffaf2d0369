"""Data-access requests through the review service (``access.AccessRequests``), and what a
withdrawal does to the project's submissions; internal and external releases: whose stewards
each needs, and the permitted use in the package."""

import json
import zipfile

import pytest
from conftest import PROJECT, create_project, submit
from review_factories import admin, researcher, reviewer, steward
from test_workflow import builder

from enclave.audit import AuditLog
from enclave.review_service.access import AccessRequests
from enclave.review_service.errors import BadSubmission, NotFound, PermissionDenied
from enclave.review_service.stewards import EXTERNAL, RECIPIENT
from enclave.warehouse.grant import catalog

RITA = researcher("rita")
CC, UNI = steward("CC-101"), steward("UNI-201")
MEMBERS = ["CC-101", "CC-102", "K12-001", "K12-002", "UNI-201"]


class Grants(list):
    def __call__(self, project, scopes):
        self.append(dict(scopes))
        return f"/extracts/{project}" if scopes else None


@pytest.fixture
def access(workflow):
    return AccessRequests(workflow, catalog(), Grants())


def ask(access, name="transfer", actor=RITA):
    from datetime import UTC, datetime, timedelta

    return access.request(
        actor,
        name,
        purpose="transfer outcomes",
        expires=(datetime.now(UTC) + timedelta(days=90)).date(),
        members=["ravi"],
        scopes={"CC-101": {"students": None, "cc_awards": None}, "UNI-201": {"students": None}},
    )


def test_a_researcher_asks_and_each_steward_decides_for_its_own_data(access):
    project = ask(access)
    assert project.members == ("ravi", "rita") and project.requested_by == "rita"
    assert [p.name for p in access.visible(CC)] == ["demo", "transfer"]
    assert [p.name for p in access.visible(researcher("bob"))] == []
    assert [(p.name, i) for p, i in access.waiting_for(CC)] == [("transfer", "CC-101")]
    narrow = access.scope_from(
        project.access_of("CC-101").requested, ["students"], {"students": ["gender"]}
    )
    assert narrow == {"students": ["gender", "institution", "student_key"]}
    access.decide(CC, "transfer", "CC-101", "approve", scope=narrow, comment="students only")
    project = access.decide(UNI, "transfer", "UNI-201", "approve")
    assert project.scopes == {"CC-101": narrow, "UNI-201": {"students": None}}
    assert access.grant[-1] == project.scopes
    assert access.waiting_for(CC) == []


@pytest.mark.parametrize(
    ("act", "refusal", "message"),
    [
        (
            lambda a: a.decide(UNI, "transfer", "CC-101", "approve"),
            PermissionDenied,
            "steward-uni-201 is a steward of UNI-201; only CC-101's stewards decide",
        ),
        (
            lambda a: a.decide(RITA, "transfer", "CC-101", "approve"),
            PermissionDenied,
            "rita is not a steward",
        ),
        (  # someone the request does not concern does not learn it exists
            lambda a: a.decide(researcher("bob"), "transfer", "CC-101", "approve"),
            NotFound,
            "no such data-access request",
        ),
        (
            lambda a: a.withdraw(CC, "transfer", "CC-101", "oops"),
            BadSubmission,
            "CC-101 has no approval to withdraw \\(pending\\)",
        ),
        (
            lambda a: a.decide(CC, "transfer", "CC-101", "approve", scope={"univ_degrees": None}),
            BadSubmission,
            "no more than was asked for",
        ),
        (lambda a: ask(a, actor=reviewer()), PermissionDenied, "may not request data access"),
        (lambda a: ask(a, name="demo"), BadSubmission, "already exists"),
    ],
)
def test_refusals_are_one_line_and_record_nothing(access, act, refusal, message):
    ask(access)
    seen = len(AuditLog(access.workflow.engine).events())
    with pytest.raises(refusal, match=message) as refused:
        act(access)
    assert "\n" not in str(refused.value)
    assert len(AuditLog(access.workflow.engine).events()) == seen


def test_a_withdrawal_returns_the_submissions_that_used_the_data_in_its_transaction(
    access, workflow
):
    # project demo (conftest): CC-101 and UNI-201 approved; rita's submission used both
    used_both = submit(workflow, RITA)["id"]
    workflow.decide(reviewer("rev1"), used_both, "approve")
    returned = access.withdraw(UNI, PROJECT, "UNI-201", "consent withdrawn")
    assert returned == [used_both]
    info = workflow.get(RITA, used_both)
    assert info["request"].status == "changes_requested"
    assert "UNI-201's approval of project demo was withdrawn (consent withdrawn)" in (
        info["comments"][-1].body
    )
    actions = [e.action for e in AuditLog(workflow.engine).events(project=PROJECT)][-3:]
    assert actions == ["project.withdraw", "request.returned", "request.comment"]
    assert access.projects.get(PROJECT).institutions == ("CC-101",)


def test_a_request_that_names_the_institution_only_as_recipient_stays(access, workflow):
    create_project(workflow.engine, name="cconly", institutions=("CC-101",))
    upload = workflow.store.open_upload()
    import review_notebooks as notebooks

    from enclave.review_service.workflow import Submission

    upload.write(notebooks.to_bytes(notebooks.passing()))
    kept = workflow.submit(
        RITA,
        upload,
        Submission(
            notebook="a.ipynb",
            project="cconly",
            purpose="p",
            release_use="internal",
            recipients=("UNI-201",),
        ),
    )
    assert kept["institutions"] == ["CC-101", "UNI-201"]
    access.projects.approve_override("cconly", "UNI-201", actor="ada", reason="form")
    assert access.withdraw(UNI, "cconly", "UNI-201", "no") == []
    assert workflow.get(RITA, kept["id"])["request"].status == "submitted"


def test_an_internal_release_needs_its_data_and_its_recipients(workflow):
    result = submit(workflow, RITA, release_use="internal", recipients=("K12-001",))
    assert result["institutions"] == ["CC-101", "K12-001", "UNI-201"]
    reasons = json.loads(workflow.data.request(result["id"]).institutions_source)
    assert reasons["K12-001"] == [RECIPIENT]


def test_an_external_release_needs_every_member_and_carries_its_use(workflow):
    result = submit(workflow, RITA, release_use="external", recipients=())
    rid = result["id"]
    assert result["institutions"] == MEMBERS
    reasons = json.loads(workflow.data.request(rid).institutions_source)
    assert all(EXTERNAL in reasons[code] for code in MEMBERS)
    workflow.decide(reviewer("rev1"), rid, "approve")
    workflow.decide(reviewer("rev2"), rid, "approve")
    for code in MEMBERS[:-1]:
        workflow.decide(steward(code), rid, "approve")
    assert workflow.get(RITA, rid)["request"].status == "in_review"  # UNI-201 still out
    workflow.decide(steward("UNI-201"), rid, "approve")
    assert workflow.release(rid, builder(workflow))
    path, _ = workflow.download(RITA, rid)
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read(f"{rid}/manifest.json"))
        html = archive.read(f"{rid}/report.html").decode()
    assert manifest["release_use"] == "external" and manifest["recipients"] == []
    assert manifest["permitted_use"].startswith("External reporting")
    assert html.count(manifest["permitted_use"]) == 2  # the stamp and every printed page's foot
    assert sorted(manifest["stewards"]) == MEMBERS


def test_a_refusal_by_any_member_ends_an_external_release(workflow):
    rid = submit(workflow, RITA, release_use="external", recipients=())["id"]
    workflow.decide(steward("K12-002"), rid, "reject", "It ranks our district.")
    assert workflow.get(RITA, rid)["request"].status == "rejected"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"release_use": ""}, "release_use: say 'internal'"),
        ({"release_use": "public"}, "release_use: say 'internal'"),
        ({"release_use": "internal", "recipients": ()}, "recipients: an internal release names"),
        ({"release_use": "internal", "recipients": ("XX-9",)}, "'XX-9' is not a consortium"),
        ({"release_use": "external", "recipients": ("CC-101",)}, "name no recipients"),
    ],
)
def test_a_submission_must_state_its_use(workflow, fields, message):
    with pytest.raises(BadSubmission, match=message):
        submit(workflow, RITA, **fields)
    assert workflow.visible(admin()) == []
