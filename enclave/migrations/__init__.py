"""Alembic migrations of the enclave state database, shipped inside the package.

``versions/`` holds one file per schema change, ``0001`` being the schema every database made
before migrations already has. ``run(conn)`` applies every missing one on the caller's
connection, inside the caller's transaction: all of them or, on any error, none. Alembic is
configured here in code (``alembic.ini`` beside this file is for developers only).

``HEAD`` names the newest revision without importing alembic, so that opening an up-to-date
database costs one query (a test keeps it equal to the scripts' head).
"""

from pathlib import Path

HEAD = "0005"
VERSION_TABLE = "enclave_alembic_version"  # not alembic_version: JupyterHub's may share a database
HERE = Path(__file__).resolve().parent
# PostgreSQL: one upgrade at a time (the hub and the review service may both create a new
# database at once); on SQLite the caller's BEGIN IMMEDIATE (enclave.state) serializes them.
MIGRATION_LOCK = 0x656E636C61766532


class AuditTrailChanged(Exception):
    """A migration changed existing audit events (the upgrade is rolled back)."""


def alembic_config(conn=None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = conn
    return config


def script_head() -> str:
    """The newest revision according to the scripts themselves."""
    from alembic.script import ScriptDirectory

    (head,) = ScriptDirectory.from_config(alembic_config()).get_heads()
    return head


def lock(conn) -> None:
    """Hold the migration lock until the caller's transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")


def run(conn) -> None:
    """Upgrade the database behind ``conn`` (in an open transaction) to ``HEAD``.

    The audit trail is append-only: if the events there before are not all there afterwards,
    unchanged, the caller's transaction must not commit, so this raises ``AuditTrailChanged``.
    """
    from alembic import command

    lock(conn)
    before = _audit_digest(conn)
    command.upgrade(alembic_config(conn), "head")
    if _audit_digest(conn, upto=before[0]) != before:
        raise AuditTrailChanged("a migration changed or removed audit events; nothing was changed.")


def _audit_digest(conn, upto: int | None = None) -> tuple[int, str]:
    """(last sequence number, SHA-256 of every event up to it, in order) of the trail."""
    import hashlib
    import json

    import sqlalchemy as sa

    from enclave.tables import audit_events

    if not sa.inspect(conn).has_table(audit_events.name):
        return 0, ""
    query = sa.select(audit_events).order_by(audit_events.c.seq)
    if upto is not None:
        query = query.where(audit_events.c.seq <= upto)
    digest, last = hashlib.sha256(), 0
    for row in conn.execute(query):
        digest.update(json.dumps(list(row), separators=(",", ":")).encode() + b"\n")
        last = row.seq
    return last, digest.hexdigest() if last else ""
