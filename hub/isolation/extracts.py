"""SQLite warehouse access per session: a private copy of the project's read-only extract.

The extract ``warehouse.grant.grant_project`` writes stays where only root can read it. When a
session starts, the hub copies it to ``<sessions_dir>/<user>/<project>.sqlite`` (directory 0750
root:<user's group>, file 0440): that user can read it, nobody else can, and nobody can write it.
Any other project's copy for the same user is removed first, and the session's copy is removed
when the session stops — so a researcher in two projects cannot read project B's extract from a
project-A session.
"""

import os
import pwd
import shutil
from pathlib import Path


def _user_dir(sessions_dir: Path, user: pwd.struct_passwd) -> Path:
    sessions_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(sessions_dir, 0o711)  # noqa: S103 (traversable, not listable)
    user_dir = sessions_dir / user.pw_name
    user_dir.mkdir(exist_ok=True)
    os.chown(user_dir, 0, user.pw_gid)
    os.chmod(user_dir, 0o750)  # noqa: S103 (group = the researcher's own group only)
    return user_dir


def stage_extract(extract: Path, sessions_dir: Path, user: pwd.struct_passwd, project: str) -> Path:
    """Give ``user`` a read-only copy of ``project``'s extract; return its path."""
    user_dir = _user_dir(Path(sessions_dir), user)
    for other in user_dir.iterdir():
        other.unlink()
    target = user_dir / f"{project}.sqlite"
    partial = user_dir / f".{project}.partial"
    shutil.copyfile(extract, partial)
    os.chown(partial, 0, user.pw_gid)
    os.chmod(partial, 0o440)
    os.replace(partial, target)
    return target


def unstage(sessions_dir: Path, user_name: str) -> None:
    """Remove every extract copy of ``user_name`` (their session ended)."""
    user_dir = Path(sessions_dir) / user_name
    if user_dir.is_dir():
        shutil.rmtree(user_dir)
