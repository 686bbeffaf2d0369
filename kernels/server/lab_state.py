"""JupyterLab's saved state (user settings, workspaces) as bounded, well-formed JSON only.

The one writable place the session server keeps for JupyterLab is ``~/.enclave-lab`` in the
project's workspace (``jupyter_config/``): saving the layout and settings works. The kernel and
the terminal run as the same uid and can write files there too, so the settings and workspaces
APIs never hand back a file as it lies on disk: a file that is not a regular file, is larger
than ``LabState.max_bytes`` or does not parse is ignored (logged, never quoted), settings are
served re-serialized from what parsed (no comments, no raw text), and at most
``LabState.max_workspaces`` workspaces are listed. What remains is JSON of bounded size, the same
kind of channel as a notebook through the contents API (see the hub README's limits).
Enable it in the session's server config::

    c.ServerApp.jpserver_extensions = {"enclave.kernels.server.lab_state": True}
"""

import json
import os
import stat
from pathlib import Path

from jupyterlab_server import handlers as lab_handlers
from jupyterlab_server import settings_utils
from jupyterlab_server.workspaces_handler import (
    WORKSPACE_EXTENSION,
    WorkspacesManager,
    _load_with_file_times,
    slugify,
)
from tornado import web
from traitlets import Integer
from traitlets.config import Configurable


class LabState(Configurable):
    max_bytes = Integer(
        64 * 1024,
        min=1,
        help="""Largest user-settings or workspace file JupyterLab may save or be served
        (bytes); larger files are ignored, larger saves refused.""",
    ).tag(config=True)

    max_workspaces = Integer(
        20, min=1, help="Most workspaces the workspaces API lists (the first by name)."
    ).tag(config=True)


_limits = LabState()
_original_user_settings = settings_utils._get_user_settings


def _fits(path: Path) -> bool:
    """A regular file (not a link) no larger than ``max_bytes``; absent files fit."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True
    return stat.S_ISREG(info.st_mode) and info.st_size <= _limits.max_bytes


def _bounded_user_settings(settings_dir: str, schema_name: str, schema) -> dict:
    path = Path(settings_utils._path(settings_dir, schema_name, False, ".jupyterlab-settings"))
    empty = {"raw": "{}", "settings": {}, "last_modified": None, "created": None}
    if not _fits(path):
        return {**empty, "warning": f"Ignored settings of {schema_name}: not a small file."}
    try:
        found = _original_user_settings(settings_dir, schema_name, schema)
    except web.HTTPError:  # does not parse: never quote it
        return {**empty, "warning": f"Ignored settings of {schema_name}: they do not parse."}
    found["raw"] = json.dumps(found["settings"], indent=4) if found["settings"] else "{}"
    return found


def _read_workspace(path: Path) -> dict | None:
    """The workspace in ``path``, or None unless it is a small file holding one."""
    if not _fits(path):
        return None
    try:
        workspace = _load_with_file_times(path)
    except (ValueError, OSError):
        return None
    metadata = workspace.get("metadata") if isinstance(workspace, dict) else None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("id"), str):
        return None
    if not isinstance(workspace.get("data"), dict):
        return None
    return workspace


class BoundedWorkspacesManager(WorkspacesManager):
    def _path(self, space_name: str) -> Path:
        return self.workspaces_dir / (slugify(space_name) + WORKSPACE_EXTENSION)

    def load(self, space_name: str) -> dict:
        path = self._path(space_name)
        if path.exists():
            workspace = _read_workspace(path)
            if workspace is not None:
                return workspace
            self.log.warning("Ignored workspace %s: not a small JSON workspace", path.name)
        _id = space_name if space_name.startswith("/") else "/" + space_name
        return {"data": {}, "metadata": {"id": _id}}

    def list_workspaces(self) -> list:
        if not self.workspaces_dir.is_dir():
            return []
        listed = []
        for path in sorted(self.workspaces_dir.glob("*" + WORKSPACE_EXTENSION)):
            if len(listed) >= _limits.max_workspaces:
                break
            workspace = _read_workspace(path)
            if workspace is not None:
                listed.append(workspace)
        return listed

    def save(self, space_name: str, raw: str) -> Path:
        if len(raw.encode()) > _limits.max_bytes:
            raise ValueError(f"Workspace too large (over {_limits.max_bytes} bytes).")
        return super().save(space_name, raw)


def _jupyter_server_extension_points():
    return [{"module": "enclave.kernels.server.lab_state"}]


def _load_jupyter_server_extension(serverapp):
    global _limits
    _limits = LabState(config=serverapp.config)


# on import, which the server does for every enabled extension before loading any of them: so
# JupyterLab's handlers are made with these
settings_utils._get_user_settings = _bounded_user_settings
lab_handlers.WorkspacesManager = BoundedWorkspacesManager
