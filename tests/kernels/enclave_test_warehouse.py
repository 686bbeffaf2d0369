"""A small synthetic warehouse built with the real `enclave warehouse` commands (shared by the
kernel and report tests)."""

from pathlib import Path

from enclave.cli import main

STUDENTS = 300
ALL = "K12-001,K12-002,CC-101,CC-102,UNI-201"


def build_sqlite(root: Path) -> Path:
    """Generate, key and load a SQLite warehouse under ``root``; return its path."""
    extracts, key, db = root / "extracts", root / "key", root / "warehouse.sqlite"
    assert (
        main(
            [
                "warehouse",
                "generate",
                "--out",
                str(extracts),
                "--students",
                str(STUDENTS),
                "--seed",
                "11",
            ]
        )
        == 0
    )
    assert main(["warehouse", "keygen", str(key)]) == 0
    assert (
        main(
            [
                "warehouse",
                "load",
                str(extracts),
                "--key",
                str(key),
                "--url",
                str(db),
                "--accept-rejects",
            ]
        )
        == 0
    )
    return db


def grant(url: str, project: str, institutions: str) -> str:
    """The project's read-only access: its SQLite extract, or its PostgreSQL role's URL."""
    from warehouse.grant import grant_project

    where = grant_project(url, project, institutions.split(","))
    if url.startswith("postgresql"):
        import sqlalchemy as sa

        return sa.engine.make_url(url).set(username=where).render_as_string(hide_password=False)
    return where


def load_postgres(root: Path, url: str) -> None:
    extracts, key = root / "extracts", root / "key"
    assert (
        main(
            [
                "warehouse",
                "load",
                str(extracts),
                "--key",
                str(key),
                "--url",
                url,
                "--accept-rejects",
            ]
        )
        == 0
    )
