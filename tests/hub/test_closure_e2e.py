"""Closing a project through the real hub (issue 14 item 3): a running session on it is stopped
first, then everything of it goes; a member of an expired project sees the notice of its
destruction on the start page (in chromium, screenshot in test-artifacts/hub-pages/)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from devstack.enclave import running_enclave
from devstack.kernel import run
from devstack.researcher import Researcher
from enclave.closure import closure_status
from enclave.hub.isolation.workspaces import WORKSPACES
from enclave.state import make_engine
from tests.support.browser import launch

pytestmark = pytest.mark.e2e  # a real hub, provider, session and chromium: slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ENCLAVE_TEST_ARTIFACTS", REPO / "test-artifacts")) / "hub-pages"
PEOPLE = {"alice": ["researchers"], "gina": ["researchers"], "adam": ["admins"]}
PROJECTS = {
    "proj_close": {"members": ["alice"], "institutions": ["CC-101"]},
    "proj_keep": {"members": ["alice"], "institutions": ["UNI-201"]},
    "proj_gone": {"members": ["gina"], "institutions": ["CC-102"], "expired": True},
}


@pytest.fixture(scope="module")
def enclave():
    with running_enclave(None, PEOPLE, PROJECTS) as running:
        yield running


def enclave_command(enclave, *args):
    return subprocess.run(
        [sys.executable, "-m", "enclave", "project", *args, "--by", "admin",
         "--config", str(enclave.hub.config_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_close_stops_the_running_session_first_then_destroys_its_data(enclave):
    alice = Researcher.sign_on(enclave.hub.url, enclave.names["alice"], enclave.password)
    alice.accept_agreement()
    session = alice.start_session("proj_close")
    try:
        run(session, "open('kept-until-close.txt', 'w').write('x')")
    finally:
        session.shutdown()
    home = Path(f"/home/{alice.name}") / WORKSPACES
    assert (home / "proj_close" / "kept-until-close.txt").is_file()
    assert alice.model()["servers"], "the session runs while the close begins"

    closed = enclave_command(enclave, "close", "proj_close")

    assert closed.returncode == 0, closed.stderr
    assert closed.stdout.startswith("closed proj_close: destroyed ")
    assert not alice.model()["servers"]  # stopped by the hub before anything was destroyed
    assert not (home / "proj_close").exists()
    assert not (enclave.sessions_dir / alice.name).exists()  # the session's socket folder
    assert not (enclave.warehouse_dir / "projects" / "proj_close.sqlite").exists()
    assert (enclave.warehouse_dir / "projects" / "proj_keep.sqlite").is_file()
    response = alice.spawn("proj_close")
    assert response.status_code == 403 and "expired" in response.json()["message"]
    engine = make_engine(enclave.state_url)
    record = closure_status(engine, "proj_close").record
    engine.dispose()
    names = [i["name"] for p in record.details["destroyed"] for i in p["items"]]
    assert str(home / "proj_close" / "kept-until-close.txt") in names
    again = enclave_command(enclave, "close", "proj_close")
    assert again.returncode == 1 and "already closed" in again.stderr


def signed_in(browser, enclave, stem):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{enclave.hub.url}/hub/oauth_login")
    page.fill('input[name="login"]', enclave.names[stem])
    page.fill('input[name="password"]', enclave.password)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{enclave.hub.url}/hub/home")
    return page


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_member_of_an_expired_project_sees_when_its_data_goes(enclave):
    done = enclave_command(enclave, "close-expired")
    assert done.returncode == 0, done.stderr
    assert "proj_gone: notice given: data destroyed after " in done.stdout
    with sync_playwright() as p:
        browser = launch(p)
        page = signed_in(browser, enclave, "gina")
        notice = page.locator("#enclave-inactive-projects .enclave-closure-notice")
        expect(notice).to_contain_text("unreleased submissions are destroyed after")
        shot(page, "start-closure-notice")
        # the administrators' list says which projects are closed
        page = signed_in(browser, enclave, "adam")
        page.goto(f"{enclave.hub.url}/hub/enclave-admin/projects")
        status = page.locator('tr[data-project="proj_close"] .project-status')
        expect(status).to_have_text("closed")
        assert "enclave project certificate proj_close" in status.locator("span").get_attribute(
            "title"
        )
        expect(page.locator('tr[data-project="proj_keep"] .project-status')).to_have_text("active")
        shot(page, "admin-projects-closed")
        browser.close()
