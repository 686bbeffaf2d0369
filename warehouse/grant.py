"""Give one research project read access to the approved institutions' rows, and nothing else.

PostgreSQL: a LOGIN role ``<database>_proj_<project>`` that owns nothing, may only SELECT the
warehouse tables, and sees only rows whose ``institution`` it was approved for (one row
policy per table and project; a role without a policy sees no rows). Its sessions also start
read-only, and PUBLIC may neither create temporary tables nor use any procedural language in
the warehouse database, so no session runs SQL the server log does not show (``DO`` blocks,
functions of its own). The warehouse itself belongs to the NOLOGIN role
``<database>_owner``, which no session should ever use (owners bypass row security). Grants are
recorded in the owner-only schema ``warehouse_admin`` so that each reload can re-apply them.

SQLite: a per-project extract file ``projects/<project>.sqlite`` beside the warehouse holding
only the approved institutions' rows, mode 0640 (the hub gives its group to the project's
researchers; rebuilding keeps owner and group). Grants are recorded in
``projects/grants.json`` and each reload rebuilds the extracts.
"""

import json
import os
import re
from pathlib import Path
from urllib.parse import quote

from psycopg import sql

from enclave.consortium import INSTITUTIONS
from enclave.errors import EnclaveError
from enclave.warehouse.db import SCHEMA, is_postgres, pg_connect, sqlite_path
from enclave.warehouse.schema import WAREHOUSE_TABLES
from enclave.warehouse.store_sqlite import ScratchDatabase, create_indexes, create_tables

ADMIN_SCHEMA = "warehouse_admin"
GRANTS_FILE = "grants.json"  # SQLite: the projects whose extracts each reload rebuilds
PROJECT_NAME = re.compile(r"[a-z][a-z0-9_]{0,29}")


def owner_role(dbname: str) -> str:
    return f"{dbname}_owner"


def project_role(dbname: str, project: str) -> str:
    return f"{dbname}_proj_{project}"


def check_request(project: str, institutions: list[str]) -> list[str]:
    if not PROJECT_NAME.fullmatch(project):
        raise EnclaveError(
            f"PROJECT: {project!r} is not a project name; use 1-30 lowercase letters, digits "
            "or '_', starting with a letter."
        )
    unknown = [i for i in institutions if i not in INSTITUTIONS]
    if unknown or not institutions:
        raise EnclaveError(
            f"--institutions: {'unknown code(s) ' + ', '.join(unknown) if unknown else 'none'}; "
            f"choose from {', '.join(INSTITUTIONS)}."
        )
    return sorted(set(institutions))


def grant_project(url: str, project: str, institutions: list[str]) -> str:
    """Grant ``project`` read access to ``institutions``' rows; return the role or extract path."""
    institutions = check_request(project, institutions)
    if is_postgres(url):
        return _grant_postgres(url, project, institutions)
    source = sqlite_path(url)
    if not source.is_file():
        raise EnclaveError(f"{source}: no warehouse here; run `enclave warehouse load` first.")
    target = _extract_sqlite(source, project, institutions)
    grants = _sqlite_grants(source)
    grants[project] = institutions
    registry = source.parent / "projects" / GRANTS_FILE
    tmp = registry.with_name(f".{GRANTS_FILE}.tmp")
    tmp.write_text(json.dumps(grants, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, registry)
    return str(target)


def _sqlite_grants(source: Path) -> dict:
    """project -> institutions, for the extracts made from the warehouse at ``source``."""
    registry = source.parent / "projects" / GRANTS_FILE
    return json.loads(registry.read_text()) if registry.is_file() else {}


def refresh_extracts(source: Path) -> None:
    """After a reload: rebuild every project's extract from the new warehouse."""
    for project, institutions in _sqlite_grants(source).items():
        _extract_sqlite(source, project, institutions)


def _extract_sqlite(source: Path, project: str, institutions: list[str]) -> Path:
    target = source.parent / "projects" / f"{project}.sqlite"
    marks = ", ".join("?" * len(institutions))
    scratch = ScratchDatabase(
        target, mode=0o640, attach=f"file:{quote(str(source.resolve()))}?mode=ro"
    )
    try:
        create_tables(scratch.conn)
        for name, columns in WAREHOUSE_TABLES.items():
            cols = ", ".join(c for c, _ in columns)
            scratch.conn.execute(
                f"INSERT INTO main.{name} SELECT {cols} FROM src.{name} "
                f"WHERE institution IN ({marks})",
                institutions,
            )
        create_indexes(scratch.conn)
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
    cur.execute(
        sql.SQL("ALTER TABLE {}.projects OWNER TO {}").format(
            sql.Identifier(ADMIN_SCHEMA), sql.Identifier(owner)
        )
    )
    return owner


def _apply(cur, role: str, institutions: list[str]) -> None:
    """As the owner: SELECT on every table and one row policy per table for ``role``."""
    who = sql.Identifier(role)
    cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), who))
    for name in WAREHOUSE_TABLES:
        table = sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(name))
        cur.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(table, who))
        cur.execute(sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(who, table))
        cur.execute(
            sql.SQL(
                "CREATE POLICY {} ON {} FOR SELECT TO {} USING (institution = ANY ({}))"
            ).format(who, table, who, sql.Literal(institutions))
        )


def reapply_all(cur) -> None:
    """After a reload replaced the tables: every registered project gets its access back."""
    cur.execute(
        sql.SQL("SELECT role, institutions FROM {}.projects ORDER BY project").format(
            sql.Identifier(ADMIN_SCHEMA)
        )
    )
    for role, institutions in cur.fetchall():
        _apply(cur, role, institutions)


def _grant_postgres(url: str, project: str, institutions: list[str]) -> str:
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
                "INSERT INTO {}.projects VALUES (%s, %s, %s) ON CONFLICT (project) "
                "DO UPDATE SET role = EXCLUDED.role, institutions = EXCLUDED.institutions"
            ).format(sql.Identifier(ADMIN_SCHEMA)),
            (project, role, institutions),
        )
        _apply(cur, role, institutions)
        conn.commit()
    return role
