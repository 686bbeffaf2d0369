"""EnclaveSpawner's own checks, without a hub: egress ports, the memory cgroup requirement, the
hot standby and its audit log, and why poll() ends a running session."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from jupyterhub.spawner import SpawnException
from traitlets.config import Config

from enclave.hub import spawner as spawner_module
from enclave.hub.spawner import EnclaveSpawner
from enclave.projects import ProjectRegistry
from enclave.state import make_engine


def make_spawner(audit_log=None, reader_url="postgresql://postgres@127.0.0.1:5441/db", **traits):
    hub = SimpleNamespace(api_url="http://127.0.0.1:8081/hub/api")
    config = Config()
    config.WarehouseSettings.reader_url = reader_url
    if audit_log is not None:
        config.WarehouseSettings.audit_log = audit_log
    return EnclaveSpawner(
        hub=hub,
        user=SimpleNamespace(name="alice", groups=[SimpleNamespace(name="researchers")]),
        config=config,
        **traits,
    )


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("https://review.example/services/review/", 443),
        ("http://review.example/services/review/", 80),
        ("https://review.example:8443/q", 8443),
    ],
)
def test_egress_port_defaults_follow_the_scheme(url, port):
    allowed = make_spawner(review_url=url)._allowed_destinations()
    assert ("review.example", port) in allowed and ("127.0.0.1", 8081) in allowed


def test_spawn_is_refused_without_a_memory_cgroup(monkeypatch):
    monkeypatch.setattr(spawner_module, "hub_memory_cgroup", lambda: None)
    with pytest.raises(SpawnException) as refused:
        make_spawner()._memory_cgroup_base()
    assert refused.value.status_code == 403 and "memory limit" in refused.value.message
    assert make_spawner(require_memory_cgroup=False)._memory_cgroup_base() is None


def test_memory_cgroup_is_used_when_there_is_one(monkeypatch):
    monkeypatch.setattr(spawner_module, "hub_memory_cgroup", lambda: Path("/sys/fs/cgroup/x"))
    assert make_spawner()._memory_cgroup_base() == Path("/sys/fs/cgroup/x")


def test_spawn_is_refused_while_the_audit_log_is_unreadable(tmp_path):
    log = tmp_path / "postgresql.json"
    spawner = make_spawner(audit_log=str(log))
    with pytest.raises(SpawnException) as refused:
        spawner._check_statement_log()
    assert refused.value.status_code == 403
    assert "audit log" in refused.value.message
    log.write_text("")
    spawner._check_statement_log()


def test_spawn_is_refused_without_a_hot_standby_to_read_from(tmp_path):
    log = tmp_path / "postgresql.json"
    log.write_text("")
    with pytest.raises(SpawnException) as refused:
        make_spawner(audit_log=str(log), reader_url="")._check_statement_log()
    assert refused.value.status_code == 403
    assert "WarehouseSettings.reader_url" in refused.value.message


# -- poll(): what ends a running session ----------------------------------------------------
@pytest.fixture
def ctx(tmp_path):
    projects = ProjectRegistry(make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}"))
    expires = (datetime.now(UTC) + timedelta(days=30)).date()
    projects.create("study", purpose="p", expires=expires, actor="admin")
    projects.add_member("study", "alice", actor="admin")
    projects.approve_override(
        "study",
        "CC-101",
        actor="admin",
        reason="recorded in a test",
        grant=lambda p, i: "/srv/x.sqlite",
    )
    accepted = {"alice"}
    return SimpleNamespace(
        projects=projects,
        agreement=SimpleNamespace(version="v1"),
        acceptances=SimpleNamespace(has_accepted=lambda user, version: user in accepted),
        accepted=accepted,
    )


def session(project="study", warehouse="enclave-query:///x", log=None, alive=True):
    spawner = make_spawner(audit_log=str(log or "/nonexistent"))
    spawner.session_project, spawner._warehouse_url = project, warehouse
    spawner.session_access = '{"CC-101": "*"}'  # what it started with
    spawner.config.QueryProcess.log_file = "/nonexistent/query-log.jsonl"  # nothing to import
    if not warehouse.startswith("postgresql"):  # a running SQLite session's query process
        spawner._query_process = SimpleNamespace(alive=lambda: alive)
    return spawner


async def test_sqlite_session_ends_when_its_query_process_is_gone(ctx):
    assert "query process ended" in await session(alive=False).reason_to_end(ctx)
    # after a hub restart the query process is gone with the hub: the session ends too
    restarted = make_spawner()
    restarted.session_project = "study"
    restarted.load_state({"enclave_postgres": False})
    assert "query process ended" in await restarted.reason_to_end(ctx)


async def test_a_session_may_go_on_while_everything_holds(ctx):
    assert await session().reason_to_end(ctx) is None


async def test_session_ends_when_its_project_expires(ctx):
    ctx.projects.expire("study", actor="admin")
    assert "expired" in await session().reason_to_end(ctx)


async def test_session_ends_when_the_agreement_lapses(ctx):
    ctx.accepted.clear()
    assert "version v1" in await session().reason_to_end(ctx)


async def test_session_of_unknown_project_ends(ctx):
    assert "no such project" in await session(project=None).reason_to_end(ctx)


async def test_postgres_session_ends_when_statements_cannot_be_imported(ctx, tmp_path):
    pg = "postgresql://db_sess_alice@127.0.0.2/db"
    assert "recorded" in await session(warehouse=pg).reason_to_end(ctx)
    log = tmp_path / "postgresql.log"
    log.write_text("")
    assert await session(warehouse=pg, log=log).reason_to_end(ctx) is None


async def test_transient_import_errors_end_the_session_only_when_they_persist(
    ctx, tmp_path, monkeypatch
):
    import sqlalchemy as sa

    def failing(log_file, state):
        raise sa.exc.OperationalError("UPDATE pg_log_offsets", {}, Exception("database is locked"))

    log = tmp_path / "postgresql.log"
    log.write_text("")
    spawner = session(warehouse="postgresql://db_sess_alice@127.0.0.2/db", log=log)
    spawner.max_import_failures = 3
    monkeypatch.setattr(spawner_module, "import_statements", failing)
    assert await spawner.reason_to_end(ctx) is None
    assert await spawner.reason_to_end(ctx) is None
    monkeypatch.undo()  # one success resets the count
    assert await spawner.reason_to_end(ctx) is None
    monkeypatch.setattr(spawner_module, "import_statements", failing)
    assert await spawner.reason_to_end(ctx) is None
    assert await spawner.reason_to_end(ctx) is None
    assert "recorded" in await spawner.reason_to_end(ctx)


def test_the_project_survives_a_hub_restart():
    spawner = session()
    restored = make_spawner()
    restored.load_state(spawner.get_state())
    assert restored.session_project == "study"
