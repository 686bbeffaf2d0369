"""Research sessions on a PostgreSQL warehouse: their own login role, a password, and a log.

The cluster trusts every connection from 127.0.0.1 and over its Unix socket (tests and CI rely
on that), so a session must reach neither with those credentials:

- the session's mount namespace covers the socket directory (``EnclaveSpawner.hidden_paths``);
- nftables rewrites the source address of every TCP connection a researcher uid opens to the
  warehouse port to ``127.0.0.2`` (``SESSION_SOURCE``), and the block this module keeps at the
  top of ``pg_hba.conf`` demands a SCRAM password from that address: no trust, whatever role
  the researcher names;
- the only password a session holds is that of its own login role ``<db>_sess_<user>``, created
  at spawn as a member of exactly one project role (so the project's row policies and SELECT
  grants apply) and locked again (NOLOGIN, no password, backends terminated) at stop.

Server-side query recording: each session role has ``log_statement = 'all'`` (a superuser-only
setting the researcher cannot switch off), so every statement — from the kernel's warehouse
client or a direct psycopg connection — reaches the server log with time, role and database
(``log_line_prefix``); ``enclave.warehouse.statement_log`` imports them into the audit trail.
"""

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from enclave.errors import EnclaveError
from enclave.warehouse.db import SCHEMA
from enclave.warehouse.statement_log import (
    LOG_LINE_PREFIX,
    import_statements,
    metadata,
    pg_sessions,
)

SESSION_SOURCE = "127.0.0.2"
HBA_BEGIN = "# BEGIN enclave sessions (managed by hub/isolation/postgres.py; do not edit)"
HBA_END = "# END enclave sessions"
HBA_BLOCK = f"{HBA_BEGIN}\nhost all all {SESSION_SOURCE}/32 scram-sha-256\n{HBA_END}\n"


def session_role(dbname: str, user: str) -> str:
    name = f"{dbname}_sess_{user}"
    if len(name) > 63:  # PostgreSQL truncates identifiers; keep names distinct instead
        name = f"{name[:50]}_{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    return name


def _admin(url: str) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def ensure_cluster(admin_url: str) -> None:
    """Idempotent cluster set-up: the pg_hba block on top, the log line prefix, a reload."""
    engine = _admin(admin_url)
    try:
        with engine.connect() as conn:
            hba = Path(conn.exec_driver_sql("SHOW hba_file").scalar())
            text = hba.read_text()
            if HBA_BLOCK not in text:
                if HBA_BEGIN in text:
                    raise EnclaveError(
                        f"{hba}: the enclave block was edited by hand; remove it and retry."
                    )
                partial = hba.with_name(hba.name + ".enclave-new")
                partial.write_text(HBA_BLOCK + text)
                stat = hba.stat()
                os.chown(partial, stat.st_uid, stat.st_gid)
                os.chmod(partial, stat.st_mode & 0o777)
                os.replace(partial, hba)
            if conn.exec_driver_sql("SHOW log_line_prefix").scalar() != LOG_LINE_PREFIX:
                conn.exec_driver_sql(f"ALTER SYSTEM SET log_line_prefix = '{LOG_LINE_PREFIX}'")
            conn.exec_driver_sql("SELECT pg_reload_conf()")
            errors = conn.exec_driver_sql(
                "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL"
            ).all()
            if errors:
                raise EnclaveError(f"{hba}: line {errors[0][0]}: {errors[0][1]}; fix the file.")
    finally:
        engine.dispose()


class StatementImportFailed(Exception):
    """The statement log could not be imported (the cause is chained)."""


@dataclass(frozen=True)
class SessionLogin:
    role: str
    password: str
    url: str  # what the session gets as ENCLAVE_WAREHOUSE_URL


class SessionRoles:
    """Open and close the per-user login roles of one warehouse database."""

    def __init__(self, admin_url: str, state: sa.Engine, log_file: str | None = None):
        self.admin_url = admin_url
        self.state = state
        self.log_file = log_file  # the statement log, imported before a role changes project
        metadata.create_all(state)

    def open(
        self, user: str, project: str, project_role: str, host: str = "127.0.0.1"
    ) -> SessionLogin:
        """Unlock ``user``'s role for ``project`` with a new password; ``host`` is where the
        session reaches the warehouse (loopback here, the database service on Kubernetes).

        With a ``log_file``, the previous session's statements still in the log are imported
        first, while the role still maps to that session's project (a failure raises and
        changes nothing): otherwise they would be recorded under the new project."""
        if self.log_file is not None:
            try:
                import_statements(self.log_file, self.state)
            except Exception as e:
                raise StatementImportFailed(self.log_file) from e
        engine = _admin(self.admin_url)
        password = secrets.token_urlsafe(24)
        try:
            with engine.connect() as conn:
                url = engine.url
                role = session_role(url.database, user)
                q = conn.dialect.identifier_preparer.quote
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
                ).first()
                verb = "ALTER" if exists else "CREATE"
                conn.exec_driver_sql(
                    f"{verb} ROLE {q(role)} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE "
                    f"NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 8 PASSWORD '{password}'"
                )
                # exactly one project: drop memberships left from an earlier session
                held = conn.execute(
                    sa.text(
                        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r "
                        "ON r.oid = m.roleid WHERE m.member = CAST(:r AS regrole)"
                    ),
                    {"r": role},
                ).scalars()
                for other in list(held):
                    if other != project_role:
                        conn.exec_driver_sql(f"REVOKE {q(other)} FROM {q(role)}")
                conn.exec_driver_sql(f"GRANT {q(project_role)} TO {q(role)}")
                for setting, value in (
                    ("log_statement", "all"),
                    ("default_transaction_read_only", "on"),
                    ("search_path", SCHEMA),
                ):
                    conn.exec_driver_sql(f"ALTER ROLE {q(role)} SET {setting} = '{value}'")
        finally:
            engine.dispose()
        with self.state.begin() as conn:
            conn.execute(pg_sessions.delete().where(pg_sessions.c.role == role))
            conn.execute(pg_sessions.insert().values(role=role, user=user, project=project))
        session_url = url.set(username=role, password=password, host=host, port=url.port or 5432)
        return SessionLogin(role, password, session_url.render_as_string(hide_password=False))

    def close(self, user: str) -> None:
        engine = _admin(self.admin_url)
        try:
            with engine.connect() as conn:
                role = session_role(engine.url.database, user)
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
                ).first()
                if exists:
                    q = conn.dialect.identifier_preparer.quote
                    conn.exec_driver_sql(f"ALTER ROLE {q(role)} NOLOGIN PASSWORD NULL")
                    conn.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE usename = :r"
                        ),
                        {"r": role},
                    )
        finally:
            engine.dispose()
