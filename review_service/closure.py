"""The review service's part of closing a project (``enclave.closure``): what was submitted and
never released.

Every request of the project that is not ``released`` goes: its rows (the request, its rounds,
decisions, comments, per-output decisions, notices, re-executions: every table that refers to a
request), every file of the store they name (each round's frozen copy, each re-executed
notebook) with its cached renderings, and what a re-execution in progress has in
``Reexecution.runs_dir``. A stored file some kept request still names (a released one, or
another project's with the same bytes: the store is content-addressed) stays. The rows go last,
so that a close killed before them finds the files again. Released requests, their packages and
the audit trail stay.
"""

import json
from pathlib import Path

import sqlalchemy as sa

from enclave.closure import ClosureContext, PathLocation, object_entry
from enclave.review_service.config import ReviewService
from enclave.review_service.reexecution import Reexecution
from enclave.review_service.states import Status
from enclave.tables import metadata, review_releases, review_requests


def _dependents() -> list[sa.Table]:
    """The tables whose rows belong to a request (a foreign key to ``review_requests``)."""
    return [
        table
        for table in metadata.sorted_tables
        if any(fk.column.table is review_requests for fk in table.foreign_keys)
    ]


def _request_key(table: sa.Table) -> sa.Column:
    return next(fk.parent for fk in table.foreign_keys if fk.column.table is review_requests)


def _shas(conn, requests) -> set[str]:
    """Every stored file the rows of ``requests`` name (a ``sha256`` column)."""
    if not requests:
        return set()
    found = set(
        conn.execute(
            sa.select(review_requests.c.sha256).where(review_requests.c.id.in_(requests))
        ).scalars()
    )
    for table in _dependents():
        if "sha256" in table.c:
            query = sa.select(table.c.sha256).where(_request_key(table).in_(requests))
            found |= set(conn.execute(query).scalars())
    return found - {None}


def locations(context: ClosureContext) -> list:
    engine, project = context.engine, context.project.name
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(review_requests.c.id, review_requests.c.status)
            .where(review_requests.c.project == project)
            .order_by(review_requests.c.id)
        ).all()
        destroyed = [r.id for r in rows if r.status != Status.RELEASED]
        kept = sa.select(review_requests.c.id).where(review_requests.c.id.not_in(destroyed))
        kept_ids = list(conn.execute(kept).scalars())
        shas = _shas(conn, destroyed) - _shas(conn, kept_ids)
        shas -= set(conn.execute(sa.select(review_releases.c.sha256)).scalars())
    found: list = []
    root = Path(ReviewService(config=context.config).store_dir)
    for sha in sorted(shas):
        found.append(PathLocation("submission", root / "objects" / sha))
        cache = root / "cache"
        if cache.is_dir():
            found.extend(
                PathLocation("submission rendering", path)
                for path in sorted(cache.glob(f"{sha}.*"))
            )
    runs = Path(Reexecution(config=context.config).runs_dir)
    if runs.is_dir():
        found.extend(
            PathLocation("re-execution run", path)
            for rid in destroyed
            for path in sorted(runs.glob(f"{rid}-*"))
        )
    return [*found, SubmissionRows(engine, project)]  # the rows last: they name the files


class SubmissionRows:
    """The state-database rows of the project's unreleased requests."""

    kind = "submission records"

    def __init__(self, engine: sa.Engine, project: str):
        self.engine, self.project = engine, project
        self.where = f"state database: review requests of {project}"

    def _unreleased(self, conn) -> list:
        return conn.execute(
            sa.select(review_requests)
            .where(
                review_requests.c.project == self.project,
                review_requests.c.status != Status.RELEASED.value,
            )
            .order_by(review_requests.c.id)
        ).all()

    def inventory(self) -> list[dict]:
        with self.engine.connect() as conn:
            entries = []
            for row in self._unreleased(conn):
                held = {"status": row.status, "sha256": row.sha256, "rounds": row.round}
                for table in _dependents():
                    count = sa.select(sa.func.count()).where(_request_key(table) == row.id)
                    held[table.name] = conn.execute(count).scalar()
                entries.append(object_entry(f"request {row.id}", json.loads(json.dumps(held))))
        return entries

    def destroy(self) -> None:
        with self.engine.begin() as conn:
            ids = [row.id for row in self._unreleased(conn)]
            if not ids:
                return
            for table in reversed(_dependents()):
                conn.execute(table.delete().where(_request_key(table).in_(ids)))
            conn.execute(review_requests.delete().where(review_requests.c.id.in_(ids)))
