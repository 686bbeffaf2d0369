"""One session policy, two spawners: the local EnclaveSpawner and the Kubernetes
EnclaveKubeSpawner refuse the same starts and end the same running sessions.

Real state database (SQLite), real agreement and project registry; the spawners' own process
or pod is replaced by "running" (no cluster here), and stop() is recorded.
"""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from jupyterhub.spawner import LocalProcessSpawner, SpawnException
from kubespawner import KubeSpawner
from traitlets.config import Config

from enclave.hub.context import enclave_context
from enclave.hub.kube import EnclaveKubeSpawner
from enclave.hub.spawner import EnclaveSpawner
from tests.support.kube import use_kubeconfig

SPAWNERS = {
    "local": (EnclaveSpawner, LocalProcessSpawner),
    "kube": (EnclaveKubeSpawner, KubeSpawner),
}


@pytest.fixture
def config(tmp_path, monkeypatch):
    use_kubeconfig(tmp_path, monkeypatch)
    c = Config()
    c.EnclaveState.db_url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    c.KubeSpawner.uid = 1000
    ctx = enclave_context(c)
    expires = (datetime.now(UTC) + timedelta(days=30)).date()
    for project in ("study", "other"):
        ctx.projects.create(project, purpose="p", expires=expires, actor="admin")
        ctx.projects.add_member(project, "alice", actor="admin")
        ctx.projects.approve_override(
            project,
            "CC-101",
            actor="admin",
            reason="recorded in a test",
            grant=lambda p, i: "/srv/x",
        )
    ctx.acceptances.accept("alice", ctx.agreement.version)
    return c


def researcher(*groups):
    return SimpleNamespace(
        name="alice",
        id=1,
        url="/user/alice/",
        groups=[SimpleNamespace(name=g) for g in groups or ("researchers",)],
    )


@pytest.fixture(params=sorted(SPAWNERS))
def kind(request):
    return request.param


@pytest.fixture
def make(kind, config):
    cls, _ = SPAWNERS[kind]

    def make_spawner(user=None, project="study"):
        user = user or researcher()
        hub = SimpleNamespace(api_url="http://hub:8081/hub/api", base_url="/hub/", url="/hub/")
        extra = {"_mock": True} if kind == "kube" else {}
        spawner = cls(config=config, user=user, hub=hub, **extra)
        spawner.user_options = {"project": project}
        return spawner

    return make_spawner


@pytest.fixture
def running(kind, monkeypatch):
    """The session's process or pod is up; what poll() stopped is recorded."""
    _, base = SPAWNERS[kind]

    async def up(self):
        return None

    monkeypatch.setattr(base, "poll", up)
    stopped = []

    def watch(spawner):
        async def stop(now=False):
            stopped.append(now)

        spawner.stop = stop
        return spawner

    return watch, stopped


# -- start: both spawners refuse the same users, before anything is made ---------------------------
async def test_a_member_who_accepted_may_start(make):
    ctx, project = make().check_may_start()
    assert project.name == "study"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("not-researcher", "not-researcher"),
        ("agreement", "agreement"),
        ("expired", "project"),
        ("not-member", "project"),
        ("unknown-project", "project"),
    ],
)
async def test_start_is_refused_alike(make, config, change, reason):
    spawner = apply(change, make, config)
    with pytest.raises(SpawnException) as refused:
        await spawner.start()
    assert refused.value.status_code == 403 and refused.value.reason == reason


def apply(change, make, config):
    """A spawner for alice after ``change`` to what the policy looks at."""
    ctx = enclave_context(config)
    if change == "not-researcher":
        return make(user=researcher("reviewers"))
    if change == "agreement":
        ctx.agreement.version = "a-new-version"
    elif change == "expired":
        ctx.projects.expire("study", actor="admin")
    elif change == "not-member":
        with ctx.projects.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM project_members WHERE project = 'study'"))
    elif change == "unknown-project":
        return make(project="nonexistent")
    return make()


# -- poll: both spawners end a running session when a rule stops holding ---------------------------
async def test_a_running_session_goes_on_while_every_rule_holds(make, running):
    watch, stopped = running
    spawner = watch(make())
    spawner.check_may_start()
    assert await spawner.poll() is None and stopped == []


@pytest.mark.parametrize("change", ["not-researcher", "agreement", "expired", "not-member"])
async def test_poll_ends_the_session_alike(make, config, running, change):
    watch, stopped = running
    spawner = watch(apply(change, make, config))
    spawner.session_project, spawner.session_access = "study", '{"CC-101": "*"}'
    assert await spawner.poll() == 1 and stopped == [True]


def steward_decides(config, institution="UNI-201", scope=None):
    """``institution`` is asked for ``students`` (and ``univ_degrees``) and approves."""
    from enclave.warehouse.grant import catalog

    ctx = enclave_context(config)
    ctx.projects.request_access(
        "study",
        institution,
        {"students": None, "univ_degrees": None},
        actor="alice",
        catalog=catalog(),
    )
    ctx.projects.decide(
        "study",
        institution,
        "approve",
        actor="sam",
        stewards=[institution],
        catalog=catalog(),
        scope=scope,
        comment="" if scope is None else "only students",
        grant=lambda p, s: "/srv/x",
    )
    return ctx


async def test_a_withdrawn_approval_ends_the_session_and_the_next_starts_on_less(
    make, config, running
):
    watch, stopped = running
    ctx = steward_decides(config)
    spawner = watch(make())
    spawner.check_may_start()
    assert await spawner.poll() is None
    ctx.projects.withdraw(
        "study", "UNI-201", actor="sam", stewards=["UNI-201"], comment="audit finding"
    )
    assert await spawner.poll() == 1 and stopped == [True]
    _, project = make().check_may_start()
    assert project.institutions == ("CC-101",)


async def test_a_narrower_approval_ends_the_session_and_a_wider_one_does_not(make, config, running):
    watch, stopped = running
    spawner = watch(make())
    spawner.check_may_start()  # CC-101: everything
    steward_decides(config, scope={"students": None})  # UNI-201 added: more, not less
    assert await spawner.poll() is None and stopped == []
    with enclave_context(config).projects.engine.begin() as conn:  # CC-101 narrowed
        conn.execute(sa.text("UPDATE project_access SET approved = '{\"students\": null}'"))
    assert await spawner.poll() == 1 and stopped == [True]


async def test_a_session_without_its_approvals_in_the_state_is_ended(make, running):
    watch, stopped = running
    spawner = make()
    spawner.check_may_start()
    state = spawner.get_state()
    del state["enclave_access"]  # e.g. started before the rule
    restored = watch(make(project=""))
    restored.load_state(state)
    assert await restored.poll() == 1 and stopped == [True]


async def test_a_session_whose_project_is_not_known_is_ended(make, running):
    watch, stopped = running
    spawner = watch(make())  # e.g. state lost: no project recorded
    assert await spawner.poll() == 1 and stopped == [True]


async def test_a_check_that_crashes_ends_the_session(make, config, running, monkeypatch):
    watch, stopped = running
    spawner = watch(make())
    spawner.check_may_start()

    def broken(user, project):
        raise sa.exc.OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(enclave_context(config).projects, "check_user_can_use", broken)
    assert await spawner.poll() == 1 and stopped == [True]


async def test_the_project_survives_a_hub_restart(make, running):
    watch, stopped = running
    spawner = make()
    spawner.check_may_start()
    restored = watch(make(project=""))
    restored.load_state(spawner.get_state())
    assert restored.session_project == "study"
    assert await restored.poll() is None and stopped == []
    restored.clear_state()
    assert restored.session_project is None
