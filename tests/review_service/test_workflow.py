"""The workflow against a real state database, the real gate and the hub's project registry."""

import hashlib
import io
import json
import os
import threading
import zipfile
from pathlib import Path

import pytest
import review_notebooks as notebooks
from conftest import count, create_project, submit
from review_factories import admin, researcher, reviewer, steward

from enclave.audit import AuditLog
from enclave.projects import ProjectRegistry
from enclave.review_service.errors import (
    BadSubmission,
    Conflict,
    GateBlocked,
    PermissionDenied,
)
from enclave.review_service.identity import SCOPE_REVIEW, SCOPE_SUBMIT, Actor
from enclave.review_service.release import build_package
from enclave.review_service.stewards import (
    LOG_UNREADABLE,
    NAMED,
    NO_RERUN,
    RECIPIENT,
    server_read_reason,
)
from enclave.tables import review_decisions, review_requests
from enclave.tables import review_releases as releases
from tests.support import pgaudit

RITA = researcher("rita")


def builder(wf):
    def build(row, progress):
        from enclave.output_review.gate import read_notebook

        path = wf.store.path(row.sha256)
        return build_package(row, progress, path.read_bytes(), read_notebook(path))

    return build


def approve_all(wf, request_id, *stewards_of):
    wf.decide(reviewer("rev1"), request_id, "approve")
    wf.decide(reviewer("rev2"), request_id, "approve")
    status = None
    for institution in stewards_of:
        status = wf.decide(steward(institution), request_id, "approve")
    return status


def test_submission_to_release_and_download(workflow):
    result = submit(workflow, RITA, summary="Two counts per term, all at least 100.")
    rid = result["id"]
    assert result["verdict"] == "pass"
    assert result["institutions"] == ["CC-101", "UNI-201"]  # no lineage: the project's
    assert approve_all(workflow, rid, "CC-101") == "in_review"
    assert (
        approve_all.__name__ and workflow.decide(steward("UNI-201"), rid, "approve") == "approved"
    )

    sha = workflow.release(rid, builder(workflow))
    assert workflow.get(RITA, rid)["request"].status == "released"
    path, filename = workflow.download(RITA, rid)
    assert filename == f"{rid}-release.zip"
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        assert names == [f"{rid}/analysis.ipynb", f"{rid}/manifest.json", f"{rid}/report.html"]
        manifest = json.loads(archive.read(f"{rid}/manifest.json"))
        html = archive.read(f"{rid}/report.html").decode()
        for name, digest in manifest["files"].items():
            assert hashlib.sha256(archive.read(f"{rid}/{name}")).hexdigest() == digest
    assert manifest["request_id"] == rid and manifest["sha256"] == result["sha256"]
    assert manifest["approvers"] == ["rev1", "rev2", "steward-cc-101", "steward-uni-201"]
    assert manifest["gate"]["verdict"] == "pass"
    assert rid in html and result["sha256"] in html and "steward-uni-201" in html
    assert "<script src" not in html  # self-contained: nothing from a CDN

    with pytest.raises(PermissionDenied, match="only the requester"):
        workflow.download(researcher("bob"), rid)
    workflow.download(admin(), rid)
    log = AuditLog(workflow.engine)
    assert log.verify() == len(log.events())
    actions = [e.action for e in log.events(request=rid)]
    assert actions[:2] == ["request.submit", "gate.result"]
    assert actions.count("request.approve") == 3 and actions.count("request.approve-final") == 1
    assert actions[-3:] == ["release.build", "release.download", "release.download"]
    assert [e.actor for e in log.events(request=rid, action="release.download")] == ["rita", "ada"]


def test_a_second_release_build_changes_nothing(workflow):
    rid = submit(workflow, RITA)["id"]
    approve_all(workflow, rid, "CC-101", "UNI-201")
    first = workflow.release(rid, builder(workflow))
    assert workflow.release(rid, builder(workflow)) is None  # no longer approved
    assert count(workflow.engine, releases) == 1 and first


def test_self_review_is_refused(workflow):
    both = Actor("rita", frozenset({SCOPE_SUBMIT, SCOPE_REVIEW}))
    rid = submit(workflow, both)["id"]
    with pytest.raises(PermissionDenied, match="Nobody reviews their own request"):
        workflow.decide(both, rid, "approve")
    assert count(workflow.engine, review_decisions) == 0


def test_a_steward_of_an_uninvolved_institution_cannot_decide(workflow):
    rid = submit(workflow, RITA)["id"]
    with pytest.raises(PermissionDenied, match="steward of K12-001"):
        workflow.decide(steward("K12-001"), rid, "reject", "no")
    assert count(workflow.engine, review_decisions) == 0


def test_approving_a_request_whose_stored_file_changed_is_refused(workflow):
    result = submit(workflow, RITA)
    path = workflow.store.path(result["sha256"])
    os.chmod(path, 0o600)
    path.write_bytes(path.read_bytes().replace(b"120", b"121"))
    with pytest.raises(Conflict, match="no longer matches its SHA-256"):
        workflow.decide(reviewer("rev1"), result["id"], "approve")
    assert count(workflow.engine, review_decisions) == 0


def test_two_concurrent_final_approvals_yield_exactly_one_package(workflows, db_url, tmp_path):
    wf = workflows(db_url, tmp_path / "store", required_reviewer_approvals=1)
    create_project(wf.engine, institutions=("CC-101",))
    rid = submit(wf, RITA)["id"]
    wf.decide(steward("CC-101"), rid, "approve")
    barrier = threading.Barrier(2)
    outcomes = []

    def final_approval(name):
        barrier.wait()
        try:
            status = wf.decide(reviewer(name), rid, "approve")
            outcomes.append(status)
            if status == "approved":
                wf.release(rid, builder(wf))
        except Conflict as e:
            outcomes.append(e)
        except PermissionDenied as e:
            outcomes.append(e)

    threads = [threading.Thread(target=final_approval, args=(n,)) for n in ("rev1", "rev2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("approved") == 1
    assert isinstance(next(o for o in outcomes if o != "approved"), PermissionDenied)
    # a late duplicate build (e.g. at service start) cannot add a second package
    wf.release(rid, builder(wf))
    assert count(wf.engine, releases) == 1
    assert len(AuditLog(wf.engine).events(request=rid, action="release.build")) == 1
    packages = [p for p in os.listdir(tmp_path / "store" / "objects")]
    assert len(packages) == 2  # the notebook and its one package
    assert AuditLog(wf.engine).verify() > 0


def test_a_file_that_is_not_a_notebook_stores_nothing(workflow):
    upload = workflow.store.open_upload()
    upload.write(b"PK\x03\x04 this is a zip")
    from enclave.review_service.workflow import Submission

    with pytest.raises(BadSubmission, match="analysis.ipynb: is a zip archive"):
        workflow.submit(
            RITA,
            upload,
            Submission(
                notebook="analysis.ipynb",
                project="demo",
                purpose="x",
                release_use="external",
            ),
        )
    assert_nothing_stored(workflow)


def assert_nothing_stored(wf):
    assert count(wf.engine, review_requests) == 0
    assert os.listdir(wf.store.root / "objects") == []
    assert os.listdir(wf.store.root / "tmp") == []
    assert AuditLog(wf.engine).events(action="request.submit") == []


@pytest.mark.parametrize(
    "name", ["../escape.ipynb", "a/../../b.ipynb", "/etc/x.ipynb", ".hidden/x.ipynb", "x.txt"]
)
def test_names_with_dot_dot_or_absolute_paths_are_refused(workflow, name):
    with pytest.raises(BadSubmission, match="not an acceptable name"):
        submit(workflow, RITA, notebook=name)
    assert_nothing_stored(workflow)


def test_a_blocked_output_needs_a_fix_or_a_written_exception(workflow):
    with pytest.raises(GateBlocked, match="blocked 1 output"):
        submit(workflow, RITA, notebooks.blocked())
    assert_nothing_stored(workflow)
    note = "The key is a documented synthetic example from the codebook."
    result = submit(workflow, RITA, notebooks.blocked(), exception_note=note)
    assert result["verdict"] == "block"
    assert workflow.get(reviewer(), result["id"])["request"].exception_note == note


def test_purpose_is_required_and_project_membership_checked(workflow):
    with pytest.raises(BadSubmission, match="purpose: required"):
        submit(workflow, RITA, purpose="  ")
    with pytest.raises(PermissionDenied, match="not a member"):
        submit(workflow, researcher("bob"))
    with pytest.raises(PermissionDenied, match="may not submit"):
        submit(workflow, reviewer())
    assert_nothing_stored(workflow)


def test_before_re_execution_the_project_and_named_institutions_decide_the_stewards(workflow):
    assert submit(workflow, RITA)["institutions"] == ["CC-101", "UNI-201"]
    # a table ranking K12-002 needs K12-002's steward although the project never read it
    ranking = notebooks.naming(["K12-002", "CC-101"])
    result = submit(workflow, RITA, ranking)
    assert result["institutions"] == ["CC-101", "K12-002", "UNI-201"]
    reasons = json.loads(workflow.get(RITA, result["id"])["request"].institutions_source)
    assert reasons == {
        "CC-101": [NO_RERUN, NAMED, RECIPIENT],  # (the conftest's internal release, to CC-101)
        "K12-002": [NAMED],
        "UNI-201": [NO_RERUN],
    }


def test_the_workflow_takes_no_query_records_from_sessions(workflow):
    """The kernel's own account of its queries is gone: only the warehouse's records count."""
    assert not hasattr(workflow, "record_query")


def test_changes_requested_then_resubmitted_starts_a_new_round(workflow):
    rid = submit(workflow, RITA)["id"]
    workflow.decide(reviewer("rev1"), rid, "approve")
    with pytest.raises(BadSubmission, match="comment: required"):
        workflow.decide(reviewer("rev2"), rid, "request_changes", "")
    workflow.decide(reviewer("rev2"), rid, "request_changes", "Round the rates to 1 dp.")
    with pytest.raises(PermissionDenied, match="not open for decisions"):
        workflow.decide(reviewer("rev3"), rid, "approve")
    ProjectRegistry(workflow.engine).add_member("demo", "bob", actor="ada")
    with pytest.raises(PermissionDenied, match="only rita"):
        submit(workflow, researcher("bob"), resubmit=rid)
    again = submit(workflow, RITA, notebooks.passing(title="Rounded"), resubmit=rid)
    assert again["id"] == rid and again["round"] == 2
    info = workflow.get(reviewer("rev1"), rid)
    assert info["request"].status == "submitted" and info["progress"].reviewers == []
    assert info["waiting_for_me"]  # rev1 must look again
    assert [c.body for c in workflow.get(RITA, rid)["comments"]] == ["Round the rates to 1 dp."]


def test_any_involved_steward_can_reject_after_reviewers_approved(workflow):
    rid = submit(workflow, RITA)["id"]
    approve_all(workflow, rid, "CC-101")
    status = workflow.decide(steward("UNI-201"), rid, "reject", "Ranks our campus unfavourably.")
    assert status == "rejected"
    with pytest.raises(PermissionDenied, match="not open for decisions"):
        workflow.decide(reviewer("rev3"), rid, "approve")
    assert workflow.release(rid, builder(workflow)) is None
    assert count(workflow.engine, releases) == 0


def test_internal_notes_are_hidden_from_the_requester(workflow):
    rid = submit(workflow, RITA)["id"]
    workflow.comment(reviewer(), rid, "<script>alert(1)</script> check cell 2", "reviewers")
    workflow.comment(RITA, rid, "Cell 2 is a total.")
    assert [c.body for c in workflow.get(RITA, rid)["comments"]] == ["Cell 2 is a total."]
    assert len(workflow.get(reviewer("rev2"), rid)["comments"]) == 2
    with pytest.raises(PermissionDenied):
        workflow.comment(RITA, rid, "sneaky", "reviewers")


def test_queue_visibility_and_waiting_counts(workflow):
    rid = submit(workflow, RITA)["id"]
    assert workflow.waiting_count(reviewer("rev1")) == 1
    assert workflow.waiting_count(steward("CC-101")) == 1
    assert workflow.waiting_count(steward("K12-001")) == 0
    assert workflow.visible(steward("K12-001")) == []
    assert workflow.visible(researcher("bob")) == []
    workflow.decide(reviewer("rev1"), rid, "approve")
    assert workflow.waiting_count(reviewer("rev1")) == 0
    assert workflow.withdraw(RITA, rid) == "withdrawn"
    assert workflow.waiting_count(reviewer("rev2")) == 0


def test_package_is_a_plain_zip_of_three_files(workflow):
    rid = submit(workflow, RITA)["id"]
    approve_all(workflow, rid, "CC-101", "UNI-201")
    workflow.release(rid, builder(workflow))
    path, _ = workflow.download(RITA, rid)
    with zipfile.ZipFile(io.BytesIO(Path(path).read_bytes())) as archive:
        assert archive.testzip() is None
        assert len(archive.namelist()) == 3


MUTATIONS = {
    "decide": lambda wf, rid: wf.decide(reviewer("rev1"), rid, "reject", "No."),
    "comment": lambda wf, rid: wf.comment(reviewer("rev1"), rid, "A note."),
    "withdraw": lambda wf, rid: wf.withdraw(RITA, rid),
    "resubmit": lambda wf, rid: submit(wf, RITA, notebooks.passing(title="v2"), resubmit=rid),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_every_change_is_audited_in_its_own_transaction(workflow, monkeypatch, name):
    """Meta-test: if writing the audit event fails, the change itself is rolled back."""
    rid = submit(workflow, RITA)["id"]
    before = workflow.get(admin(), rid)
    events = len(AuditLog(workflow.engine).events())

    def broken(*args, **kwargs):
        raise RuntimeError("audit unavailable")

    monkeypatch.setattr(workflow.audit, "record", broken)
    with pytest.raises(RuntimeError, match="audit unavailable"):
        MUTATIONS[name](workflow, rid)
    monkeypatch.undo()
    after = workflow.get(admin(), rid)
    assert after["request"] == before["request"]
    assert after["decisions"] == before["decisions"] and after["comments"] == before["comments"]
    assert len(AuditLog(workflow.engine).events()) == events
    MUTATIONS[name](workflow, rid)  # and with a working audit trail it goes through, recorded
    assert len(AuditLog(workflow.engine).events()) > events


def test_a_release_whose_audit_event_fails_leaves_no_package(workflow, monkeypatch):
    rid = submit(workflow, RITA)["id"]
    approve_all(workflow, rid, "CC-101", "UNI-201")
    objects = set(os.listdir(workflow.store.root / "objects"))

    def broken(*args, **kwargs):
        raise RuntimeError("audit unavailable")

    monkeypatch.setattr(workflow.audit, "record", broken)
    with pytest.raises(RuntimeError):
        workflow.release(rid, builder(workflow))
    monkeypatch.undo()
    assert set(os.listdir(workflow.store.root / "objects")) == objects
    assert count(workflow.engine, releases) == 0
    assert workflow.get(RITA, rid)["request"].status == "approved"
    assert workflow.release(rid, builder(workflow))  # rebuilt later (e.g. at service start)


def test_submission_imports_the_audit_log_and_the_relations_it_names_decide(
    workflows, db_url, tmp_path
):
    """A CC-101 read, then UNI-201 read directly: submission (not the hub's next poll) imports
    the log, and the steward of what the server read is needed, with the reason."""
    from enclave.tables import pg_sessions

    wf = workflows(db_url, tmp_path / "store")
    create_project(wf.engine)
    with wf.engine.begin() as conn:
        conn.execute(pg_sessions.insert().values(role="db_sess_rita", user="rita", project="demo"))
    sql = "select count(*) from warehouse.cc_enrollments where term = $1"
    log = tmp_path / "postgresql.json"
    log.write_text(pgaudit.read(sql, ["warehouse.cc_enrollments"]))
    wf.statement_log = str(log)
    reasons = json.loads(wf.get(RITA, submit(wf, RITA)["id"])["request"].institutions_source)
    assert reasons["UNI-201"] == [NO_RERUN]

    with log.open("a") as f:
        f.write(pgaudit.read("SELECT * FROM univ_degrees", ["warehouse.univ_degrees"], 2))
    result = submit(wf, RITA)
    assert result["institutions"] == ["CC-101", "UNI-201"]
    reasons = json.loads(wf.get(RITA, result["id"])["request"].institutions_source)
    univ_read = server_read_reason(["univ_degrees"])
    assert reasons["UNI-201"] == [NO_RERUN, univ_read]

    log.unlink()  # the log cannot be read: fail closed
    reasons = json.loads(wf.get(RITA, submit(wf, RITA)["id"])["request"].institutions_source)
    assert reasons["UNI-201"] == [NO_RERUN, univ_read, LOG_UNREADABLE]


def test_submission_imports_the_query_processes_log(workflows, sqlite_url, tmp_path):
    """SQLite: the records the session's query process wrote (not the session) name the
    tables read; a line anyone else wrote makes the import fail, so every steward is asked."""
    wf = workflows(sqlite_url, tmp_path / "store")
    create_project(wf.engine)
    log = tmp_path / "query-log.jsonl"
    record = {
        "user": "rita", "project": "demo", "session": "s1", "statement": 1,
        "time": "2026-12-01T00:00:00.000+00:00", "sql": "SELECT * FROM univ_degrees",
        "relations": ["warehouse.univ_degrees"], "institutions": ["UNI-201"],
    }  # fmt: skip
    log.write_text(json.dumps(record) + "\n")
    wf.query_log = str(log)
    reasons = json.loads(wf.get(RITA, submit(wf, RITA)["id"])["request"].institutions_source)
    assert reasons["UNI-201"] == [NO_RERUN, server_read_reason(["univ_degrees"])]
    assert "CC-101" in reasons  # (the project's, without re-execution)
    (event,) = AuditLog(wf.engine).events(action="warehouse.query")
    assert event.details["source"] == "query-process" and event.actor == "rita"
    submit(wf, RITA)
    assert len(AuditLog(wf.engine).events(action="warehouse.query")) == 1  # imported once

    with log.open("a") as f:
        f.write('{"user": "rita", "project": "demo"}\n')
    reasons = json.loads(wf.get(RITA, submit(wf, RITA)["id"])["request"].institutions_source)
    assert LOG_UNREADABLE in reasons["CC-101"]
