"""Re-execution in the review service: submissions queued in the submit transaction, run by
the application's pool in real sandboxed kernels on the project's real extract; a hand-edited
output released as re-executed after the reviewer saw "differs", a raising notebook sent back
naming its cell and error class, a service stopped mid-run losing nothing."""

import asyncio
import json
import os
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime, timedelta

import nbformat
import pytest
from conftest import submit
from nbformat.v4 import new_code_cell, new_notebook, new_output
from review_factories import researcher, reviewer, steward
from traitlets.config import Config

from enclave.audit.actions import AuditAction
from enclave.projects import ProjectRegistry
from enclave.review_service.app import ReviewApplication
from enclave.review_service.errors import Conflict
from enclave.review_service.reexecution import Reexecution, Runner
from enclave.review_service.states import RunState, Status
from enclave.warehouse.query_process import QueryProcess
from tests.kernels.enclave_test_warehouse import build_sqlite, grant


@pytest.fixture
def runs_dir():
    """A runs directory whose sockets fit a Unix socket's 108 bytes (pytest's paths are long)."""
    path = tempfile.mkdtemp(prefix="rx-", dir="/tmp")  # noqa: S108
    yield path
    shutil.rmtree(path, ignore_errors=True)


pytestmark = pytest.mark.e2e  # real kernels in real sandboxes, as root
QUERY = "df = warehouse.query('SELECT COUNT(*) AS n FROM cc_enrollments')\nprint(int(df.n[0]))"


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    root = tmp_path_factory.mktemp("warehouse")
    return grant(str(build_sqlite(root)), "demo", "CC-101,UNI-201")


@pytest.fixture
def service(workflows, sqlite_url, tmp_path, extract, runs_dir):
    wf = workflows(sqlite_url, tmp_path / "store", required_reviewer_approvals=1)
    wf.reexecute = True
    registry = ProjectRegistry(wf.engine)
    expires = (datetime.now(UTC) + timedelta(days=30)).date()
    registry.create("demo", purpose="completion study", expires=expires, actor="ada")
    registry.add_member("demo", "rita", actor="ada")
    for institution in ("CC-101", "UNI-201"):
        registry.approve_override(
            "demo", institution, actor="ada", reason="a test", grant=lambda p, i: extract
        )
    config = Config()
    config.Reexecution.session_venv = os.environ.get("ENCLAVE_SESSION_VENV", "/opt/enclave/venv")
    config.Reexecution.runs_dir = runs_dir
    config.QueryProcess.python = f"{config.Reexecution.session_venv}/bin/python"
    runner = Runner(Reexecution(config=config), QueryProcess(config=config))
    return wf, runner


def app_for(wf):
    return ReviewApplication(wf, wf.settings, "/services/review/", b"x" * 32)


def run_queue(wf, runner, until, timeout=120):
    """The application's pool, until ``until()`` holds."""

    async def main():
        app = app_for(wf)
        app.start_reexecutions(runner, 1, poll=0.2)
        for _ in range(int(timeout / 0.2)):
            if until():
                break
            await asyncio.sleep(0.2)
        for task in app._pool:
            task.cancel()
        return app

    return asyncio.run(main())


def notebook(*cells):
    nb = new_notebook(cells=[])
    for source, outputs in cells:
        cell = new_code_cell(source)
        cell.outputs = outputs
        nb.cells.append(cell)
    return nbformat.from_dict(json.loads(nbformat.writes(nb)))


def stdout(text):
    return new_output("stream", name="stdout", text=text)


def run_state(wf, request_id):
    return wf.run_of(wf.data.request(request_id)).state


def test_a_hand_edited_output_is_released_as_re_executed_after_the_reviewer_saw_it_differ(
    service,
):
    wf, runner = service
    nb = notebook((QUERY, [stdout("1\n")]), ("print('same')", [stdout("same\n")]))
    request_id = submit(wf, researcher(), nb)["id"]
    assert run_state(wf, request_id) == RunState.QUEUED
    with pytest.raises(Conflict, match="waits for the re-execution"):
        wf.decide(reviewer(), request_id, "approve")

    app = run_queue(wf, runner, lambda: run_state(wf, request_id) == RunState.DONE)
    row = wf.data.request(request_id)
    view = app.reexecution_view(row)
    assert view["state"] == "done"
    assert view["marks"] == {(0, 0): "differs", (1, 0): "reproduced"}
    [differs] = view["differs"]
    assert differs["submitted"] == "1\n" and differs["rerun"] not in ("", "1\n")
    assert json.loads(row.institutions) == ["CC-101"]  # what the run read, not the project
    assert "read by the re-execution" in row.institutions_source

    wf.decide(reviewer(), request_id, "approve")
    assert wf.decide(steward("CC-101"), request_id, "approve") == Status.APPROVED
    asyncio.run(app.build_release(request_id))
    path, _ = wf.download(researcher(), request_id)
    with zipfile.ZipFile(path) as z:
        names = {n.rsplit("/", 1)[-1]: n for n in z.namelist()}
        released = nbformat.reads(z.read(names["analysis.ipynb"]).decode(), 4)
        manifest = json.loads(z.read(names["manifest.json"]))
    assert released.cells[0].outputs[0]["text"] == differs["rerun"]
    record = manifest["reexecution"]
    assert record["submitted_sha256"] == row.sha256 != record["reexecuted_sha256"]
    assert record["marks"] == {"differs": 1, "reproduced": 1}
    assert "pandas" in record["packages"] and record["warehouse"]["size"] > 0
    assert record["relations_read"] == ["warehouse.cc_enrollments"]


def test_a_notebook_raising_on_re_run_comes_back_with_cell_and_error_class(service):
    wf, runner = service
    nb = notebook(("x = 1", []), ("raise LookupError('rita typed 4711')", []))
    request_id = submit(wf, researcher(), nb)["id"]
    run_queue(wf, runner, lambda: run_state(wf, request_id) != RunState.QUEUED and
              wf.data.request(request_id).status != Status.SUBMITTED)  # fmt: skip
    row = wf.data.request(request_id)
    assert row.status == Status.CHANGES_REQUESTED
    [comment] = [c for c in wf.get(researcher(), request_id)["comments"]]
    assert "cell 2 [2] raised LookupError" in comment.body and "4711" not in comment.body
    events = wf.audit.events(request=request_id)
    moved = [e for e in events if e.action == AuditAction.REQUEST_CHANGES]
    assert moved and moved[0].actor == "review-service"
    finished = [e for e in events if e.action == AuditAction.REEXECUTION_FINISH]
    assert finished[0].details["error"] == "LookupError" and "4711" not in json.dumps(
        finished[0].details
    )


def test_a_service_stopped_mid_run_loses_nothing(service):
    wf, runner = service
    request_id = submit(wf, researcher(), notebook(("print(2)", [stdout("2\n")])))["id"]
    claimed = wf.claim_run()  # a service took it, then stopped before it finished
    assert claimed is not None and run_state(wf, request_id) == RunState.RUNNING
    app = run_queue(wf, runner, lambda: run_state(wf, request_id) == RunState.DONE)
    run = wf.run_of(wf.data.request(request_id))
    assert run.attempts == 2
    assert app.reexecution_view(wf.data.request(request_id))["marks"] == {(0, 0): "reproduced"}
    actions = [e.action for e in wf.audit.events(request=request_id)]
    assert actions.count(AuditAction.REEXECUTION_RESTART) == 1
    assert actions.count(AuditAction.REEXECUTION_FINISH) == 1


def test_a_run_past_its_limit_is_released_only_as_an_audited_exception(service):
    wf, runner = service
    runner.settings.total_timeout = 5.0
    nb = notebook(("import time\ntime.sleep(60)", []))
    request_id = submit(wf, researcher(), nb)["id"]
    run_queue(wf, runner, lambda: run_state(wf, request_id) == RunState.TOO_LONG)
    assert wf.data.request(request_id).status == Status.SUBMITTED  # it waits for a reviewer
    with pytest.raises(Conflict, match="released without re-execution"):
        wf.decide(reviewer(), request_id, "approve")
    wf.decide(reviewer(), request_id, "approve", without_reexecution=True)
    [approval] = [
        e for e in wf.audit.events(request=request_id) if e.action == AuditAction.REQUEST_APPROVE
    ]
    assert approval.details["exception"] == "released without re-execution"
    assert approval.actor == "rev1"


def test_the_page_shows_queue_position_and_progress(service):
    wf, runner = service
    first = submit(wf, researcher(), notebook(("1", [])))["id"]
    second = submit(wf, researcher(), notebook(("2", [])), notebook="b.ipynb")["id"]
    app = app_for(wf)
    view = app.reexecution_view(wf.data.request(second))
    assert (view["state"], view["position"], view["waiting"]) == ("queued", 2, 2)
    row, run = wf.claim_run()
    assert row.id == first
    app.run_progress[(first, 1)] = (1, 3)
    html = (
        app.settings["review_jinja"]
        .get_template("reexec.html")
        .render(reexec=app.reexecution_view(row))
    )
    assert "Cell 1 of 3 code cells run" in html
    assert "Position" in app.settings["review_jinja"].get_template("reexec.html").render(
        reexec=app.reexecution_view(wf.data.request(second))
    )


def test_outputs_that_change_between_two_clean_runs_are_not_reproducible(service):
    wf, runner = service
    nb = notebook(
        ("import random\nprint(random.random())", [stdout("0.5\n")]),  # no seed: every run differs
        ("print('fixed')", [stdout("edited\n")]),  # edited by hand: the same in both clean runs
    )
    request_id = submit(wf, researcher(), nb)["id"]
    app = run_queue(wf, runner, lambda: run_state(wf, request_id) == RunState.DONE)
    view = app.reexecution_view(wf.data.request(request_id))
    assert view["marks"] == {(0, 0): "differs", (1, 0): "differs"}
    assert view["not_reproducible"] == ["cell 1, output 1"]
    gate = json.loads(wf.run_of(wf.data.request(request_id)).result)["gate"]
    [finding] = [f for f in gate["findings"] if f["rule"] == "not-reproducible"]
    assert finding["severity"] == "review" and gate["verdict"] == "review"


def test_a_notebook_the_runs_reproduce_is_run_once(service):
    wf, runner = service
    calls = []
    original = runner.run

    async def counted(*args, **kwargs):
        calls.append(kwargs["run_id"])
        return await original(*args, **kwargs)

    runner.run = counted
    request_id = submit(wf, researcher(), notebook(("print(7)", [stdout("7\n")])))["id"]
    run_queue(wf, runner, lambda: run_state(wf, request_id) == RunState.DONE)
    assert calls == [f"{request_id}-1"]
