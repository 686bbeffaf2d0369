"""Give one research project read access to the approved institutions' rows, and nothing else.

PostgreSQL: a LOGIN role ``<database>_proj_<project>`` that owns nothing, may only SELECT the
warehouse tables, and sees only rows whose ``institution`` it was approved for (one row
policy per table and project; a role without a policy sees no rows). Its sessions also start
read-only, and PUBLIC may neither create temporary tables, nor use any procedural language
(``DO`` blocks, functions of its own), nor call the built-ins through which one session sees or
signals another (advisory locks, ``pg_locks``, other backends' activity, notifications) in the
warehouse database. The NOLOGIN role ``<database>_auditor`` (pgAudit's ``pgaudit.role``, made by
the hub) holds SELECT on every table so that each read is logged with its relations; each load
grants it again. The warehouse itself belongs to the NOLOGIN role
``<database>_owner``, which no session should ever use (owners bypass row security). Grants are
recorded in the owner-only schema ``warehouse_admin`` so that each reload can re-apply them.

SQLite: a per-project extract file ``projects/<project>.sqlite`` beside the warehouse holding
only the approved institutions' rows, mode 0640 (the hub gives its group to the project's
researchers; rebuilding keeps owner and group). Grants are recorded in
``projects/grants.json`` and each reload rebuilds the extracts.

What is granted follows each institution's approved scope (``enclave.projects``: tables, and
optionally columns): a table's rows are those of the institutions that approved that table, and
its columns those every one of them approved (a column one owner withheld is withheld for the
table: deny by default), always with ``student_key`` and ``institution``, which linkage and
the row policies need. PostgreSQL grants those columns (column privileges; ``SELECT *`` on a
narrowed table is refused: name the columns); the SQLite extract holds only those tables and
columns. ``apply_access`` with no scope left revokes everything.
"""

import json
import re
from pathlib import Path
from urllib.parse import quote

from psycopg import sql
from psycopg.types.json import Jsonb

from enclave.consortium import Consortium, demo
from enclave.errors import EnclaveError
from enclave.scratch import Scratch
from enclave.warehouse.db import SCHEMA, is_postgres, pg_connect, sqlite_path
from enclave.warehouse.schema import WAREHOUSE_TABLES
from enclave.warehouse.store_sqlite import ScratchDatabase, create_indexes, create_tables

ADMIN_SCHEMA = "warehouse_admin"
# built-ins through which one session sees or signals another: advisory locks, the lock table,
# other backends' activity (``application_name`` can be set to anything), notifications
CROSS_SESSION_FUNCTIONS = r"""
SELECT p.oid::regprocedure::text FROM pg_proc p
WHERE p.pronamespace = 'pg_catalog'::regnamespace
  AND (p.proname ~ '^pg_(try_)?advisory_' OR p.proname ~ '^pg_stat_get_backend_'
       OR p.proname IN ('pg_stat_get_activity', 'pg_stat_get_progress_info', 'pg_lock_status',
                        'pg_blocking_pids', 'pg_safe_snapshot_blocking_pids', 'pg_notify',
                        'pg_listening_channels', 'pg_notification_queue_usage'))
ORDER BY 1
"""
GRANTS_FILE = "grants.json"  # SQLite: the projects whose extracts each reload rebuilds
PROJECT_NAME = re.compile(r"[a-z][a-z0-9_]{0,29}")


def owner_role(dbname: str) -> str:
    return f"{dbname}_owner"


def audit_role(dbname: str) -> str:
    """pgAudit's object-audit role (``pgaudit.role``): its SELECT grants name what is logged."""
    return f"{dbname}_auditor"


def project_role(dbname: str, project: str) -> str:
    return f"{dbname}_proj_{project}"


KEY_COLUMNS = ("student_key", "institution")  # always granted with a table


def catalog() -> dict[str, list[str]]:
    """Every warehouse table -> its columns (what a data-access request may name)."""
    return {name: [c for c, _ in columns] for name, columns in WAREHOUSE_TABLES.items()}


def effective_grant(scopes) -> dict[str, tuple[list[str], list[str]]]:
    """table -> (institutions whose rows, columns) for ``scopes`` (institution -> scope; a
    list of institutions means every table of each)."""
    from enclave.projects import ALL, expand

    if not isinstance(scopes, dict):
        scopes = dict.fromkeys(scopes, ALL)
    tables = catalog()
    grant = {}
    for table, columns in tables.items():
        approving = {i: expand(s, tables).get(table) for i, s in scopes.items()}
        approving = {i: cols for i, cols in approving.items() if cols is not None}
        if not approving:
            continue
        keep = set.intersection(*approving.values()) | (set(KEY_COLUMNS) & set(columns))
        grant[table] = (sorted(approving), [c for c in columns if c in keep])
    return grant


def check_project(project: str) -> str:
    if not PROJECT_NAME.fullmatch(project):
        raise EnclaveError(
            f"PROJECT: {project!r} is not a project name; use 1-30 lowercase letters, digits "
            "or '_', starting with a letter."
        )
    return project


def check_request(
    project: str, institutions: list[str], consortium: Consortium | None = None
) -> list[str]:
    check_project(project)
    if not institutions:
        raise EnclaveError("--institutions: none given; name the approved institutions.")
    (consortium or demo()).require(institutions, "--institutions")
    return sorted(set(institutions))


def grant_project(
    url: str, project: str, institutions, consortium: Consortium | None = None
) -> str:
    """Grant ``project`` read access to ``institutions``' rows (a list: every table of each;
    a dict: institution -> its approved scope), members of ``consortium`` (the deployment's;
    the demo's without one); return the role or extract path."""
    scopes = institutions if isinstance(institutions, dict) else None
    institutions = check_request(project, list(institutions), consortium)
    if scopes is None:
        scopes = dict.fromkeys(institutions, "*")
    if is_postgres(url):
        return _grant_postgres(url, project, scopes)
    source = sqlite_path(url)
    if not source.is_file():
        raise EnclaveError(f"{source}: no warehouse here; run `enclave warehouse load` first.")
    target = _extract_sqlite(source, project, scopes)
    _write_sqlite_grant(source, project, scopes)
    return str(target)


def apply_access(
    url: str, project: str, scopes: dict, consortium: Consortium | None = None
) -> str | None:
    """The project's access for ``scopes`` (institution -> approved scope, members of
    ``consortium``), built anew; with none left, every grant revoked (None)."""
    if scopes:
        return grant_project(url, project, scopes, consortium)
    check_project(project)
    if is_postgres(url):
        _revoke_postgres(url, project)
        return None
    source = sqlite_path(url)
    (source.parent / "projects" / f"{project}.sqlite").unlink(missing_ok=True)
    _write_sqlite_grant(source, project, None)
    return None


def _write_sqlite_grant(source: Path, project: str, scopes: dict | None) -> None:
    grants = _sqlite_grants(source)
    if scopes is None:
        grants.pop(project, None)
    else:
        grants[project] = scopes
    registry = source.parent / "projects" / GRANTS_FILE
    registry.parent.mkdir(parents=True, exist_ok=True)
    with Scratch(registry.parent, GRANTS_FILE) as scratch:
        scratch.path.write_text(json.dumps(grants, indent=1, sort_keys=True) + "\n")
        scratch.replace(registry)


def _sqlite_grants(source: Path) -> dict:
    """project -> scopes (or, as written before scopes, institutions), for the extracts made
    from the warehouse at ``source``."""
    registry = source.parent / "projects" / GRANTS_FILE
    return json.loads(registry.read_text()) if registry.is_file() else {}


def refresh_extracts(source: Path) -> None:
    """After a reload: rebuild every project's extract from the new warehouse."""
    for project, institutions in _sqlite_grants(source).items():
        _extract_sqlite(source, project, institutions)


def _extract_sqlite(source: Path, project: str, scopes) -> Path:
    """The extract: only the granted tables, columns and rows (``effective_grant``)."""
    target = source.parent / "projects" / f"{project}.sqlite"
    scratch = ScratchDatabase(
        target, mode=0o640, attach=f"file:{quote(str(source.resolve()))}?mode=ro"
    )
    try:
        grant = effective_grant(scopes)
        create_tables(scratch.conn, {t: cols for t, (_, cols) in grant.items()})
        for name, (institutions, columns) in grant.items():
            cols = ", ".join(columns)
            marks = ", ".join("?" * len(institutions))
            scratch.conn.execute(
                f"INSERT INTO main.{name} SELECT {cols} FROM src.{name} "
                f"WHERE institution IN ({marks})",
                institutions,
            )
        create_indexes(scratch.conn, tuple(grant))
        scratch.commit()
    except BaseException:
        scratch.discard()
        raise
    return target


def prepare_owner(cur, dbname: str) -> str:
    """Create the NOLOGIN owner role if needed and let it create schemas; return its name."""
    owner = owner_role(dbname)
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,))
    if cur.fetchone() is None:
        cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(owner)))
    db = sql.Identifier(dbname)
    cur.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(db, sql.Identifier(owner)))
    # only the project roles it grants may connect: no other database's sessions
    cur.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(db))
    # project roles must not create even temporary tables in the warehouse database
    cur.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(db))
    # nor run SQL that the statement log never shows (the steward rule reads that log): no
    # anonymous code blocks (DO) and no functions of their own, in any trusted language, and
    # no schema to create them in (PostgreSQL 15 already keeps PUBLIC out of schema public;
    # a database made from an older template may not)
    cur.execute("SELECT lanname FROM pg_language WHERE lanpltrusted ORDER BY lanname")
    for (language,) in cur.fetchall():
        cur.execute(
            sql.SQL("REVOKE USAGE ON LANGUAGE {} FROM PUBLIC").format(sql.Identifier(language))
        )
    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'public'")
    if cur.fetchone():
        cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    # nor pass anything to another project's session through the server's shared state
    cur.execute(CROSS_SESSION_FUNCTIONS)
    for (function,) in cur.fetchall():
        cur.execute(sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC").format(sql.SQL(function)))
    cur.execute(
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
            sql.Identifier(ADMIN_SCHEMA), sql.Identifier(owner)
        )
    )
    cur.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.projects (project text PRIMARY KEY, role text NOT NULL, "
            "institutions text[] NOT NULL)"
        ).format(sql.Identifier(ADMIN_SCHEMA))
    )
    # each institution's approved scope (grants from before scopes: NULL, every table)
    cur.execute(
        sql.SQL("ALTER TABLE {}.projects ADD COLUMN IF NOT EXISTS scopes jsonb").format(
            sql.Identifier(ADMIN_SCHEMA)
        )
    )
    cur.execute(
        sql.SQL("ALTER TABLE {}.projects OWNER TO {}").format(
            sql.Identifier(ADMIN_SCHEMA), sql.Identifier(owner)
        )
    )
    return owner


def _apply(cur, role: str, scopes) -> None:
    """As the owner: for ``role``, SELECT on the granted columns of each granted table and one
    row policy per table; nothing on the others (what was granted before is revoked first)."""
    who = sql.Identifier(role)
    grant = effective_grant(scopes)
    cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), who))
    for name, all_columns in catalog().items():
        table = sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(name))
        # revoking the table's privilege revokes its column privileges too
        cur.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(table, who))
        cur.execute(sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(who, table))
        if name not in grant:
            continue
        institutions, columns = grant[name]
        if columns == all_columns:
            cur.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(table, who))
        else:
            cur.execute(
                sql.SQL("GRANT SELECT ({}) ON {} TO {}").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)), table, who
                )
            )
        cur.execute(
            sql.SQL(
                "CREATE POLICY {} ON {} FOR SELECT TO {} USING (institution = ANY ({}))"
            ).format(who, table, who, sql.Literal(institutions))
        )


def prepare_audit_role(cur, dbname: str) -> str:
    """Create the NOLOGIN audit role if needed and give it SELECT on every warehouse table, so
    that pgAudit logs an OBJECT record for each one a session reads. Returns its name."""
    role = audit_role(dbname)
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    if cur.fetchone() is None:
        cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    _grant_audit_role(cur, role)
    return role


def _grant_audit_role(cur, role: str) -> None:
    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,))
    if cur.fetchone() is None:
        return  # nothing loaded yet: the load grants it
    cur.execute(
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
            sql.Identifier(SCHEMA), sql.Identifier(role)
        )
    )


def reapply_all(cur) -> None:
    """After a reload replaced the tables: every registered project gets its access back, and
    the audit role (if the hub has made one) its SELECT grants."""
    cur.execute("SELECT current_database()")
    auditor = audit_role(cur.fetchone()[0])
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (auditor,))
    if cur.fetchone():
        _grant_audit_role(cur, auditor)
    cur.execute(
        sql.SQL("SELECT role, institutions, scopes FROM {}.projects ORDER BY project").format(
            sql.Identifier(ADMIN_SCHEMA)
        )
    )
    for role, institutions, scopes in cur.fetchall():
        _apply(cur, role, scopes or institutions)


def _grant_postgres(url: str, project: str, scopes: dict) -> str:
    with pg_connect(url) as conn, conn.cursor() as cur:
        dbname = conn.info.dbname
        cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,))
        if cur.fetchone() is None:
            raise EnclaveError(
                f"{dbname}: no warehouse schema; run `enclave warehouse load` first."
            )
        owner = prepare_owner(cur, dbname)
        role = project_role(dbname, project)
        who = sql.Identifier(role)
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        verb = "ALTER" if cur.fetchone() else "CREATE"
        cur.execute(
            sql.SQL(
                verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION "
                "NOBYPASSRLS"
            ).format(who)
        )
        cur.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(who))
        cur.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(dbname), who)
        )
        cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(owner)))
        cur.execute(
            sql.SQL(
                "INSERT INTO {}.projects (project, role, institutions, scopes) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (project) DO UPDATE SET role = EXCLUDED.role, "
                "institutions = EXCLUDED.institutions, scopes = EXCLUDED.scopes"
            ).format(sql.Identifier(ADMIN_SCHEMA)),
            (project, role, sorted(scopes), Jsonb(scopes)),
        )
        _apply(cur, role, scopes)
        conn.commit()
    return role


def _revoke_postgres(url: str, project: str) -> None:
    """No approval left: the role keeps nothing (no table, no row, no login)."""
    with pg_connect(url) as conn, conn.cursor() as cur:
        dbname = conn.info.dbname
        role = project_role(dbname, project)
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if cur.fetchone() is None:
            return
        cur.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(role)))
        cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (ADMIN_SCHEMA,))
        if cur.fetchone():
            cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(owner_role(dbname))))
            cur.execute(
                sql.SQL("DELETE FROM {}.projects WHERE project = %s").format(
                    sql.Identifier(ADMIN_SCHEMA)
                ),
                (project,),
            )
            _apply(cur, role, {})
        conn.commit()
