"""The hub's pages in a real browser, for each role that meets them, as a person sees them.

One enclave for the module: alice (researcher in proj_a), gina (researcher with only an expired
project), rita (reviewer), sam (steward of CC-101), adam (administrator). Every page is
screenshot into ``$ENCLAVE_TEST_ARTIFACTS/hub-pages`` (default ``test-artifacts/``) to look at.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from devstack.enclave import running_enclave
from devstack.researcher import Researcher
from tests.support.browser import launch

pytestmark = pytest.mark.e2e  # a real hub, provider, sessions and chromium: slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ENCLAVE_TEST_ARTIFACTS", REPO / "test-artifacts")) / "hub-pages"
CONTACT = "enclave-help@consortium.example"
PEOPLE = {
    "alice": ["researchers"],
    "gina": ["researchers"],
    "rita": ["reviewers"],
    "sam": ["stewards-CC-101"],
    "adam": ["admins"],
}
PROJECTS = {
    "proj_a": {"members": ["alice"], "institutions": ["CC-101"]},
    "proj_old": {"members": ["gina"], "institutions": ["CC-102"], "expired": True},
}


@pytest.fixture(scope="module")
def enclave():
    config = f'c.EnclavePages.contact_email = "{CONTACT}"\n'
    with running_enclave(None, PEOPLE, PROJECTS, extra_config=config) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = launch(p)
        yield chromium
        chromium.close()


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


def expect_next_step(page, href_end: str | None = "/hub/home"):
    """A refusal or error page names a next step (a link in the hub, or whom to ask)."""
    step = page.locator("#enclave-next-step")
    expect(step).to_be_visible()
    if href_end:
        assert step.get_attribute("href").endswith(href_end)
    contact = page.locator(".next-step .enclave-contact, .enclave-next-step .enclave-contact")
    expect(contact.first).to_be_visible()


# -- researchers ------------------------------------------------------------------------------
def test_researcher_is_led_through_agreement_project_and_session(enclave, browser):
    page = signed_in(browser, enclave, "alice")
    expect(page.locator("#step-agreement")).to_contain_text("To do")
    expect(page.locator("#step-session")).to_contain_text("once the steps above are done")
    assert page.locator("#enclave-start").count() == 0
    shot(page, "researcher-1-start-page")

    page.click("#enclave-read-agreement")
    principles = page.locator("#agreement-text h2", has_text="Guiding Principles for Data Use")
    expect(principles).to_be_visible()
    expect(page.locator("#agreement-text strong", has_text="Data Ownership")).to_be_visible()
    assert "# Data-use" not in page.inner_text("#agreement-text")  # Markdown, rendered
    label = page.inner_text("#agreement-version")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d · [0-9a-f]{8}", label)
    shot(page, "researcher-2-agreement")
    page.check("#accept")
    page.click("#agreement-accept")
    expect(page.locator("#agreement-confirmation")).to_contain_text(label)
    shot(page, "researcher-3-confirmation")

    page.click("#agreement-next")
    expect(page.locator("#step-agreement")).to_contain_text(f"Accepted version {label}")
    expect(page.locator("#step-project")).to_contain_text("proj_a")
    shot(page, "researcher-4-ready")
    page.click("#enclave-start")
    expect(page.locator(".jp-Launcher")).to_be_visible(timeout=120_000)
    page.wait_for_timeout(3000)  # the news prompt, if any, comes after the launcher
    assert page.get_by_text("official Jupyter news").count() == 0
    logo = page.eval_on_selector("#jp-MainLogo", "e => getComputedStyle(e).backgroundImage")
    assert "data:image/svg+xml" in logo  # the enclave's mark, not Jupyter's
    shot(page, "researcher-5-lab")

    page.goto(f"{enclave.hub.url}/hub/home")
    expect(page.locator("#step-session")).to_contain_text("Running for project proj_a")
    page.click("#stop")
    expect(page.locator("#enclave-start")).to_be_visible(timeout=60_000)


def test_researcher_without_a_project_is_told_how_to_ask(enclave, browser):
    Researcher.sign_on(enclave.hub.url, enclave.names["gina"], enclave.password).accept_agreement()
    page = signed_in(browser, enclave, "gina")
    expect(page.locator("#enclave-no-project")).to_be_visible()
    ask = page.locator("#enclave-ask-for-access #enclave-request-access")
    assert ask.get_attribute("href").endswith("/services/review/access/new")
    expect(page.locator("#enclave-inactive-projects")).to_contain_text("proj_old: expired on")
    assert page.locator("#enclave-start").count() == 0
    shot(page, "no-project-start-page")


def test_a_refused_start_says_why_and_what_to_do(enclave, browser):
    Researcher.sign_on(enclave.hub.url, enclave.names["alice"], enclave.password).accept_agreement()
    page = signed_in(browser, enclave, "alice")
    page.eval_on_selector(
        "#enclave-project", "e => e.innerHTML = '<option value=\"proj_old\">proj_old</option>'"
    )
    page.click("#enclave-start")
    expect(page.locator("#enclave-refusal-title")).to_have_text("This project cannot be used now")
    expect(page.locator("#enclave-refusal-detail")).to_contain_text("not a member")
    assert "SpawnException" not in page.content()
    shot(page, "refusal-project")
    expect_next_step(page)
    # the progress page of that failed start explains it the same way
    page.goto(f"{enclave.hub.url}/hub/spawn-pending/{enclave.names['alice']}")
    expect(page.locator("#enclave-refusal-title")).to_have_text("This project cannot be used now")
    shot(page, "refusal-project-progress-page")
    expect_next_step(page)
    page.click("#enclave-next-step")
    expect(page.locator("#step-project")).to_contain_text("proj_a")


@pytest.mark.parametrize(
    ("name", "path", "script", "status", "text"),
    [
        ("404", "/hub/no-such-page", None, 404, "There is no such page"),
        (
            "400",
            "/hub/agreement",
            "document.querySelector('#accept')?.removeAttribute('required');"
            "document.querySelector('#agreement-form')?.submit()",
            400,
            "Tick the box",
        ),
        (
            "403-xsrf",
            "/hub/agreement",
            "document.querySelector('input[name=_xsrf]').remove();"
            "document.querySelector('#agreement-form').submit()",
            403,
            "You may not do that here",
        ),
    ],
)
def test_every_error_page_has_a_way_back(enclave, browser, name, path, script, status, text):
    page = signed_in(browser, enclave, "rita")  # rita never accepts: the form is there
    response = page.goto(f"{enclave.hub.url}{path}")
    if script:
        with page.expect_navigation() as navigation:
            page.evaluate(script)
        response = navigation.value
    assert response.status == status
    expect(page.locator("#enclave-error")).to_contain_text(text)
    shot(page, f"error-{name}")
    expect_next_step(page)


# -- reviewers and stewards -------------------------------------------------------------------
@pytest.mark.parametrize("stem", ["rita", "sam"])
def test_reviewers_and_stewards_are_shown_their_work_not_a_session(enclave, browser, stem):
    page = signed_in(browser, enclave, stem)
    role = page.locator("#enclave-review-role")
    expect(role).to_be_visible()
    if stem == "sam":
        expect(role).to_contain_text("data steward of CC-101")
    assert page.locator("#enclave-open-review").get_attribute("href").endswith("/services/review/")
    assert page.locator("#enclave-steps").count() == 0
    shot(page, f"{stem}-start-page")
    page.goto(f"{enclave.hub.url}/hub/spawn")
    expect(page.locator("#enclave-refusal-title")).to_have_text("Data sessions are for researchers")
    expect_next_step(page)


# -- administrators ---------------------------------------------------------------------------
def test_admin_manages_projects_in_the_hub_and_every_change_is_audited(enclave, browser):
    from enclave.audit import AuditLog
    from enclave.state import make_engine

    page = signed_in(browser, enclave, "adam")
    page.click("#enclave-admin-role a[href$='enclave-admin/projects']")
    page.fill("#new-project", "proj_new")
    page.fill("#new-purpose", "Admissions after transfer")
    page.fill("#new-expires", "2099-06-30")
    page.click("#enclave-create-project button")
    expect(page.locator("#enclave-admin-message")).to_contain_text("Created project proj_new")
    row = page.locator('tr[data-project="proj_new"]')
    expect(row.locator(".project-status")).to_have_text("awaiting approval")
    row.locator("input[name=user]").fill(enclave.names["gina"])
    row.locator("button", has_text="Add member").click()
    page.locator('tr[data-project="proj_new"] select[name=institution]').select_option("UNI-201")
    page.locator('tr[data-project="proj_new"] input[name=reason]').fill("signed form UNI-7")
    page.locator('tr[data-project="proj_new"] button', has_text="Record approval").click()
    row = page.locator('tr[data-project="proj_new"]')
    expect(row.locator(".project-status")).to_have_text("active")
    expect(row).to_contain_text(enclave.names["gina"])
    shot(page, "admin-projects")
    page.once("dialog", lambda dialog: dialog.accept())  # "Expire proj_new?" confirmation
    row.locator("button", has_text="Expire now").click()
    expect(page.locator('tr[data-project="proj_new"] .project-status')).to_have_text("expired")

    page.fill("#new-project", "Bad Name!")
    page.eval_on_selector("#new-project", "e => e.removeAttribute('pattern')")
    page.fill("#new-purpose", "x")
    page.fill("#new-expires", "2099-01-01")
    page.click("#enclave-create-project button")
    expect(page.locator("#enclave-admin-error")).to_contain_text("not a valid project name")

    events = AuditLog(make_engine(enclave.state_url)).events(project="proj_new")
    assert [(e.action, e.actor) for e in events] == [
        ("project.create", enclave.names["adam"]),
        ("project.add-member", enclave.names["adam"]),
        ("project.approve-override", enclave.names["adam"]),
        ("project.expire", enclave.names["adam"]),
    ]

    page.click("#enclave-admin-nav >> text=Audit trail")
    page.fill("#audit-project", "proj_new")
    page.click("#audit-verify")
    expect(page.locator("#audit-verified")).to_contain_text("intact")
    rows = page.locator("#enclave-audit-events tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("project.expire")
    shot(page, "admin-audit")

    Researcher.sign_on(enclave.hub.url, enclave.names["gina"], enclave.password).accept_agreement()
    page.click("#enclave-admin-nav >> text=Agreement status")
    gina = page.locator(f'tr[data-user="{enclave.names["gina"]}"] .agreement-current')
    expect(gina).to_have_text("accepted")
    adam = page.locator(f'tr[data-user="{enclave.names["adam"]}"] .agreement-current')
    expect(adam).to_have_text("not accepted")
    shot(page, "admin-agreements")


@pytest.mark.parametrize("page_name", ["projects", "agreements", "audit"])
def test_admin_pages_are_refused_to_everyone_else(enclave, browser, page_name):
    page = signed_in(browser, enclave, "rita")
    response = page.goto(f"{enclave.hub.url}/hub/enclave-admin/{page_name}")
    assert response.status == 403
    expect(page.locator("#enclave-error")).to_contain_text("for the enclave's administrators")
    expect_next_step(page)
    # a form a non-administrator builds in their own page (with a valid XSRF token) is refused too
    page.goto(f"{enclave.hub.url}/hub/home")
    forge = """() => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = "enclave-admin/projects";
        for (const [name, value] of [["action", "expire"], ["project", "proj_a"],
                                     ["_xsrf", window.jhdata.xsrf_token]]) {
            const input = document.createElement("input");
            input.name = name; input.value = value; form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
    }"""
    with page.expect_navigation() as navigation:
        page.evaluate(forge)
    assert navigation.value.status == 403
    expect(page.locator("#enclave-error")).to_contain_text("for the enclave's administrators")
    from enclave.projects import ProjectRegistry
    from enclave.state import make_engine

    assert ProjectRegistry(make_engine(enclave.state_url)).get("proj_a").status == "active"


# -- the command line finds the same state -----------------------------------------------------
def test_the_cli_finds_the_hubs_state_from_the_hubs_config_alone(enclave):
    from devstack.demo import admin_commands

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENCLAVE_", "OAUTH_"))}
    enclave_cli = [sys.executable, "-m", "enclave"]
    listing = subprocess.run(
        [*enclave_cli, "project", "list", "--config", str(enclave.hub.config_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    assert "proj_a" in listing.stdout and "proj_old" in listing.stdout
    for command in admin_commands(enclave.hub.config_path):
        if " add-member " in command:
            continue  # the demo's own project; the read-only ones run here
        argv = command.split()[1:]
        done = subprocess.run(
            [*enclave_cli, *argv], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (command, done.stderr)
