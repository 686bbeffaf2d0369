"""The approved-projects registry and ``enclave project``: each refusal and bad input."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from enclave.audit import AuditLog
from enclave.cli import main
from enclave.errors import EnclaveError
from enclave.projects import ProjectRefused, ProjectRegistry
from enclave.state import make_engine

NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).date()


@pytest.fixture
def registry(tmp_path):
    return ProjectRegistry(make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}"))


def granted(project, institutions):
    return f"/srv/extracts/{project}-{'-'.join(institutions)}.sqlite"


def make_active(registry, name="study", members=("alice",)):
    registry.create(name, purpose="transfer outcomes", expires=NEXT_YEAR, actor="admin")
    for member in members:
        registry.add_member(name, member, actor="admin")
    registry.approve_override(
        name, "CC-101", actor="steward", reason="recorded in a test", grant=granted
    )
    return registry.get(name)


def test_member_of_an_active_project_may_use_it(registry):
    make_active(registry)
    project = registry.check_user_can_use("alice", "study")
    assert project.is_active and project.institutions == ("CC-101",)
    assert project.warehouse_access == "/srv/extracts/study-CC-101.sqlite"
    assert registry.user_can_use("alice", "study")


def test_non_member_is_refused(registry):
    make_active(registry)
    with pytest.raises(ProjectRefused, match="not a member"):
        registry.check_user_can_use("mallory", "study")
    assert not registry.user_can_use("mallory", "study")


def test_unapproved_project_is_refused(registry):
    registry.create("study", purpose="p", expires=NEXT_YEAR, actor="admin")
    registry.add_member("study", "alice", actor="admin")
    with pytest.raises(ProjectRefused, match="no institution has approved"):
        registry.check_user_can_use("alice", "study")


def test_expired_project_is_refused(registry):
    make_active(registry)
    registry.expire("study", actor="admin")
    with pytest.raises(ProjectRefused, match="expired"):
        registry.check_user_can_use("alice", "study")


def test_project_past_its_expiry_date_is_refused(registry):
    make_active(registry)
    with registry.engine.begin() as conn:
        from enclave.projects import projects

        conn.execute(projects.update().values(expires=datetime.now(UTC).date()))
    assert registry.get("study").status == "expired"
    with pytest.raises(ProjectRefused, match="expired"):
        registry.check_user_can_use("alice", "study")


def test_active_projects_for_lists_only_the_users_usable_projects(registry):
    from enclave.projects import projects

    make_active(registry, "mine_b")
    make_active(registry, "mine_a")
    make_active(registry, "others", members=("bob",))
    make_active(registry, "ended")
    registry.expire("ended", actor="admin")
    make_active(registry, "lapsed")
    with registry.engine.begin() as conn:
        today = datetime.now(UTC).date()
        conn.execute(projects.update().where(projects.c.name == "lapsed").values(expires=today))
    registry.create("pending", purpose="p", expires=NEXT_YEAR, actor="admin")
    registry.add_member("pending", "alice", actor="admin")
    active = registry.active_projects_for("alice")
    assert [p.name for p in active] == ["mine_a", "mine_b"]
    assert active[0].institutions == ("CC-101",) and active[0].members == ("alice",)
    assert registry.active_projects_for("nobody") == []


def test_unknown_project_is_refused(registry):
    with pytest.raises(ProjectRefused, match="no such project"):
        registry.check_user_can_use("alice", "nothing")


def test_each_approval_regrants_the_approved_set(registry):
    make_active(registry)
    project = registry.approve_override(
        "study", "UNI-201", actor="steward", reason="recorded in a test", grant=granted
    )
    assert project.institutions == ("CC-101", "UNI-201")
    assert project.warehouse_access.endswith("study-CC-101-UNI-201.sqlite")


def test_failed_grant_records_no_approval(registry):
    make_active(registry)

    def broken(project, institutions):
        raise EnclaveError("warehouse unreachable")

    with pytest.raises(EnclaveError):
        registry.approve_override(
            "study", "UNI-201", actor="steward", reason="recorded in a test", grant=broken
        )
    assert registry.get("study").institutions == ("CC-101",)
    assert [e.action for e in AuditLog(registry.engine).events(project="study")].count(
        "project.approve-override"
    ) == 1


def test_every_change_is_audited_in_order(registry):
    make_active(registry)
    registry.expire("study", actor="admin")
    actions = [e.action for e in AuditLog(registry.engine).events(project="study")]
    assert actions == [
        "project.create",
        "project.add-member",
        "project.approve-override",
        "project.expire",
    ]
    assert AuditLog(registry.engine).verify() == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad Name"}, "not a valid project name"),
        ({"name": "x" * 31}, "not a valid project name"),
        ({"purpose": "  "}, "stated purpose"),
        ({"expires": datetime.now(UTC).date()}, "must be in the future"),
    ],
)
def test_create_refuses_bad_input(registry, kwargs, message):
    args = {"name": "study", "purpose": "p", "expires": NEXT_YEAR} | kwargs
    name = args.pop("name")
    with pytest.raises(EnclaveError, match=message):
        registry.create(name, actor="admin", **args)
    assert registry.all() == []


def test_duplicate_project_is_refused(registry):
    make_active(registry)
    with pytest.raises(EnclaveError, match="already exists"):
        registry.create("study", purpose="again", expires=NEXT_YEAR, actor="admin")


def test_unknown_institution_is_refused(registry):
    make_active(registry)
    with pytest.raises(EnclaveError, match="unknown institution"):
        registry.approve_override(
            "study", "UNI-999", actor="steward", reason="recorded in a test", grant=granted
        )


def test_expired_project_cannot_be_approved(registry):
    make_active(registry)
    registry.expire("study", actor="admin")
    with pytest.raises(EnclaveError, match="expired; its access can no longer change"):
        registry.approve_override(
            "study", "UNI-201", actor="steward", reason="recorded in a test", grant=granted
        )


def test_bad_member_name_is_refused(registry):
    make_active(registry)
    with pytest.raises(EnclaveError, match="not a valid researcher name"):
        registry.add_member("study", "Root; rm -rf", actor="admin")


# -- the command line -------------------------------------------------------------------------
@pytest.fixture
def config(tmp_path):
    path = tmp_path / "enclave_config.py"
    path.write_text(
        f"c.EnclaveState.db_url = 'sqlite:///{tmp_path / 'state.sqlite'}'\n"
        f"c.WarehouseSettings.url = '{tmp_path / 'missing-warehouse.sqlite'}'\n"
    )
    return str(path)


def cli(config, *argv) -> int:
    return main(["project", *argv, "--config", config])


def cli_create(config, name="study") -> int:
    return cli(config, "create", name, "--purpose", "p", "--expires", NEXT_YEAR.isoformat())


def test_cli_create_and_list(config, capsys):
    assert cli_create(config) == 0
    assert cli(config, "list") == 0
    out = capsys.readouterr().out
    assert "study" in out and "awaiting approval" in out


def test_cli_records_who_acted(config):
    assert (
        cli(
            config,
            "create",
            "study",
            "--purpose",
            "p",
            "--expires",
            NEXT_YEAR.isoformat(),
            "--by",
            "carol",
        )
        == 0
    )
    assert cli(config, "expire", "study", "--by", "dave") == 0
    engine = make_engine(f"sqlite:///{config.rsplit('/', 1)[0]}/state.sqlite")
    events = AuditLog(engine).events(project="study")
    assert [(e.action, e.actor) for e in events] == [
        ("project.create", "carol"),
        ("project.expire", "dave"),
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create", "study", "--purpose", "p", "--expires", "next week"], "not a date"),
        (["add-member", "nothing", "alice"], "no such project"),
        (["approve", "nothing", "--institution", "CC-101", "--reason", "r"], "no such project"),
        (["expire", "nothing"], "no such project"),
    ],
)
def test_cli_bad_input_is_one_line_and_nonzero(config, capsys, argv, message):
    assert cli_create(config, "other") == 0
    capsys.readouterr()
    status = cli(config, *argv)
    err = capsys.readouterr().err
    assert status != 0
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["list"], ["expire", "study"], ["add-member", "study", "x"]])
def test_cli_refuses_a_state_database_that_is_not_there(config, capsys, command):
    """A wrong --config says so: it never reports "no projects" from a new empty database."""
    state = Path(config).parent / "state.sqlite"
    assert cli(config, *command) != 0
    err = capsys.readouterr().err
    assert "no state database there" in err and "--config" in err
    assert len(err.strip().splitlines()) == 1
    assert not state.exists()


def test_cli_approve_without_warehouse_records_nothing(config, capsys):
    cli_create(config)
    status = cli(config, "approve", "study", "--institution", "CC-101", "--reason", "signed")
    assert status != 0
    assert "no warehouse" in capsys.readouterr().err
    cli(config, "list")
    assert "awaiting approval" in capsys.readouterr().out


def test_cli_add_member_creates_the_account(config, capsys):
    import pwd

    from devstack.unix_users import unique_name
    from enclave.hub.isolation.accounts import remove_account

    user = unique_name("cli")
    cli_create(config)
    try:
        assert cli(config, "add-member", "study", user) == 0
        entry = pwd.getpwnam(user)
        import os
        import stat

        assert stat.S_IMODE(os.stat(entry.pw_dir).st_mode) == 0o700
        assert entry.pw_shell == "/usr/sbin/nologin"
    finally:
        remove_account(user)
