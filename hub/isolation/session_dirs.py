"""Per-session directory of a running session's warehouse socket (SQLite warehouses).

The extract ``warehouse.grant.grant_project`` writes stays root's; no session gets a copy or a
path to it. The session's query process (``enclave.warehouse.query_server``) holds it open and
listens at ``<sessions_dir>/<user>/warehouse.sock``: the directory is 0750 root:<user's group>,
the socket 0600 and the user's, so only that user reaches it (and the process checks the uid
of every connection too). The directory is emptied when a session starts and removed when it
stops.
"""

import os
import pwd
import shutil
from pathlib import Path

SOCKET = "warehouse.sock"


def session_dir(sessions_dir: Path, user: pwd.struct_passwd) -> Path:
    """``user``'s empty session directory (made if needed)."""
    sessions_dir = Path(sessions_dir)
    sessions_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(sessions_dir, 0o711)  # noqa: S103 (traversable, not listable)
    user_dir = sessions_dir / user.pw_name
    user_dir.mkdir(exist_ok=True)
    os.chown(user_dir, 0, user.pw_gid)
    os.chmod(user_dir, 0o750)  # noqa: S103 (group = the researcher's own group only)
    for other in user_dir.iterdir():
        other.unlink()
    return user_dir


def remove_session_dir(sessions_dir: Path, user_name: str) -> None:
    """Remove ``user_name``'s session directory (their session ended)."""
    user_dir = Path(sessions_dir) / user_name
    if user_dir.is_dir():
        shutil.rmtree(user_dir)
