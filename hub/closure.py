"""The hub's part of closing a project (``enclave.closure``): its workspaces, and its sessions
stopped before anything is destroyed.

Workspaces: ``~/.enclave-projects/<project>`` of every account the project ever had as a member
(the audit trail's ``project.add-member`` events: members removed keep theirs until it closes),
with the outputs and report runs inside.

Sessions: the project is expired first, so the hub's poll ends each of its running sessions
within ``Spawner.poll_interval`` (``SessionPolicy``); ``stop_sessions`` waits until the hub's
own database shows none still running on the project, reading it as the hub left it. When they
still run after ``ProjectClosure.session_stop_timeout`` (the hub is down, or cannot stop them)
the close stops there with nothing destroyed.
"""

import json
import os
import pwd
import stat
import time
from pathlib import Path

import sqlalchemy as sa

from enclave.audit import AuditAction, AuditLog
from enclave.closure import ClosureContext, PathLocation, ProjectClosure
from enclave.errors import EnclaveError
from enclave.hub.isolation.workspaces import WORKSPACES


def members_ever(context: ClosureContext) -> list[str]:
    added = AuditLog(context.engine).events(
        project=context.project.name, action=AuditAction.PROJECT_ADD_MEMBER
    )
    return sorted({*context.project.members, *(e.details.get("member") for e in added)} - {None})


def locations(context: ClosureContext) -> list[PathLocation]:
    found = []
    seen = set()
    for name in members_ever(context):
        try:
            account = pwd.getpwnam(name)
        except KeyError:  # the account is gone, and its home with it
            continue
        root = Path(account.pw_dir or "/nonexistent") / WORKSPACES
        try:
            info = os.lstat(root)
        except OSError:
            continue
        # root's 0711 folder, as prepare_workspace made it; a link there is not followed
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or root in seen:
            continue
        seen.add(root)
        workspace = root / context.project.name
        if os.path.lexists(workspace):
            found.append(PathLocation("workspace", workspace))
    return found


def _hub_database(config) -> str:
    url = config.JupyterHub.get("db_url", "sqlite:///jupyterhub.sqlite")
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not Path(path).is_file():
            return ""  # no hub has run here: no session either
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    return url


def running_sessions(config, project: str) -> list[str]:
    """The users whose session on ``project`` the hub's database shows running."""
    url = _hub_database(config)
    if not url:
        return []
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT users.name, spawners.state FROM spawners JOIN users "
                "ON users.id = spawners.user_id WHERE spawners.server_id IS NOT NULL"
            ).all()
    finally:
        engine.dispose()
    running = []
    for user, state in rows:
        state = json.loads(state) if isinstance(state, str) else (state or {})
        if state.get("enclave_project") == project:
            running.append(user)
    return sorted(running)


def stop_sessions(config, project, *, poll: float = 0.5) -> None:
    """Return once no session of ``project`` (already expired) runs; else a one-line error."""
    timeout = ProjectClosure(config=config).session_stop_timeout
    deadline = time.monotonic() + timeout
    while running := running_sessions(config, project.name):
        if time.monotonic() >= deadline:
            raise EnclaveError(
                f"project {project.name!r}: the session(s) of {', '.join(running)} still run "
                f"{timeout:.0f} s after the project was expired; the hub stops them at its next "
                "poll: make sure it is running, then re-run the close. Nothing was destroyed."
            )
        time.sleep(poll)
