"""End to end through the real provider, hub, proxy, spawner, Unix accounts and kernel.

One enclave for the module: alice (researcher in proj_a and proj_b), bob (researcher in proj_a),
rita (reviewer), eve (no enclave group). Refusals first, then alice's proj_a session, then what
must fail from inside her kernel; last, what ends a running session and her per-project
workspaces.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from devstack.enclave import running_enclave
from devstack.kernel import run
from devstack.login import login
from devstack.researcher import Researcher

pytestmark = pytest.mark.e2e  # a real hub, provider and sessions: slow

PEOPLE = {
    "alice": ["researchers"],
    "bob": ["researchers"],
    "rita": ["reviewers"],
    "eve": ["outsiders"],
    "dan": ["researchers"],  # his Unix account is removed below
}
PROJECTS = {
    "proj_a": {"members": ["alice", "bob", "dan"], "institutions": ["K12-001", "CC-101"]},
    "proj_b": {"members": ["alice"], "institutions": ["UNI-201"]},
    "proj_pending": {"members": ["alice"], "institutions": []},
    "proj_old": {"members": ["alice"], "institutions": ["CC-102"], "expired": True},
    "proj_other": {"members": ["bob"], "institutions": ["K12-002"]},
}


CULLER_TIMEOUT = 4321  # set in this hub's own config file, read by the culler service


@pytest.fixture(scope="module")
def enclave():
    config = f"c.IdleCuller.timeout = {CULLER_TIMEOUT}"
    with running_enclave(None, PEOPLE, PROJECTS, extra_config=config) as running:
        yield running


@pytest.fixture(scope="module")
def alice(enclave):
    return Researcher.sign_on(enclave.hub.url, enclave.names["alice"], enclave.password)


# -- refusals ---------------------------------------------------------------------------------
def test_outsider_group_is_refused_at_login(enclave):
    session = login(enclave.hub.url, enclave.names["eve"], enclave.password)
    assert session.login_response.status_code == 403
    assert "not currently authorized" in session.login_response.text


def test_wrong_password_is_refused_by_the_provider(enclave):
    from devstack.login import LoginFailed

    with pytest.raises(LoginFailed):
        login(enclave.hub.url, enclave.names["alice"], "not-the-password")


def test_spawn_refused_until_agreement_accepted(enclave, alice):
    response = alice.spawn("proj_a")
    assert response.status_code == 403
    assert "data-use agreement" in response.json()["message"]
    form = alice.session.get(f"{enclave.hub.url}/hub/spawn", timeout=30).text
    assert "accept the" in form and 'value="proj_a"' not in form  # nothing to start yet


def test_agreement_page_shows_ferpa_and_the_guiding_principles(enclave, alice):
    page = alice.session.get(f"{enclave.hub.url}/hub/agreement", timeout=30)
    assert page.status_code == 200
    assert "Family Educational Right to Privacy Act" in page.text
    assert "Guiding Principles for Data Use" in page.text and "Data Ownership" in page.text


def test_agreement_page_needs_sign_on(enclave):
    page = requests.get(f"{enclave.hub.url}/hub/agreement", allow_redirects=False, timeout=30)
    assert page.status_code == 302 and "/hub/login" in page.headers["Location"]


def test_reviewer_gets_no_data_session(enclave):
    rita = Researcher.sign_on(enclave.hub.url, enclave.names["rita"], enclave.password)
    response = rita.spawn("proj_a")
    assert response.status_code == 403
    assert "Only researchers" in response.json()["message"]


def test_accepting_the_agreement_is_recorded(enclave, alice):
    from enclave.audit import AuditLog
    from enclave.state import make_engine

    response = alice.accept_agreement()
    assert response.status_code == 200 and 'id="agreement-confirmation"' in response.text
    events = AuditLog(make_engine(enclave.state_url)).events(
        user=alice.name, action="agreement.accept"
    )
    assert len(events) == 1 and events[0].details["version"]


def test_researcher_without_unix_account_gets_a_clear_refusal(enclave):
    from enclave.hub.isolation.accounts import remove_account

    dan = Researcher.sign_on(enclave.hub.url, enclave.names["dan"], enclave.password)
    dan.accept_agreement()
    remove_account(dan.name)
    response = dan.spawn("proj_a")
    assert response.status_code == 403
    assert "no Unix account" in response.json()["message"]


@pytest.mark.parametrize(
    ("project", "reason"),
    [
        ("proj_old", "expired"),
        ("proj_pending", "no institution has approved"),
        ("proj_other", "not a member"),
        ("no_such", "no such project"),
    ],
)
def test_spawn_refused_for_projects_alice_may_not_use(enclave, alice, project, reason):
    alice.accept_agreement()
    response = alice.spawn(project)
    assert response.status_code == 403
    assert reason in response.json()["message"]


def test_idle_culler_runs_with_the_hubs_settings(enclave):
    import os
    import time

    def culler_commands():
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().decode().split("\0")
            except OSError:
                continue
            if "jupyterhub_idle_culler" in argv:
                yield argv

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(f"--timeout={CULLER_TIMEOUT}" in argv for argv in culler_commands()):
            return
        time.sleep(0.2)
    raise AssertionError(f"no idle culler with --timeout={CULLER_TIMEOUT} is running")


def test_spawn_form_lists_only_active_projects(enclave, alice):
    alice.accept_agreement()
    form = alice.session.get(f"{enclave.hub.url}/hub/spawn", timeout=30).text
    assert 'value="proj_a"' in form and 'value="proj_b"' in form
    for refused in ("proj_old", "proj_pending", "proj_other"):
        assert f'value="{refused}"' not in form


# -- alice's proj_a session -------------------------------------------------------------------
@pytest.fixture(scope="module")
def session(enclave, alice):
    alice.accept_agreement()
    kernel = alice.start_session("proj_a")
    yield kernel
    kernel.shutdown()


def test_query_returns_dataframe_and_is_recorded(enclave, alice, session):
    from enclave.audit import AuditLog
    from enclave.state import make_engine

    out = run(
        session,
        "df = warehouse.query('SELECT institution, COUNT(*) AS n FROM students GROUP BY 1')\n"
        "print(type(df).__name__, sorted(df.institution))",
    )
    assert out == "DataFrame ['CC-101', 'K12-001']"
    # the query process's record, imported by the hub at its next poll
    events = []
    for _ in range(100):
        events = AuditLog(make_engine(enclave.state_url)).events(
            user=alice.name, action="warehouse.query"
        )
        if events:
            break
        time.sleep(0.2)
    (event,) = events
    assert event.details["source"] == "query-process"
    assert event.project == "proj_a" and "FROM students" in event.details["statements"][0]
    assert event.details["relations"] == ["warehouse.students"]
    assert sorted(event.details["institutions"]) == ["CC-101", "K12-001"]


def test_runs_as_own_unix_account_with_scrubbed_environment(enclave, alice, session):
    out = run(
        session,
        "import os, pwd, json\n"
        "home_mode = oct(os.stat(os.path.expanduser('~')).st_mode & 0o777)\n"
        "print(json.dumps([pwd.getpwuid(os.getuid()).pw_name, home_mode, sorted(os.environ)]))",
    )
    import json

    user, home_mode, env = json.loads(out)
    assert user == alice.name and home_mode == "0o700"
    assert {"ENCLAVE_PROJECT", "ENCLAVE_WAREHOUSE_URL", "ENCLAVE_REVIEW_URL"} <= set(env)
    assert not [k for k in env if k.startswith(("OAUTH", "ENCLAVE_OIDC", "ENCLAVE_HUB"))]


def test_home_is_the_projects_own_workspace(enclave, alice, session):
    import json
    import os

    out = run(
        session,
        "import os, json\n"
        "home = os.path.expanduser('~')\n"
        "open(os.path.join(home, 'a_only.txt'), 'w').write('proj_a notes')\n"
        "print(json.dumps([os.getcwd() == home, os.listdir(home), os.environ['ENCLAVE_OUTPUT_DIR'],"
        " os.path.isdir(os.environ['ENCLAVE_OUTPUT_DIR'])]))",
    )
    in_home, listing, outputs, outputs_exist = json.loads(out)
    assert in_home and ".enclave-projects" not in listing and "a_only.txt" in listing
    assert outputs == f"/home/{alice.name}/projects/proj_a/outputs" and outputs_exist
    # on the host, the file is in the proj_a workspace, not in the home directory itself
    assert os.path.isfile(f"/home/{alice.name}/.enclave-projects/proj_a/a_only.txt")
    assert not os.path.exists(f"/home/{alice.name}/a_only.txt")


def test_cannot_read_another_researchers_files(enclave, session):
    bob_home = f"/home/{enclave.names['bob']}"
    assert os.path.isdir(bob_home)  # on the host; not in alice's sandbox
    out = session.execute(f"import os; os.listdir({bob_home!r})")
    assert out["error"][0] == "FileNotFoundError"
    assert (
        run(session, "import os; print(os.listdir('/home'))") == f"[{alice_home_name(session)!r}]"
    )


def alice_home_name(session) -> str:
    return run(session, "import os; print(os.path.basename(os.path.expanduser('~')))")


@pytest.mark.parametrize(
    "relative",
    [
        "warehouse/warehouse.key",
        "warehouse/extracts",
        "warehouse/warehouse.sqlite",
        "jupyterhub.sqlite",
        "enclave.sqlite",
        "warehouse/projects/proj_b.sqlite",
        "warehouse/projects/proj_a.sqlite",  # the session's own project: it has no path either
        "query-log.jsonl",
    ],
)
def test_cannot_read_key_raw_extracts_hub_database_or_other_extracts(enclave, session, relative):
    path = enclave.hub.hub_dir / relative
    assert path.exists()
    out = session.execute(f"import os; os.stat({str(path)!r})")
    assert out["error"][0] == "FileNotFoundError"  # the hub's directory is not in the sandbox


def test_the_session_has_a_socket_to_its_query_process_and_no_extract(enclave, alice, session):
    out = run(
        session, f"import os; print(sorted(os.listdir({str(enclave.sessions_dir / alice.name)!r})))"
    )
    assert out == "['warehouse.sock']"
    out = run(session, "import os; print(os.environ['ENCLAVE_WAREHOUSE_URL'])")
    assert out == f"enclave-query://{enclave.sessions_dir / alice.name / 'warehouse.sock'}"
    # the query process holds the extract; /proc shows no process of another uid to a session
    out = run(session, "import os; print(sorted(p for p in os.listdir('/proc') if p.isdigit()))")
    query_pids = subprocess.run(
        ["pgrep", "-u", "enclave-query"], capture_output=True, text=True
    ).stdout.split()
    assert query_pids and not set(query_pids) & set(eval(out))


def test_cannot_write_to_the_warehouse(session):
    out = session.execute("warehouse.query('DELETE FROM students')")
    assert out["error"] is not None
    out = session.execute(
        "import sqlite3, os\n"
        "path = os.environ['ENCLAVE_WAREHOUSE_URL'].removeprefix('enclave-query://')\n"
        "sqlite3.connect(path).execute('SELECT * FROM students')"
    )
    assert out["error"][0] == "OperationalError"  # a socket is no database file


def test_rows_of_unapproved_institutions_are_not_there(session):
    out = run(
        session,
        "tables = ('students', 'univ_enrollments', 'k12_enrollments')\n"
        "rows = {i for t in tables for i in warehouse.query(f'SELECT institution FROM {t}')"
        ".institution}\n"
        "print(sorted(rows))",
    )
    assert out == "['CC-101', 'K12-001']"


GATEWAY = "urllib.parse.urlsplit(os.environ['JUPYTERHUB_API_URL']).hostname"


def test_tcp_only_to_allowed_destinations(enclave, session):
    code = (
        "import os, socket, urllib.parse\n"
        f"gateway = {GATEWAY}\n"
        "def reach(host, port):\n"
        "    s = socket.socket(); s.settimeout(3)\n"
        "    try:\n"
        "        s.connect((host, port)); return 'open'\n"
        "    except OSError as e:\n"
        "        return type(e).__name__\n"
        "    finally:\n"
        "        s.close()\n"
        f"print(reach(gateway, {enclave.hub.hub_port}), reach(gateway, 5432), "
        f"reach(gateway, {enclave.provider.issuer.rsplit(':', 1)[1]}), reach('10.0.0.1', 443), "
        f"reach('127.0.0.1', {enclave.hub.hub_port}))"
    )
    hub_api, postgres, provider, outside, loopback = run(session, code).split()
    assert hub_api == "open"
    assert postgres != "open" and provider != "open" and outside != "open"
    assert loopback == "ConnectionRefusedError"  # the sandbox's own loopback: nothing there


def test_udp_and_ipv6_are_rejected(session):
    out = session.execute(
        "import os, socket, time, urllib.parse\n"
        f"s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(({GATEWAY}, 53))\n"
        "s.send(b'x'); time.sleep(0.3); s.send(b'x')"
    )
    assert out["error"][0] == "ConnectionRefusedError"  # the host end rejected the first
    out = session.execute(
        "import socket\n"
        "s = socket.socket(socket.AF_INET6); s.settimeout(3); s.connect(('2001:db8::1', 443))"
    )
    assert out["error"] is not None


def test_sees_only_its_own_processes(enclave, session):
    out = run(
        session,
        "import os\n"
        "pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "others = {p for p in pids if os.stat(f'/proc/{p}').st_uid != os.getuid()}\n"
        "print(sorted(others), open('/proc/1/comm').read().strip())",
    )
    assert out == "['1'] bwrap"  # PID 1 is the sandbox's reaper; the hub is not there


def test_kernel_talks_to_its_server_over_ipc(session):
    out = run(
        session,
        "from ipykernel.kernelapp import IPKernelApp; print(IPKernelApp.instance().transport)",
    )
    assert out == "ipc"


def test_tmp_is_private_to_the_session(session):
    import os
    import uuid

    name = f"/tmp/enclave-leak-{uuid.uuid4().hex}"
    run(session, f"open({name!r}, 'w').write('x'); import os; print(sorted(os.listdir('/tmp')))")
    assert not os.path.exists(name)


def test_postgres_socket_is_not_there(session):
    out = run(session, "import os; print(os.path.exists('/run/postgresql'))")
    assert out == "False"


def test_memory_limit_stops_large_allocation(session):
    out = session.execute("block = bytearray(3 * 1024**3)")
    assert out["error"][0] == "MemoryError"
    # the kernel survives the refusal; the allocation did not happen
    assert run(session, "print('block' in globals())") == "False"


def test_session_memory_limit_holds_across_processes(alice, session):
    # each child stays under the per-process limit; together they exceed the session's 1536M
    out = run(
        session,
        "import subprocess, sys\n"
        "child = \"b = b'x' * (900 * 1024**2); import time; time.sleep(4)\"\n"
        "ps = [subprocess.Popen([sys.executable, '-c', child]) for _ in range(2)]\n"
        "print(*[p.wait() for p in ps])\n"
        "print(open('/proc/self/cgroup').read())",
    )
    codes, cgroups = out.split("\n", 1)
    assert "-9" in codes.split()  # the OOM killer ended one of them
    assert "memory:/\n" in cgroups  # the session's own cgroup is its cgroup namespace's root


def test_resource_limits_from_configuration(session):
    out = run(
        session,
        "import resource\n"
        "names = ('RLIMIT_AS', 'RLIMIT_NPROC', 'RLIMIT_NOFILE', 'RLIMIT_CORE')\n"
        "print(*[resource.getrlimit(getattr(resource, n))[0] for n in names])",
    )
    assert out == f"{1536 * 1024**2} 256 1024 0"


# -- nothing leaves through the browser -------------------------------------------------------
@pytest.mark.parametrize(
    "route",
    [
        "files/projects/proj_a/outputs/table.csv?download=1",
        "files/projects/proj_a/outputs/table.csv",
        "nbconvert/html/projects/proj_a/nb.ipynb?download=true",
        "api/nbconvert",
        "view/projects/proj_a/outputs/table.csv",
    ],
)
def test_download_and_export_routes_are_refused(enclave, alice, session, route):
    run(
        session,
        "import os, json, pathlib\n"
        "out = pathlib.Path(os.environ['ENCLAVE_OUTPUT_DIR'])\n"
        "(out / 'table.csv').write_text('a,b\\n1,2\\n')\n"
        "nb = {'cells': [], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}\n"
        "(out.parent / 'nb.ipynb').write_text(json.dumps(nb))",
    )
    response = requests.get(
        f"{enclave.hub.url}/user/{alice.name}/{route}",
        headers={"Authorization": f"token {alice.token}"},
        timeout=30,
    )
    assert response.status_code == 403
    assert "a,b" not in response.text


def test_contents_api_serves_no_file_whole(enclave, alice, session):
    run(
        session,
        "import pathlib\n"
        "home = pathlib.Path.home()\n"
        "(home / 'small.csv').write_text('a,b\\n1,2\\n')\n"
        "(home / 'big.csv').write_text('a,b\\n' + '1,2\\n' * 50_000)\n"
        "(home / 'blob.bin').write_bytes(bytes(range(256)) * 4)",
    )
    api = f"{enclave.hub.url}/user/{alice.name}/api/contents"

    def get(path, **params):
        return requests.get(f"{api}/{path}", params=params, headers=alice.headers, timeout=30)

    for path, params in [
        ("small.csv", {"content": 1, "format": "base64", "type": "file"}),
        ("big.csv", {"content": 1, "format": "text", "type": "file"}),
        ("blob.bin", {"content": 1}),
    ]:
        response = get(path, **params)
        assert response.status_code == 403, (path, params)
        assert "1,2" not in response.text and "AAECAw" not in response.text
    small = get("small.csv", content=1, format="text", type="file")
    assert small.status_code == 200 and small.json()["content"] == "a,b\n1,2\n"
    assert get("big.csv", content=0).json()["size"] > 100_000


def test_lab_download_and_export_menu_items_are_disabled(enclave, alice, session):
    import json
    import re

    page = requests.get(
        f"{enclave.hub.url}/user/{alice.name}/lab",
        headers={"Authorization": f"token {alice.token}"},
        timeout=30,
    )
    assert page.status_code == 200
    config = json.loads(
        re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page.text, re.S).group(1)
    )
    disabled = config["disabledExtensions"]
    for plugin in (
        "@jupyterlab/docmanager-extension:download",
        "@jupyterlab/filebrowser-extension:download",
        "@jupyterlab/notebook-extension:export",
    ):
        assert plugin in disabled
    assert config.get("terminalsAvailable") in (True, "True")  # a terminal: see kernels/server


def test_lab_file_menu_has_no_download_or_export_in_a_real_browser(enclave, alice, session):
    from playwright.sync_api import sync_playwright

    from tests.support.browser import launch

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.goto(f"{enclave.hub.url}/hub/oauth_login")
            page.fill('input[name="login"]', alice.name)
            page.fill('input[name="password"]', enclave.password)
            page.click('button[type="submit"]')
            page.wait_for_url(f"{enclave.hub.url}/hub/**")
            page.goto(f"{enclave.hub.url}/user/{alice.name}/lab")
            page.get_by_role("menuitem", name="File").click(timeout=60_000)
            menu = page.locator(".lm-Menu").first
            menu.wait_for()
            items = menu.inner_text()
            assert "Save" in items and "Close" in items  # the menu is really there
            assert "Download" not in items
            assert "Export" not in items
        finally:
            browser.close()


def test_spawn_was_audited(enclave, alice, session):
    from enclave.audit import AuditLog
    from enclave.state import make_engine

    events = AuditLog(make_engine(enclave.state_url)).events(user=alice.name, action="spawn")
    assert [e.project for e in events] == ["proj_a"]
    assert events[0].details["institutions"] == ["CC-101", "K12-001"]


# -- last: a lapsed agreement ends the session -----------------------------------------------
def test_session_ends_when_agreement_is_no_longer_accepted(enclave, alice, session):
    import sqlalchemy as sa

    from enclave.state import make_engine

    engine = make_engine(enclave.state_url)
    with engine.begin() as conn:  # as if a new agreement version had been published
        conn.execute(
            sa.text("DELETE FROM agreement_acceptances WHERE user = :u"), {"u": alice.name}
        )
    assert alice.wait_stopped(30)
    assert not (enclave.sessions_dir / alice.name).exists()
    response = alice.spawn("proj_a")
    assert response.status_code == 403 and "agreement" in response.json()["message"]


# -- after that: a process the researcher detached ends with the session ------------------------
def test_detached_processes_end_with_the_session(enclave, alice):
    alice.accept_agreement()
    kernel = alice.start_session("proj_b")
    marker = f"{uuid.uuid4().int % 10**6 + 600}"  # a sleep of its own, to find on the host
    try:
        run(
            kernel,
            "import subprocess\n"
            f"subprocess.Popen(['nohup', 'sleep', {marker!r}], start_new_session=True,\n"
            "    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)",
        )
    finally:
        kernel.shutdown()
    assert host_processes(["sleep", marker]), "the detached sleep runs before the stop"
    assert alice.stop_server()
    assert not host_processes(["sleep", marker])


def host_processes(argv: list[str]) -> list[int]:
    """Host pids whose command line is ``argv`` (zombies have none)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
        except OSError:
            continue
        if cmdline == argv:
            found.append(int(pid))
    return found


# -- after that: a workspace per project, and an expired project ends the session -------------
def test_files_of_another_project_are_not_in_the_session(enclave, alice):
    alice.accept_agreement()
    home = "__import__('os').path.expanduser('~')"
    b_session = alice.start_session("proj_b")
    try:
        out = run(
            b_session, f"import os; open('b_only.txt', 'w').write('b'); print(os.listdir({home}))"
        )
        assert "a_only.txt" not in out and "b_only.txt" in out
    finally:
        b_session.shutdown()
    assert alice.stop_server()
    a_session = alice.start_session("proj_a")
    try:
        out = run(a_session, f"import os; print(sorted(os.listdir({home})))")
        assert "a_only.txt" in out and "b_only.txt" not in out
        out = a_session.execute(f"os.listdir({'/home/' + alice.name + '/.enclave-projects'!r})")
        assert out["error"][0] == "FileNotFoundError"
    finally:
        a_session.shutdown()


def test_session_ends_when_its_project_expires(enclave, alice):
    assert alice.model()["servers"], "the proj_a session of the test before is running"
    # as an administrator expires it: the enclave command with the hub's own config (which
    # names the audit trail's key, so the event is keyed like the hub's)
    expired = subprocess.run(
        [sys.executable, "-m", "enclave", "project", "expire", "proj_a", "--by", "admin",
         "--config", str(enclave.hub.config_path)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert expired.returncode == 0, expired.stderr
    assert alice.wait_stopped(30)
    response = alice.spawn("proj_a")
    assert response.status_code == 403 and "expired" in response.json()["message"]
