"""Storage of review requests: every read and write of their tables, and nothing else.

The rules (``rules.py``, ``permissions.py``, ``approvals.py``, ``states.py``) and the workflow
that applies them never touch SQL; this layer never decides. As in OpenSAFELY airlock's data
access layer, every call that changes something takes the ``AuditEvent`` recording it and
writes it in the same transaction: the change and its event commit together or not at all
(``tests/review_service/test_every_change_audited.py`` calls each one to check).

A change to an existing request runs in ``transaction()``: ``lock(id)`` locks its row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` locks the database)
before its state is read, so two simultaneous final approvals cannot both see "in review".
"""

import contextlib
import dataclasses
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy as sa

from enclave.audit import AuditLog
from enclave.audit.actions import AuditAction, AuditEvent
from enclave.notify import Mail
from enclave.review_service.errors import NotFound
from enclave.review_service.states import RunState, Status, run_move
from enclave.tables import (
    pg_sessions,
    review_comments,
    review_decisions,
    review_output_decisions,
    review_reexecutions,
    review_releases,
    review_requests,
    review_rounds,
    review_seen,
)

# the queue's sort keys (newest first unless said otherwise)
SORTS = {
    "created": review_requests.c.created.desc(),
    "updated": review_requests.c.updated.desc(),
    "oldest": review_requests.c.created.asc(),
    "project": review_requests.c.project.asc(),
    "status": review_requests.c.status.asc(),
    "author": review_requests.c.author.asc(),
}
ROUND_COLUMNS = ("sha256", "size", "gate_verdict", "gate_report", "institutions")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _decisions_by_request(conn, request_ids) -> dict[str, list]:
    by_request: dict[str, list] = {}
    query = (
        sa.select(review_decisions)
        .where(review_decisions.c.request_id.in_(list(request_ids)))
        .order_by(review_decisions.c.id)
    )
    for d in conn.execute(query):
        by_request.setdefault(d.request_id, []).append(d)
    return by_request


def _get(conn, request_id: str, *, lock: bool = False):
    query = sa.select(review_requests).where(review_requests.c.id == request_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"request {request_id[:40]!r} does not exist.")
    return row


class Changes:
    """One transaction on the state database: rows read under lock, and changes, each written
    with its audit event."""

    def __init__(self, conn: sa.Connection, audit: AuditLog, mail: Mail):
        self.conn = conn
        self._audit = audit
        self._mail = mail

    # -- reads inside the transaction ----------------------------------------------------------
    def lock(self, request_id: str):
        """The request's row, locked until the transaction ends (NotFound if none)."""
        return _get(self.conn, request_id, lock=True)

    def decisions(self, request_id: str) -> list:
        return _decisions_by_request(self.conn, [request_id]).get(request_id, [])

    def open_requests_of(self, project: str, statuses) -> list:
        """The project's requests in ``statuses``, each locked until the transaction ends."""
        query = (
            sa.select(review_requests)
            .where(
                review_requests.c.project == project,
                review_requests.c.status.in_([str(s) for s in statuses]),
            )
            .order_by(review_requests.c.id)
        )
        return list(self.conn.execute(query.with_for_update()))

    def release_sha256(self, request_id: str) -> str | None:
        return self.conn.execute(
            sa.select(review_releases.c.sha256).where(review_releases.c.request_id == request_id)
        ).scalar()

    # -- changes, each with its audit event ------------------------------------------------------
    def record(self, audit: AuditEvent) -> None:
        """An event that changes no row (a download, the gate's result)."""
        self._audit.record(self.conn, audit)

    def notify(self, kind: str, **recipients_and_context) -> int:
        """Queue e-mail about this transaction's change (``enclave.notify.Mail.notify``): it
        is sent only if the change commits."""
        return self._mail.notify(self.conn, kind, **recipients_and_context)

    def create_request(self, values: dict, audit: AuditEvent) -> str:
        """A new request (status submitted, round 1); ``audit`` gets its new id."""
        request_id = "r-" + secrets.token_hex(5)
        stamp = now()
        self.conn.execute(
            review_requests.insert().values(
                id=request_id,
                status=Status.SUBMITTED,
                round=1,
                created=stamp,
                updated=stamp,
                **values,
            )
        )
        self._add_round(request_id, 1, values, stamp)
        self._audit.record(self.conn, dataclasses.replace(audit, request=request_id))
        return request_id

    def _add_round(self, request_id: str, round_: int, values: dict, stamp: str) -> None:
        self.conn.execute(
            review_rounds.insert().values(
                request_id=request_id,
                round=round_,
                submitted=stamp,
                **{k: values[k] for k in ROUND_COLUMNS},
            )
        )

    def move(self, row, status: Status, audit: AuditEvent, **values) -> None:
        """Set the locked ``row``'s status (and ``values``: a resubmission's new round and
        file, which is kept as that round's)."""
        stamp = now()
        self.conn.execute(
            review_requests.update()
            .where(review_requests.c.id == row.id)
            .values(status=status, updated=stamp, **values)
        )
        if values.get("round", row.round) != row.round:
            self._add_round(row.id, values["round"], values, stamp)
        self._audit.record(self.conn, audit)

    def decide(self, row, decision: dict, status: Status, audit: AuditEvent, outputs=()) -> None:
        """One person's decision on the locked ``row`` in its round, and the status it leads
        to; ``outputs``: their word on single outputs (dicts of cell, output, decision,
        comment)."""
        stamp = now()
        self.conn.execute(
            review_decisions.insert().values(
                request_id=row.id,
                round=row.round,
                sha256=row.sha256,
                time=stamp,
                **{**decision, "institutions": json.dumps(decision["institutions"])},
            )
        )
        if outputs:
            self.conn.execute(
                review_output_decisions.insert(),
                [
                    {
                        "request_id": row.id,
                        "round": row.round,
                        "user": decision["user"],
                        "time": stamp,
                        **o,
                    }
                    for o in outputs
                ],
            )
        self.move(row, status, audit)

    def mark_seen(self, user: str, row, audit: AuditEvent) -> None:
        """``user`` (the requester) has seen ``row`` as it is now: its notice is done."""
        self.conn.execute(
            review_seen.delete().where(
                (review_seen.c.user == user) & (review_seen.c.request_id == row.id)
            )
        )
        self.conn.execute(
            review_seen.insert().values(
                user=user, request_id=row.id, status=row.status, round=row.round, time=now()
            )
        )
        self._audit.record(self.conn, audit)

    def add_comment(self, row, author: str, body: str, visibility: str, audit: AuditEvent) -> int:
        """A comment on ``row``; ``audit`` gets the comment's id in its details."""
        result = self.conn.execute(
            review_comments.insert().values(
                request_id=row.id, author=author, body=body, visibility=visibility, time=now()
            )
        )
        comment_id = result.inserted_primary_key[0]
        details = {**audit.details, "comment": comment_id}
        self._audit.record(self.conn, dataclasses.replace(audit, details=details))
        return comment_id

    def run(self, request_id: str, round_: int):
        """The re-execution of that round, locked with the request (None: not re-executed)."""
        return self.conn.execute(
            sa.select(review_reexecutions).where(
                (review_reexecutions.c.request_id == request_id)
                & (review_reexecutions.c.round == round_)
            )
        ).first()

    def queue_run(self, request_id: str, round_: int, audit: AuditEvent) -> None:
        """The round's re-execution, at the end of the queue."""
        self.conn.execute(
            review_reexecutions.insert().values(
                request_id=request_id,
                round=round_,
                state=RunState.QUEUED,
                queued=datetime.now(UTC).isoformat(timespec="microseconds"),  # queue order
                attempts=0,
                result="{}",
            )
        )
        self._audit.record(self.conn, dataclasses.replace(audit, request=request_id))

    def move_run(self, run, state: RunState, audit: AuditEvent, **values) -> None:
        """Move ``run`` (read under the request's lock) to ``state`` as ``states.RUN_TRANSITIONS``
        allows, with ``values`` (its result when it ends)."""
        action = run_move(run.state, state)
        if audit.action != action:
            raise ValueError(f"moving a run to {state} is {action}, not {audit.action}")
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")  # waits and runs timed
        if state == RunState.RUNNING:
            values = {"started": stamp, "attempts": run.attempts + 1, **values}
        elif state == RunState.QUEUED:
            values = {"started": None, **values}  # keeps its place: ``queued`` is unchanged
        else:
            values = {"finished": stamp, **values}
        self.conn.execute(
            review_reexecutions.update()
            .where(
                (review_reexecutions.c.request_id == run.request_id)
                & (review_reexecutions.c.round == run.round)
            )
            .values(state=state, **values)
        )
        self._audit.record(self.conn, audit)

    def set_stewards(self, row, institutions: str, reasons: str, audit: AuditEvent) -> None:
        """The locked ``row``'s required stewards, from its re-execution's lineage."""
        self.conn.execute(
            review_requests.update()
            .where(review_requests.c.id == row.id)
            .values(institutions=institutions, institutions_source=reasons, updated=now())
        )
        self.conn.execute(
            review_rounds.update()
            .where((review_rounds.c.request_id == row.id) & (review_rounds.c.round == row.round))
            .values(institutions=institutions)
        )
        self._audit.record(self.conn, audit)

    def add_release(self, row, package: dict, status: Status, audit: AuditEvent) -> None:
        """The package of the locked, approved ``row`` (one per request: the primary key)."""
        self.conn.execute(
            review_releases.insert().values(
                request_id=row.id,
                sha256=package["sha256"],
                size=package["size"],
                approvers=json.dumps(package["approvers"]),
                built=now(),
            )
        )
        self.move(row, status, audit)


class ReviewData:
    """Review requests in the enclave state database (``enclave.state.make_engine``)."""

    def __init__(self, engine: sa.Engine, mail: Mail | None = None):
        self.engine = engine
        self.audit = AuditLog(engine)
        self.mail = mail or Mail()  # off unless configured

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Changes]:
        with self.engine.begin() as conn:
            yield Changes(conn, self.audit, self.mail)

    def record(self, audit: AuditEvent) -> None:
        """An event of its own, in a transaction of its own (a kernel's query record)."""
        self.audit.append(audit)

    # -- reads -----------------------------------------------------------------------------------
    def request(self, request_id: str):
        with self.engine.connect() as conn:
            return _get(conn, request_id)

    def request_with_history(self, request_id: str) -> tuple:
        """(request, decisions, comments, release row or None), read together."""
        with self.engine.connect() as conn:
            row = _get(conn, request_id)
            decisions = _decisions_by_request(conn, [row.id]).get(row.id, [])
            comments = conn.execute(
                sa.select(review_comments)
                .where(review_comments.c.request_id == row.id)
                .order_by(review_comments.c.id)
            ).all()
            release = conn.execute(
                sa.select(review_releases).where(review_releases.c.request_id == row.id)
            ).first()
        return row, decisions, comments, release

    def decisions(self, request_id: str) -> list:
        with self.engine.connect() as conn:
            return _decisions_by_request(conn, [request_id]).get(request_id, [])

    def queue(
        self, *, status=None, author=None, search="", sort="created", keep, open_statuses
    ) -> tuple[list, dict]:
        """Requests (of ``author`` only, if given) that ``keep(row)`` accepts, with the
        decisions of those whose status is in ``open_statuses``: filtered by ``status`` and by
        ``search`` (words each found in the id, notebook, project or requester), in the order
        of ``sort`` (a key of ``SORTS``; newest first by default)."""
        query = sa.select(review_requests).order_by(SORTS.get(sort, SORTS["created"]))
        if status:
            query = query.where(review_requests.c.status == status)
        if author is not None:
            query = query.where(review_requests.c.author == author)
        for word in search.split()[:5]:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            like = f"%{escaped}%"
            query = query.where(
                sa.or_(
                    *(
                        column.ilike(like, escape="\\")
                        for column in (
                            review_requests.c.id,
                            review_requests.c.notebook,
                            review_requests.c.project,
                            review_requests.c.author,
                        )
                    )
                )
            )
        with self.engine.connect() as conn:
            rows = [r for r in conn.execute(query) if keep(r)]
            open_ids = [r.id for r in rows if r.status in open_statuses]
            decisions = _decisions_by_request(conn, open_ids) if open_ids else {}
        return rows, decisions

    def rounds(self, request_id: str) -> list:
        """Every round of the request, first to last."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(review_rounds)
                .where(review_rounds.c.request_id == request_id)
                .order_by(review_rounds.c.round)
            ).all()

    def output_decisions(self, request_id: str) -> list:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(review_output_decisions)
                .where(review_output_decisions.c.request_id == request_id)
                .order_by(review_output_decisions.c.id)
            ).all()

    def seen(self, user: str) -> dict[str, tuple[str, int]]:
        """request id -> (status, round) as ``user`` last saw it."""
        with self.engine.connect() as conn:
            return {
                r.request_id: (r.status, r.round)
                for r in conn.execute(sa.select(review_seen).where(review_seen.c.user == user))
            }

    def approved_request_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(review_requests.c.id).where(
                        review_requests.c.status == Status.APPROVED
                    )
                ).scalars()
            )

    def run(self, request_id: str, round_: int):
        with self.engine.connect() as conn:
            return Changes(conn, self.audit, self.mail).run(request_id, round_)

    def runs_in(self, *states: RunState) -> list:
        """Re-executions in ``states``, in queue order (oldest first)."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(review_reexecutions)
                .where(review_reexecutions.c.state.in_([str(s) for s in states]))
                .order_by(review_reexecutions.c.queued, review_reexecutions.c.request_id)
            ).all()

    def sha256_in_use(self, sha256: str) -> bool:
        with self.engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.select(sa.func.count()).where(review_requests.c.sha256 == sha256)
                ).scalar()
            )

    def had_postgres_session(self, user: str) -> bool:
        with self.engine.connect() as conn:
            query = sa.select(pg_sessions.c.role).where(pg_sessions.c.user == user)
            return conn.execute(query).first() is not None

    def query_events(self, user: str, project: str) -> list:
        """The trail's ``warehouse.query`` events of ``user`` in ``project`` (query lineage)."""
        return self.audit.events(user=user, project=project, action=AuditAction.WAREHOUSE_QUERY)
