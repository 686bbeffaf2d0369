"""The warehouse's part of closing a project (``enclave.closure``): its read access. And the
raw extracts a load has finished with.

SQLite: the project's extract ``projects/<project>.sqlite`` (with any journal beside it), the
scratch copies of it an interrupted rebuild left, and its entry in ``projects/grants.json`` (so
no reload rebuilds it). PostgreSQL: the project's login role, its row policies and grants, and
its row in ``warehouse_admin.projects`` (so no reload grants it again); the role's backends are
ended first. The warehouse itself, and the other projects' access, stay.
"""

import json
import os
from pathlib import Path

from psycopg import sql

from enclave.closure import ClosureContext, PathLocation, file_sha256, object_entry
from enclave.scratch import PREFIX, Scratch
from enclave.warehouse.db import WarehouseSettings, is_postgres, pg_connect, shown, sqlite_path
from enclave.warehouse.grant import ADMIN_SCHEMA, GRANTS_FILE, project_role


def locations(context: ClosureContext) -> list:
    url = WarehouseSettings(config=context.config).url
    project = context.project.name
    if is_postgres(url):
        return [ProjectRole(url, project)]
    folder = sqlite_path(url).parent / "projects"
    extract = f"{project}.sqlite"
    found = [GrantEntry(folder / GRANTS_FILE, project)]
    if folder.is_dir():
        for entry in sorted(os.listdir(folder)):
            if entry in (extract, *(f"{extract}-{s}" for s in ("journal", "wal", "shm"))):
                found.append(PathLocation("extract", folder / entry))
            elif entry.startswith(f"{PREFIX}{extract}-"):
                found.append(PathLocation("extract scratch", folder / entry))
    return found


class GrantEntry:
    """The project's line in the SQLite grants registry (``grants.json``)."""

    kind = "extract grant"

    def __init__(self, registry, project: str):
        self.registry, self.project = registry, project
        self.where = f"{registry} [{project}]"

    def _grants(self) -> dict:
        return json.loads(self.registry.read_text()) if self.registry.is_file() else {}

    def inventory(self) -> list[dict]:
        grants = self._grants()
        if self.project not in grants:
            return []
        return [object_entry(self.where, {"institutions": grants[self.project]})]

    def destroy(self) -> None:
        grants = self._grants()
        if grants.pop(self.project, None) is None:
            return
        with Scratch(self.registry.parent, GRANTS_FILE) as scratch:
            scratch.path.write_text(json.dumps(grants, indent=1, sort_keys=True) + "\n")
            scratch.replace(self.registry)


class ProjectRole:
    """The project's PostgreSQL role with its policies, grants and registry row."""

    kind = "database role"

    def __init__(self, url: str, project: str):
        self.url, self.project = url, project
        self.where = shown(url)

    def _found(self, cur) -> tuple[str, dict]:
        cur.execute("SELECT current_database()")
        role = project_role(cur.fetchone()[0], self.project)
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        exists = cur.fetchone() is not None
        cur.execute(
            "SELECT schemaname || '.' || tablename FROM pg_policies WHERE %s = ANY (roles) "
            "ORDER BY 1",
            (role,),
        )
        policies = [r[0] for r in cur.fetchall()]
        registered = []
        cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (ADMIN_SCHEMA,))
        if cur.fetchone():
            cur.execute(
                sql.SQL("SELECT institutions FROM {}.projects WHERE project = %s").format(
                    sql.Identifier(ADMIN_SCHEMA)
                ),
                (self.project,),
            )
            registered = [list(r[0]) for r in cur.fetchall()]
        held = {"role": exists, "policies": policies, "registered": registered}
        return role, held

    def inventory(self) -> list[dict]:
        with pg_connect(self.url) as conn, conn.cursor() as cur:
            role, held = self._found(cur)
        if not (held["role"] or held["policies"] or held["registered"]):
            return []
        return [object_entry(f"role {role}", held)]

    def destroy(self) -> None:
        with pg_connect(self.url) as conn, conn.cursor() as cur:
            role, held = self._found(cur)
            who = sql.Identifier(role)
            for table in held["policies"]:
                schema, name = table.split(".", 1)
                cur.execute(
                    sql.SQL("DROP POLICY IF EXISTS {} ON {}.{}").format(
                        who, sql.Identifier(schema), sql.Identifier(name)
                    )
                )
            if held["registered"]:
                cur.execute(
                    sql.SQL("DELETE FROM {}.projects WHERE project = %s").format(
                        sql.Identifier(ADMIN_SCHEMA)
                    ),
                    (self.project,),
                )
            if held["role"]:
                cur.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(who))
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                    (role,),
                )
                cur.execute(sql.SQL("DROP OWNED BY {}").format(who))  # every grant it holds
                cur.execute(sql.SQL("DROP ROLE {}").format(who))
            conn.commit()


def remove_raw_extracts(root: Path, extracts) -> list[dict]:
    """After a successful load: delete the raw files it read (each extract named in the
    manifest, and the manifest), which hold names, dates of birth and institutions' own ids.
    Returns each file with its size and SHA-256, for the audit trail. The quarantine report
    (rejected rows, for the institution to correct) stays."""
    removed = []
    for name in [*(ex.path for ex in extracts), "manifest.json"]:
        path = Path(root) / name
        if not path.is_file() or path.is_symlink():
            continue
        removed.append(
            {"name": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path)}
        )
        path.unlink()
        for folder in path.parents:  # the institutions' folders, once empty
            if folder == Path(root) or not folder.is_relative_to(root) or any(folder.iterdir()):
                break
            folder.rmdir()
    return removed
