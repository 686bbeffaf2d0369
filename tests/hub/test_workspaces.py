"""Per-project workspaces on a real account: layout, a planted link, the home in the sandbox."""

import os
import pwd
import stat
import uuid
from pathlib import Path

import pytest

from devstack.launch import SESSION_VENV
from devstack.unix_users import unix_users
from enclave.hub.isolation.network import SandboxNetwork
from enclave.hub.isolation.sandbox import Sandbox, SandboxSpec
from enclave.hub.isolation.workspaces import WORKSPACES, open_workspace, prepare_workspace


@pytest.fixture
def account():
    with unix_users("ws") as names:
        yield pwd.getpwnam(names["ws"])


def owner_and_mode(path) -> tuple[int, int]:
    info = os.lstat(path)
    return info.st_uid, stat.S_IMODE(info.st_mode)


def test_workspace_layout(account):
    outputs = prepare_workspace(account, "proj_a")
    assert outputs == f"{account.pw_dir}/projects/proj_a/outputs"
    root = os.path.join(account.pw_dir, WORKSPACES)
    assert owner_and_mode(root) == (0, 0o711)
    workspace = os.path.join(root, "proj_a")
    for sub in ("", "projects", "projects/proj_a", "projects/proj_a/outputs"):
        assert owner_and_mode(os.path.join(workspace, sub)) == (account.pw_uid, 0o700)


def test_modes_are_repaired_on_the_next_spawn(account):
    prepare_workspace(account, "proj_a")
    workspace = os.path.join(account.pw_dir, WORKSPACES, "proj_a")
    os.chmod(workspace, 0o755)
    prepare_workspace(account, "proj_a")
    assert owner_and_mode(workspace) == (account.pw_uid, 0o700)


def test_a_planted_link_is_never_followed(account, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    before = owner_and_mode(target)
    os.symlink(target, os.path.join(account.pw_dir, WORKSPACES))
    with pytest.raises(OSError):
        prepare_workspace(account, "proj_a")
    assert owner_and_mode(target) == before and not os.listdir(target)


async def test_session_home_shows_only_its_projects_files(account):
    for project in ("proj_a", "proj_b"):
        prepare_workspace(account, project)
        mine = os.path.join(account.pw_dir, WORKSPACES, project, f"{project}.txt")
        with open(mine, "w") as f:
            f.write(project)
    Path(account.pw_dir, "old-home-file").touch()
    lines = []
    network = SandboxNetwork(f"enclave_test_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    fd = open_workspace(account, "proj_a")
    try:
        spec = SandboxSpec(account, fd, SESSION_VENV)
        box = await Sandbox.prepare(spec, network, output=lines.append)
        code = f"import os; print(sorted(os.listdir({account.pw_dir!r})))"
        await box.start(["/usr/bin/python3", "-c", code], {"PATH": "/usr/bin"})
        await box.wait()
        await box.close()
    finally:
        os.close(fd)
        await network.remove_table()
    assert lines == ["['proj_a.txt', 'projects']"]
    # and the hub's own view is untouched
    assert "old-home-file" in os.listdir(account.pw_dir)


def test_a_workspace_swapped_for_another_users_directory_is_refused(account, tmp_path):
    prepare_workspace(account, "proj_a")
    workspace = os.path.join(account.pw_dir, WORKSPACES, "proj_a")
    os.chown(workspace, 0, 0)  # as if something else had been put there
    with pytest.raises(PermissionError, match="is not"):
        open_workspace(account, "proj_a")
