"""Research sessions on a PostgreSQL warehouse: their own login role, on a hot standby, recorded
by pgAudit.

Sessions never reach the warehouse's primary: they read from a streaming hot standby
(``WarehouseSettings.reader_url``). A server in recovery cannot write anything, whatever a
session sets (``default_transaction_read_only = off``, ``BEGIN READ WRITE``): no large objects,
temporary tables, LISTEN/NOTIFY, role settings or prepared transactions. Roles are made on the
primary and reach the standby by replication; the hub waits for the standby to replay them.

The clusters trust the administrator's connections, so a session must reach neither with those
credentials nor any other database:

- the session's sandbox has no socket directory (``hub.isolation.sandbox``);
- the hub's nftables table rewrites the source address of every connection a session's sandbox
  opens to the warehouse to ``127.0.0.2`` (``SESSION_SOURCE``, ``hub.isolation.network``); the
  block this module keeps at the top of
  each cluster's ``pg_hba.conf`` rejects that address except for session roles (members of
  ``SESSIONS_GROUP``), and those only with a SCRAM password, only on the standby, and only into
  the warehouse databases listed in ``DATABASES_FILE`` beside it;
- the only password a session holds is that of its own login role ``<db>_sess_<user>``, created
  at spawn as a member of exactly one project role (so the project's row policies and SELECT
  grants apply) and locked again (NOLOGIN, no password, backends terminated) at stop.

Recording: each session role carries pgAudit settings (superuser-only, the researcher cannot
change them): session logging of READ and FUNCTION statements, and object logging through the
audit role (``enclave.warehouse.grant.audit_role``, SELECT on every warehouse table), so every
read reaches the standby's JSON log with the relations it read, whatever the protocol.
``enclave.warehouse.statement_log`` imports those records into the audit trail.
"""

import contextlib
import fcntl
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from enclave.errors import EnclaveError
from enclave.tables import pg_sessions
from enclave.warehouse.db import SCHEMA, pg_connect, shown
from enclave.warehouse.grant import audit_role, prepare_audit_role, prepare_owner
from enclave.warehouse.statement_log import import_statements

SESSION_SOURCE = "127.0.0.2"
SESSIONS_GROUP = "enclave_sessions"  # every session role, of every warehouse database
DATABASES_FILE = "enclave_session_databases"  # beside the standby's pg_hba.conf
HBA_BEGIN = "# BEGIN enclave sessions (managed by hub/isolation/postgres.py; do not edit)"
HBA_END = "# END enclave sessions"
_NO_SESSIONS = (
    f"local all +{SESSIONS_GROUP} reject\n"
    f"host all +{SESSIONS_GROUP} all reject\n"
    f"host all all {SESSION_SOURCE}/32 reject\n"
)
PRIMARY_HBA = f"{HBA_BEGIN}\n{_NO_SESSIONS}{HBA_END}\n"
READER_HBA = (
    f"{HBA_BEGIN}\nhost @{DATABASES_FILE} +{SESSIONS_GROUP} all scram-sha-256\n"
    f"{_NO_SESSIONS}{HBA_END}\n"
)
REPLAY_WAIT_SECONDS = 30.0


def audit_settings(dbname: str) -> dict[str, str]:
    """pgAudit settings of a session role: every read and function call, with its relations."""
    return {
        "pgaudit.log": "read, function",
        "pgaudit.role": audit_role(dbname),
        "pgaudit.log_catalog": "off",  # statements reading only the system catalogs
        "pgaudit.log_parameter": "off",  # never a value
        "pgaudit.log_client": "off",
        "pgaudit.log_level": "log",
        "pgaudit.log_statement": "on",
    }


def session_role(dbname: str, user: str) -> str:
    name = f"{dbname}_sess_{user}"
    if len(name) > 63:  # PostgreSQL truncates identifiers; keep names distinct instead
        name = f"{name[:50]}_{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    return name


def _admin(url: str | sa.URL) -> sa.Engine:
    from enclave.tls import check_database_tls

    check_database_tls(url)
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _maintenance(url: str) -> sa.URL:
    """The server's ``postgres`` database: a new warehouse database may not be replayed yet."""
    return sa.engine.make_url(url).set(database="postgres")


def _install_hba(conn: sa.Connection, block: str) -> None:
    """Put ``block`` at the top of the server's pg_hba.conf (replacing an older one), reload."""
    hba = Path(conn.exec_driver_sql("SHOW hba_file").scalar())
    text = hba.read_text()
    if block not in text:
        if HBA_BEGIN in text:
            before, _, rest = text.partition(HBA_BEGIN)
            text = before + rest.partition(HBA_END + "\n")[2]
        _replace(hba, block + text)
    conn.exec_driver_sql("SELECT pg_reload_conf()")
    errors = conn.exec_driver_sql(
        "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL"
    ).all()
    if errors:
        raise EnclaveError(f"{hba}: line {errors[0][0]}: {errors[0][1]}; fix the file.")


def _replace(path: Path, text: str) -> None:
    """Write ``path`` whole (same owner and mode), never half."""
    partial = path.with_name(path.name + ".enclave-new")
    partial.write_text(text)
    stat = path.stat()
    os.chown(partial, stat.st_uid, stat.st_gid)
    os.chmod(partial, stat.st_mode & 0o777)
    os.replace(partial, path)


def _allow_database(conn: sa.Connection, dbname: str) -> None:
    """List ``dbname`` in the standby's DATABASES_FILE (and drop databases that are gone)."""
    hba = Path(conn.exec_driver_sql("SHOW hba_file").scalar())
    listed = hba.with_name(DATABASES_FILE)
    lock = hba.with_name(DATABASES_FILE + ".lock")
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # hubs on one machine add their databases in turn
        existing = set(conn.exec_driver_sql("SELECT datname FROM pg_database").scalars())
        names = listed.read_text().split() if listed.is_file() else []
        wanted = sorted({n.strip('"') for n in names} & existing | {dbname})
        text = "".join(f'"{name}"\n' for name in wanted)
        if not listed.is_file():
            listed.write_text("")
            stat = hba.stat()
            os.chown(listed, stat.st_uid, stat.st_gid)
            os.chmod(listed, 0o640)
        if listed.read_text() != text:
            _replace(listed, text)


def _check_reader(conn: sa.Connection, reader_url: str, primary_system: int) -> None:
    def refuse(problem: str) -> EnclaveError:
        return EnclaveError(
            f"{shown(reader_url)} (WarehouseSettings.reader_url): {problem}; sessions are "
            "refused until it is fixed (see hub/README.md, PostgreSQL warehouse)."
        )

    if not conn.exec_driver_sql("SELECT pg_is_in_recovery()").scalar():
        raise refuse("not a hot standby (pg_is_in_recovery() is false)")
    system = conn.exec_driver_sql("SELECT system_identifier FROM pg_control_system()").scalar()
    if system != primary_system:
        raise refuse("not a standby of WarehouseSettings.url (another system identifier)")
    libraries = conn.exec_driver_sql("SHOW shared_preload_libraries").scalar()
    if "pgaudit" not in [name.strip() for name in libraries.split(",")]:
        raise refuse("pgAudit is not in shared_preload_libraries")
    destinations = conn.exec_driver_sql("SHOW log_destination").scalar()
    collector = conn.exec_driver_sql("SHOW logging_collector").scalar()
    if "jsonlog" not in [d.strip() for d in destinations.split(",")] or collector != "on":
        raise refuse(
            "its log is not written as JSON (log_destination = 'jsonlog', logging_collector)"
        )


def ensure_cluster(admin_url: str, reader_url: str | None = None) -> None:
    """Idempotent set-up of the warehouse's primary and (when given) its hot standby: pgAudit
    and the audit role in the warehouse database, the session group, each server's pg_hba
    block, and the standby's checks. Raises EnclaveError naming what is missing."""
    primary = _admin(admin_url)
    dbname = primary.url.database
    try:
        with primary.connect() as conn:
            try:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pgaudit")
            except sa.exc.DBAPIError as e:
                raise EnclaveError(
                    f"{shown(admin_url)}: cannot create the pgaudit extension "
                    f"({type(e.orig).__name__}); install postgresql-15-pgaudit and add it to "
                    "shared_preload_libraries."
                ) from None
            exists = conn.exec_driver_sql(
                f"SELECT 1 FROM pg_roles WHERE rolname = '{SESSIONS_GROUP}'"
            ).first()
            if not exists:
                with contextlib.suppress(sa.exc.IntegrityError):  # another hub made it meanwhile
                    conn.exec_driver_sql(f"CREATE ROLE {SESSIONS_GROUP} NOLOGIN")
            system = conn.exec_driver_sql(
                "SELECT system_identifier FROM pg_control_system()"
            ).scalar()
            _install_hba(conn, PRIMARY_HBA)
        with pg_connect(admin_url) as raw, raw.cursor() as cur:
            prepare_owner(cur, dbname)  # PUBLIC's revocations, before any load
            prepare_audit_role(cur, dbname)
            raw.commit()
        if reader_url is not None:
            reader = _admin(_maintenance(reader_url))
            try:
                with reader.connect() as conn:
                    _check_reader(conn, reader_url, system)
                    with primary.connect() as on_primary:
                        wait_for_replay(on_primary, reader_url)  # the database is there
                    _allow_database(conn, dbname)
                    _install_hba(conn, READER_HBA)
            finally:
                reader.dispose()
    finally:
        primary.dispose()


def wait_for_replay(primary: sa.Connection, reader_url: str) -> None:
    """Return once the standby has replayed everything the primary has flushed so far."""
    lsn = primary.exec_driver_sql("SELECT pg_current_wal_flush_lsn()").scalar()
    reader = _admin(_maintenance(reader_url))
    deadline = time.monotonic() + REPLAY_WAIT_SECONDS
    try:
        with reader.connect() as conn:
            while not conn.execute(
                sa.text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"), {"lsn": lsn}
            ).scalar():
                if time.monotonic() > deadline:
                    raise EnclaveError(
                        f"{shown(reader_url)}: the hot standby has not replayed the primary's "
                        f"changes in {REPLAY_WAIT_SECONDS:g} s; check its replication."
                    )
                time.sleep(0.02)
    finally:
        reader.dispose()


class StatementImportFailed(Exception):
    """The statement log could not be imported (the cause is chained)."""


@dataclass(frozen=True)
class SessionLogin:
    role: str
    password: str
    url: str  # what the session gets as ENCLAVE_WAREHOUSE_URL


def _terminate(conn: sa.Connection, role: str) -> None:
    conn.execute(
        sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
        {"r": role},
    )


class SessionRoles:
    """Open and close the per-user login roles of one warehouse database."""

    def __init__(
        self,
        admin_url: str,
        state: sa.Engine,
        log_file: str | None = None,
        reader_url: str | None = None,
    ):
        self.admin_url = admin_url
        self.state = state
        self.log_file = log_file  # the audit log, imported before a role changes project
        self.reader_url = reader_url  # the hot standby sessions read from

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
                    if other not in (project_role, SESSIONS_GROUP):
                        conn.exec_driver_sql(f"REVOKE {q(other)} FROM {q(role)}")
                conn.exec_driver_sql(f"GRANT {q(project_role)} TO {q(role)}")
                if self.reader_url is not None:  # the standby's pg_hba admits the group only
                    conn.exec_driver_sql(f"GRANT {SESSIONS_GROUP} TO {q(role)}")
                settings = {
                    "default_transaction_read_only": "on",
                    "search_path": SCHEMA,
                    **audit_settings(url.database),
                }
                for setting, value in settings.items():
                    conn.exec_driver_sql(f"ALTER ROLE {q(role)} SET {setting} = '{value}'")
                if self.reader_url is not None:
                    wait_for_replay(conn, self.reader_url)
        finally:
            engine.dispose()
        with self.state.begin() as conn:
            conn.execute(pg_sessions.delete().where(pg_sessions.c.role == role))
            conn.execute(pg_sessions.insert().values(role=role, user=user, project=project))
        server = sa.engine.make_url(self.reader_url) if self.reader_url else url
        session_url = url.set(username=role, password=password, host=host, port=server.port or 5432)
        return SessionLogin(role, password, session_url.render_as_string(hide_password=False))

    def close(self, user: str) -> None:
        engine = _admin(self.admin_url)
        try:
            with engine.connect() as conn:
                role = session_role(engine.url.database, user)
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
                ).first()
                if not exists:
                    return
                q = conn.dialect.identifier_preparer.quote
                conn.exec_driver_sql(f"ALTER ROLE {q(role)} NOLOGIN PASSWORD NULL")
                _terminate(conn, role)
                if self.reader_url is None:
                    return
                wait_for_replay(conn, self.reader_url)  # then no new login can follow
            reader = _admin(self.reader_url)
            try:
                with reader.connect() as conn:
                    _terminate(conn, role)
            finally:
                reader.dispose()
        finally:
            engine.dispose()
