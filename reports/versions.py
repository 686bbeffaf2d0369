"""A fingerprint of the warehouse data a run read, so batch re-runs notice a reload.

Loads replace the warehouse whole (SQLite: ``os.replace`` of the file, or a new project extract;
PostgreSQL: new or truncated tables), so the file's identity or the tables' storage ids change
with every load. It is a change detector, not a content hash: reading gigabytes to decide
whether to skip a run would cost more than the run.
"""

import hashlib

import sqlalchemy as sa

from enclave.warehouse.db import SCHEMA, connect_readonly, file_version, is_postgres, sqlite_path
from enclave.warehouse.query_protocol import socket_path


def warehouse_version(url: str) -> str:
    path = socket_path(url)
    if path is not None:  # the session's query process holds the extract: it says
        from enclave.kernels.client import QueryProcessBackend

        backend = QueryProcessBackend(path)
        try:
            return backend.version()
        finally:
            backend.close()
    if is_postgres(url):
        engine = connect_readonly(url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT c.relname, c.oid, c.relfilenode FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = :schema AND c.relkind = 'r' ORDER BY c.relname"
                    ),
                    {"schema": SCHEMA},
                ).all()
        finally:
            engine.dispose()
        identity = ";".join(f"{r.relname}:{r.oid}:{r.relfilenode}" for r in rows)
        return hashlib.sha256(identity.encode()).hexdigest()[:16]
    return file_version(sqlite_path(url).resolve())
