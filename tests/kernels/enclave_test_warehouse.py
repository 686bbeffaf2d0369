"""A small synthetic warehouse built with the real `enclave warehouse` commands (shared by the
kernel and report tests)."""

from pathlib import Path

from enclave.cli import main

STUDENTS = 300
ALL = "K12-001,K12-002,CC-101,CC-102,UNI-201"


def warehouse_command(*args: str) -> None:
    assert main(["warehouse", *args]) == 0


def build_sqlite(root: Path) -> Path:
    """Generate, key and load a SQLite warehouse under ``root``; return its path."""
    db = root / "warehouse.sqlite"
    warehouse_command(
        "generate", "--out", str(root / "extracts"), "--students", str(STUDENTS), "--seed", "11"
    )
    warehouse_command("keygen", str(root / "key"))
    load(root, str(db))
    return db


def load(root: Path, url: str) -> None:
    """Load the extracts generated under ``root`` into the warehouse at ``url``."""
    warehouse_command(
        "load", str(root / "extracts"), "--key", str(root / "key"), "--url", url, "--accept-rejects"
    )


def grant(url: str, project: str, institutions: str) -> str:
    """The project's read-only access: its SQLite extract, or its PostgreSQL role's URL."""
    from enclave.warehouse.grant import grant_project

    where = grant_project(url, project, institutions.split(","))
    if url.startswith("postgresql"):
        import sqlalchemy as sa

        return sa.engine.make_url(url).set(username=where).render_as_string(hide_password=False)
    return where
