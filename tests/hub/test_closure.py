"""Closing a project (issue 14 item 3): everything of it destroyed, the destruction recorded,
a certificate; nothing of it left on the machine or in the databases but the record.

A real SQLite warehouse with two projects' extracts, real Unix accounts with workspaces, the
real review workflow (an unreleased and a released request), the ``enclave`` command; then a
scan of every file and every row for what the closed project had.
"""

import hashlib
import json
import os
import pwd
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest
import sqlalchemy as sa
from nbformat.v4 import new_markdown_cell, new_notebook
from traitlets.config import Config

from devstack.unix_users import unix_users
from enclave.cli import main
from enclave.closure import close_expired, closure_notices, closure_status
from enclave.errors import EnclaveError
from enclave.hub.isolation.workspaces import WORKSPACES, prepare_workspace
from enclave.output_review.gate import Gate
from enclave.projects import ProjectRegistry
from enclave.review_service.config import ReviewService
from enclave.review_service.identity import SCOPE_REVIEW, SCOPE_STEWARD, SCOPE_SUBMIT, Actor
from enclave.review_service.release import build_package
from enclave.review_service.states import RunState
from enclave.review_service.store import FrozenStore
from enclave.review_service.workflow import ReviewWorkflow, Submission
from enclave.state import make_engine
from enclave.tables import metadata, review_reexecutions
from enclave.warehouse.generate import generate
from enclave.warehouse.grant import grant_project
from enclave.warehouse.load import load
from enclave.warehouse.pseudonymize import read_key, write_key

NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).date()
# what stays of a closed project: its registry entry and the audit trail (the record)
KEPT_TABLES = {"audit_events", "projects", "project_members", "project_access"}


@pytest.fixture(scope="module")
def warehouse_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("closure-extracts")
    generate(root, 200, 7)
    key = write_key(root.parent / "closure.key")
    return root, key


def notebook(title: str) -> bytes:
    return nbformat.writes(new_notebook(cells=[new_markdown_cell(f"# {title}")])).encode()


def actor(name, scope, groups):
    return Actor(name, frozenset({scope}), frozenset(groups))


class Site:
    """One enclave's files and databases under ``root``: projects ``closing`` and ``kept``."""

    def __init__(self, root: Path, source, names):
        self.root = root
        self.closing = f"close_{uuid.uuid4().hex[:8]}"
        self.kept = f"keep_{uuid.uuid4().hex[:8]}"
        self.members = [pwd.getpwnam(n) for n in names.values()]
        hub = root / "hub"
        hub.mkdir(mode=0o700)
        self.warehouse = root / "warehouse" / "warehouse.sqlite"
        load(source[0], str(self.warehouse), read_key(source[1]), quarantine=root / "q.csv")
        self.state_url = f"sqlite:///{hub / 'enclave.sqlite'}"
        self.store_dir = hub / "review"
        self.hub_db = hub / "jupyterhub.sqlite"
        self.config_path = hub / "config.py"
        self.config_path.write_text(
            f"c.EnclaveState.db_url = {self.state_url!r}\n"
            f"c.WarehouseSettings.url = {str(self.warehouse)!r}\n"
            f"c.ReviewService.store_dir = {str(self.store_dir)!r}\n"
            f"c.JupyterHub.db_url = 'sqlite:///{self.hub_db}'\n"
            "c.ProjectClosure.session_stop_timeout = 1\n"
            f"c.Reexecution.runs_dir = {str(root / 'runs')!r}\n"
        )
        self.engine = make_engine(self.state_url)
        self.registry = ProjectRegistry(self.engine)
        grant = lambda p, i: grant_project(str(self.warehouse), p, i)  # noqa: E731
        for project in (self.closing, self.kept):
            self.registry.create(project, purpose="transfer study", expires=NEXT_YEAR, actor="ad")
            for account in self.members:
                self.registry.add_member(project, account.pw_name, actor="ad")
            self.registry.approve_override(
                project, "CC-101", actor="ad", reason="recorded in a test", grant=grant
            )
            for account in self.members:
                outputs = Path(prepare_workspace(account, project).replace(account.pw_dir, ""))
                ws = Path(account.pw_dir) / WORKSPACES / project
                out = ws / outputs.relative_to("/")
                (out / "table.csv").write_text(f"{project},{account.pw_name},42\n")
                (ws / "analysis.ipynb").write_bytes(notebook(f"{project} {account.pw_name}"))
                os.symlink("/etc/passwd", ws / "planted-link")  # removed, never followed
        self.workflow = ReviewWorkflow(
            self.engine,
            FrozenStore(self.store_dir),
            ReviewService(config=Config()),
            self.registry,
            Gate(config=Config()),
        )
        researcher = actor(self.members[0].pw_name, SCOPE_SUBMIT, ["researchers"])
        self.unreleased = self.submit(researcher, self.closing, "draft")
        self.released = self.submit(researcher, self.closing, "final")
        self.release(self.released)
        self.other = self.submit(researcher, self.kept, "other")
        self.workflow.store.cache_path(f"{self.sha(self.unreleased)}.1.review.html").write_text(
            "<p>rendering</p>"
        )
        # the draft's re-execution: its notebook in the store, a run of it under way
        self.rerun_sha, _ = self.workflow.store.put_bytes(notebook(f"{self.closing} re-run"))
        with self.engine.begin() as conn:
            conn.execute(
                review_reexecutions.insert().values(
                    request_id=self.unreleased, round=1, state=RunState.RUNNING,
                    queued="2026-12-02T00:00:00+00:00", attempts=1, sha256=self.rerun_sha,
                    result="{}",
                )
            )  # fmt: skip
        self.run_dir = root / "runs" / f"{self.unreleased}-1"
        (self.run_dir / "home").mkdir(parents=True)
        (self.run_dir / "home" / "out.txt").write_text(f"{self.closing} partial run\n")

    def submit(self, researcher, project, title) -> str:
        upload = self.workflow.store.open_upload()
        upload.write(notebook(f"{project} {title}"))
        sub = Submission(
            notebook=f"{title}.ipynb",
            project=project,
            purpose="board report",
            release_use="internal",
            recipients=("CC-101",),
        )
        return self.workflow.submit(researcher, upload, sub)["id"]

    def release(self, request_id: str) -> None:
        for name in ("rev1", "rev2"):
            self.workflow.decide(actor(name, SCOPE_REVIEW, ["reviewers"]), request_id, "approve")
        steward = actor("scc", SCOPE_STEWARD, ["stewards-CC-101"])
        assert self.workflow.decide(steward, request_id, "approve") == "approved"

        def build(row, progress):
            path = self.workflow.store.path(row.sha256)
            from enclave.output_review.gate import read_notebook

            return build_package(row, progress, path.read_bytes(), read_notebook(path))

        assert self.workflow.release(request_id, build)

    def sha(self, request_id: str) -> str:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT sha256 FROM review_requests WHERE id = ?", (request_id,)
            ).scalar()

    def workspace(self, account, project) -> Path:
        return Path(account.pw_dir) / WORKSPACES / project

    def extract(self, project) -> Path:
        return self.warehouse.parent / "projects" / f"{project}.sqlite"

    def grants(self) -> dict:
        return json.loads((self.warehouse.parent / "projects" / "grants.json").read_text())

    def roots(self) -> list[Path]:
        return [self.root, *(Path(a.pw_dir) for a in self.members)]


@pytest.fixture
def site(tmp_path, warehouse_source):
    with unix_users("closea", "closeb") as names:
        built = Site(tmp_path, warehouse_source, names)
        yield built
        built.engine.dispose()


@pytest.fixture
def cli(capsys):
    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()  # (JupyterHub's database set-up logs to stderr)
        return code, out, [line for line in err.splitlines() if "alembic" not in line]

    return run


def every_file(roots) -> dict[Path, str]:
    found = {}
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    found[path] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def rows_naming(engine, text: str) -> dict[str, list]:
    """Every row of every state table in which some column holds ``text``."""
    found = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            hits = [
                row
                for row in conn.execute(sa.select(table))
                if any(text in str(value) for value in row)
            ]
            if hits:
                found[table.name] = hits
    return found


def test_close_destroys_everything_of_the_project_and_records_it(site, cli):
    before = every_file(site.roots())
    of_project = {
        path: digest
        for path, digest in before.items()
        if site.closing in str(path) or site.closing.encode() in path.read_bytes()
    }
    released_files = {site.sha(site.released)}
    with site.engine.connect() as conn:
        released_files.add(conn.exec_driver_sql("SELECT sha256 FROM review_releases").scalar())
    destroyed_objects = {site.sha(site.unreleased), site.rerun_sha}
    assert len(of_project) >= 6 and destroyed_objects <= set(before.values())

    code, out, err = cli(
        "project", "close", site.closing, "--config", site.config_path, "--by", "ad"
    )

    assert (code, err) == (0, [])
    assert out.startswith(f"closed {site.closing}: destroyed ") and "audit event" in out
    # nothing of it on the machine but the released package and the frozen copy it came from
    after = every_file(site.roots())
    left = {p for p, d in after.items() if site.closing in str(p) and d not in released_files}
    assert left == set()
    kept_objects = {d for p, d in after.items() if p.parent.name == "objects"}
    assert released_files <= kept_objects and not (destroyed_objects & set(after.values()))
    copies = [p for p, d in after.items() if d in of_project.values() and d not in released_files]
    assert all(site.kept in str(p) for p in copies)  # the same rows in the other's extract
    assert not list((site.store_dir / "cache").iterdir())
    assert not site.run_dir.exists() and (site.root / "runs").is_dir()
    for account in site.members:
        assert not site.workspace(account, site.closing).exists()
    assert not site.extract(site.closing).exists() and site.closing not in site.grants()
    assert os.path.exists("/etc/passwd")  # the planted link was removed, not followed
    # nor in the state database, but the registry, the trail and the released request
    naming = rows_naming(site.engine, site.closing)
    assert set(naming) - KEPT_TABLES <= {"review_requests", "review_decisions", "review_rounds",
                                         "review_releases", "review_seen"}  # fmt: skip
    assert [r.id for r in naming["review_requests"]] == [site.released]
    for table, rows in naming.items():
        if table not in KEPT_TABLES:
            assert all(site.released in {str(v) for v in row} for row in rows), table
    # the other project is untouched
    for account in site.members:
        assert (site.workspace(account, site.kept) / "analysis.ipynb").is_file()
    assert site.extract(site.kept).is_file() and site.kept in site.grants()
    assert site.workflow.store.has(site.sha(site.other))
    # the record: everything that was there, with sizes and hashes; the trail verifies
    status = closure_status(site.engine, site.closing)
    record = status.record.details
    recorded = {i["name"]: i for place in record["destroyed"] for i in place["items"]}
    gone = {path: digest for path, digest in of_project.items() if not path.exists()}
    assert len(gone) >= 6
    for path, digest in gone.items():
        assert recorded[str(path)]["sha256"] == digest
    kinds = {place["kind"] for place in record["destroyed"]}
    assert {"workspace", "extract", "extract grant", "submission", "submission records",
            "submission rendering", "re-execution run"} <= kinds  # fmt: skip
    assert record["institutions"] == ["CC-101"] and len(status.begun) == 1
    assert cli("audit", "verify", "--config", site.config_path)[0] == 0
    code, out, _ = cli("project", "list", "--config", site.config_path)
    assert f"{site.closing:<20} closed" in out and f"{site.kept:<20} active" in out
    # the certificate, for the data owners
    code, out, err = cli("project", "certificate", site.closing, "--config", site.config_path)
    assert code == 0 and out.startswith("CERTIFICATE OF DATA DESTRUCTION")
    assert "Data owners:   CC-101" in out and f"hash {status.record.hash}" in out
    assert all(digest in out for digest in gone.values())


def test_bad_input_gets_one_line_each(site, cli):
    config = ("--config", site.config_path)
    code, out, err = cli("project", "close", "no_such", *config)
    assert code == 1 and err == [
        "enclave: error: project 'no_such': no such project; see `enclave project list`."
    ]
    code, _, err = cli("project", "certificate", site.closing, *config)
    assert code == 1 and len(err) == 1 and "not closed" in err[0]
    assert cli("project", "close", site.closing, *config)[0] == 0
    code, _, err = cli("project", "close", site.closing, *config)
    assert code == 1 and len(err) == 1
    assert "already closed on" in err[0] and "enclave project certificate" in err[0]
    assert len(closure_status(site.engine, site.closing).begun) == 1  # nothing more recorded


def hub_database_with_a_running_session(path: Path, user: str, project: str):
    from jupyterhub import orm

    session = orm.new_session_factory(f"sqlite:///{path}")()
    owner = orm.User(name=user)
    session.add(owner)
    session.commit()
    spawner = orm.Spawner(user_id=owner.id, name="", state={"enclave_project": project})
    spawner.server = orm.Server()
    session.add(spawner)
    session.commit()
    return session, spawner


def test_sessions_are_stopped_before_anything_is_destroyed(site, cli):
    user = site.members[0].pw_name
    db, spawner = hub_database_with_a_running_session(site.hub_db, user, site.closing)
    code, _, err = cli("project", "close", site.closing, "--config", site.config_path)
    assert code == 1 and len(err) == 1
    assert f"the session(s) of {user} still run" in err[0] and "Nothing was destroyed" in err[0]
    assert site.registry.get(site.closing).is_expired  # the hub's poll ends it
    assert (site.workspace(site.members[0], site.closing) / "analysis.ipynb").is_file()
    assert closure_status(site.engine, site.closing).begun == []
    # the hub stopped it: the close goes on
    spawner.server = None
    db.commit()
    assert cli("project", "close", site.closing, "--config", site.config_path)[0] == 0
    assert not site.workspace(site.members[0], site.closing).exists()
    db.close()


def test_a_session_on_another_project_is_not_waited_for(site, cli):
    db, _ = hub_database_with_a_running_session(site.hub_db, site.members[0].pw_name, site.kept)
    assert cli("project", "close", site.closing, "--config", site.config_path)[0] == 0
    db.close()


def test_expiry_gives_notice_then_destroys_after_the_grace_period(site):
    site.registry.expire(site.closing, actor="ad")
    config = Config()
    config.EnclaveState.db_url = site.state_url
    config.WarehouseSettings.url = str(site.warehouse)
    config.ReviewService.store_dir = str(site.store_dir)
    config.ProjectClosure.grace_days = 30
    done = close_expired(site.engine, config, actor="enclave")
    assert [p for p, _ in done] == [site.closing] and "notice given" in done[0][1]
    member = site.members[1].pw_name
    [notice] = closure_notices(site.engine, member)
    assert notice["project"] == site.closing
    assert closure_notices(site.engine, "someone_else") == []
    assert close_expired(site.engine, config, actor="enclave") == []  # one notice only
    assert site.workspace(site.members[1], site.closing).exists()
    later = datetime.now(UTC) + timedelta(days=31)
    done = close_expired(site.engine, config, actor="enclave", now=later)
    assert done == [(site.closing, "closed: its data is destroyed")]
    assert not site.workspace(site.members[1], site.closing).exists()
    assert closure_notices(site.engine, member) == []
    record = closure_status(site.engine, site.closing).record
    assert "grace period of 30 day(s) over" in record.details["reason"]
    assert site.extract(site.kept).is_file()
    assert closure_status(site.engine, site.kept).begun == []


@pytest.fixture
def pg_warehouse(pg_url, warehouse_source):
    """A PostgreSQL warehouse; afterwards the cluster-wide roles made for its database go."""
    import psycopg

    load(warehouse_source[0], pg_url, read_key(warehouse_source[1]))
    yield pg_url
    u = sa.engine.make_url(pg_url)
    info = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
    with psycopg.connect(info, autocommit=True) as conn:
        roles = conn.execute(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (f"{u.database}_",)
        ).fetchall()
        for (role,) in roles:
            conn.execute(f'DROP OWNED BY "{role}" CASCADE')
        for (role,) in roles:
            conn.execute(f'DROP ROLE "{role}"')


def test_postgres_the_project_role_its_policies_and_its_registration_go(pg_warehouse, tmp_path):
    from enclave.closure import close_project
    from enclave.warehouse.db import pg_connect

    engine = make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
    registry = ProjectRegistry(engine)
    grant = lambda p, i: grant_project(pg_warehouse, p, i)  # noqa: E731
    for project in ("pg_closing", "pg_kept"):
        registry.create(project, purpose="p", expires=NEXT_YEAR, actor="ad")
        registry.approve_override(
            project, "CC-101", actor="ad", reason="recorded in a test", grant=grant
        )
    database = sa.engine.make_url(pg_warehouse).database
    role, kept = f"{database}_proj_pg_closing", f"{database}_proj_pg_kept"
    session_role = f"{database}_sess_someone"
    with pg_connect(pg_warehouse) as conn:
        conn.execute(f'CREATE ROLE "{session_role}" NOLOGIN IN ROLE "{role}"')
        conn.commit()

    def held(name):
        with pg_connect(pg_warehouse) as conn:
            return {
                "role": conn.execute(
                    "SELECT count(*) FROM pg_roles WHERE rolname = %s", (name,)
                ).fetchone()[0],
                "policies": conn.execute(
                    "SELECT count(*) FROM pg_policies WHERE %s = ANY (roles)", (name,)
                ).fetchone()[0],
                "registered": conn.execute(
                    "SELECT count(*) FROM warehouse_admin.projects WHERE role = %s", (name,)
                ).fetchone()[0],
                "grants": conn.execute(
                    "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = %s",
                    (name,),
                ).fetchone()[0],
            }

    assert held(role)["role"] == 1 and held(role)["policies"] > 0 and held(role)["grants"] > 0
    config = Config()
    config.WarehouseSettings.url = pg_warehouse
    config.ReviewService.store_dir = str(tmp_path / "review")
    record = close_project(engine, config, "pg_closing", actor="ad")
    assert held(role) == {"role": 0, "policies": 0, "registered": 0, "grants": 0}
    assert held(kept)["role"] == 1 and held(kept)["policies"] > 0 and held(kept)["registered"]
    with pg_connect(pg_warehouse) as conn:  # the session role is no longer a member of it
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
                "WHERE r.rolname = %s",
                (session_role,),
            ).fetchone()[0]
            == 0
        )
    [place] = [p for p in record.details["destroyed"] if p["kind"] == "database role"]
    assert place["items"][0]["name"] == f"role {role}"
    engine.dispose()


@pytest.mark.e2e  # a real close in a real process, killed
def test_a_close_killed_mid_way_is_recorded_and_finished_by_re_running_it(site, cli, capsys):
    import signal
    import subprocess
    import sys
    import time

    workspace = site.workspace(site.members[0], site.closing)
    many = workspace / "many"
    many.mkdir()
    for i in range(6000):
        (many / f"part-{i:05}.txt").write_text(f"{i}\n" * 200)
    before = every_file([workspace])
    command = [sys.executable, "-m", "enclave", "project", "close", site.closing,
               "--config", str(site.config_path)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not closure_status(site.engine, site.closing).begun:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    while many.is_dir() and len(os.listdir(many)) == 6000:  # until the destruction is under way
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.001)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    left = every_file([workspace])
    with capsys.disabled():
        print(f"killed with {len(left)} of {len(before)} workspace files left")
    assert len(left) < len(before)  # half destroyed
    # the half-done state is on record, and says so
    status = closure_status(site.engine, site.closing)
    assert status.closing and not status.closed
    [first] = status.begun
    listed = {i["name"]: i["sha256"] for p in first.details["found"] for i in p["items"]}
    assert all(listed[str(path)] == digest for path, digest in before.items())
    code, out, _ = cli("project", "list", "--config", site.config_path)
    assert f"{site.closing:<20} closing" in out
    code, _, err = cli("project", "certificate", site.closing, "--config", site.config_path)
    assert code == 1 and "a close is under way" in err[0]
    # re-running finishes it; the record names everything, what the killed run removed too
    assert cli("project", "close", site.closing, "--config", site.config_path)[0] == 0
    assert not workspace.exists()
    status = closure_status(site.engine, site.closing)
    record = status.record.details
    assert record["runs"] == [first.seq, status.begun[1].seq]
    recorded = {i["name"]: i["sha256"] for p in record["destroyed"] for i in p["items"]}
    assert all(recorded[str(path)] == digest for path, digest in before.items())
    assert status.begun[1].details["resumes"] == [first.seq]


def test_one_close_at_a_time(db_url):
    """A second close while one runs is refused in one line, on both state databases."""
    from enclave.closure import closing_lock

    first, second = make_engine(db_url), make_engine(db_url)
    try:
        busy = pytest.raises(EnclaveError, match="another `enclave project close` is under way")
        with closing_lock(first), busy, closing_lock(second):
            pass
        with closing_lock(second):  # released with the first
            pass
    finally:
        first.dispose()
        second.dispose()


def test_a_close_while_another_runs_is_refused_and_changes_nothing(site, cli):
    from enclave.closure import closing_lock

    with closing_lock(site.engine):
        code, _, err = cli("project", "close", site.closing, "--config", site.config_path)
    assert code == 1 and len(err) == 1 and "another `enclave project close`" in err[0]
    assert not site.registry.get(site.closing).is_expired  # refused before anything
    assert closure_status(site.engine, site.closing).begun == []
