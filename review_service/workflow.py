"""Every change to a review request, each in one transaction with its audit event.

The web layer authenticates and parses; this module decides. A request row is locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` locks the database)
before its state is read, so two simultaneous final approvals cannot both see "in review":
the second finds the request approved and is refused, and exactly one package is built.
"""

import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from enclave.audit import AuditLog
from enclave.audit.actions import AuditAction
from enclave.review_service import approvals, permissions, stewards
from enclave.review_service.errors import BadSubmission, Conflict, GateBlocked, NotFound
from enclave.review_service.identity import Actor
from enclave.review_service.states import (
    AUDIT_ACTIONS,
    OPEN_FOR_DECISION,
    Action,
    InvalidTransition,
    Status,
    next_status,
)
from enclave.review_service.store import FrozenStore, StoreError, Upload
from enclave.tables import review_comments, review_decisions, review_releases, review_requests

log = logging.getLogger(__name__)

# a relative path of plain names ending in .ipynb: no '..', no leading '/', no hidden parts
NOTEBOOK_PATH = re.compile(r"(?:[\w][\w .-]{0,99}/){0,8}[\w][\w .-]{0,99}\.ipynb")
LIMITS = {"purpose": 4000, "summary": 8000, "exception_note": 8000, "comment": 10000}
DECISIONS = {
    "approve": Action.APPROVE,
    "request_changes": Action.REQUEST_CHANGES,
    "reject": Action.REJECT,
}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def check_notebook_path(name: str) -> str:
    if not name or not NOTEBOOK_PATH.fullmatch(name) or "/../" in f"/{name}/":
        raise BadSubmission(
            f"notebook: {name[:80]!r} is not an acceptable name; give a relative path of "
            "letters, digits, '_', '-', '.' and spaces ending in .ipynb (no '..', no leading "
            "'/', no hidden folders)."
        )
    return name


def check_text(field: str, value: str | None, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise BadSubmission(f"{field}: required; write a sentence for the reviewers.")
    if len(value) > LIMITS[field]:
        raise BadSubmission(f"{field}: longer than {LIMITS[field]} characters; shorten it.")
    return value


@dataclass
class Submission:
    notebook: str
    project: str
    purpose: str
    summary: str = ""
    exception_note: str = ""
    resubmit: str | None = None  # the id of a request this replaces the file of


class ReviewWorkflow:
    def __init__(
        self,
        engine: sa.Engine,
        store: FrozenStore,
        settings,
        projects,
        gate,
        statement_log: str | None = None,
    ):
        """``projects``: the hub's ProjectRegistry; ``gate``: an ``output_review.gate.Gate``;
        ``statement_log``: the standby's pgAudit log (``WarehouseSettings.audit_log``)."""
        self.engine = engine
        self.statement_log = statement_log
        self.store = store
        self.settings = settings
        self.projects = projects
        self.gate = gate
        self.audit = AuditLog(engine)

    # -- reading ---------------------------------------------------------------------------
    def _row(self, conn, request_id: str, *, lock: bool = False):
        query = sa.select(review_requests).where(review_requests.c.id == request_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise NotFound(f"request {request_id[:40]!r} does not exist.")
        return row

    def _decisions(self, conn, request_ids) -> dict[str, list]:
        by_request: dict[str, list] = {}
        query = sa.select(review_decisions).order_by(review_decisions.c.id)
        if request_ids is not None:
            query = query.where(review_decisions.c.request_id.in_(list(request_ids)))
        for d in conn.execute(query):
            by_request.setdefault(d.request_id, []).append(d)
        return by_request

    def progress(self, request, decisions) -> approvals.Progress:
        return approvals.progress(request, decisions, self.settings.required_reviewer_approvals)

    def get(self, actor: Actor, request_id: str) -> dict:
        """A request with its decisions, the comments this user may read, and its progress."""
        with self.engine.connect() as conn:
            row = self._row(conn, request_id)
            permissions.check_user_can_view(actor, row)
            decisions = self._decisions(conn, [row.id]).get(row.id, [])
            comments = conn.execute(
                sa.select(review_comments)
                .where(review_comments.c.request_id == row.id)
                .order_by(review_comments.c.id)
            ).all()
            release = conn.execute(
                sa.select(review_releases).where(review_releases.c.request_id == row.id)
            ).first()
        return {
            "request": row,
            "decisions": decisions,
            "comments": [c for c in comments if permissions.user_can_read_comment(actor, row, c)],
            "progress": self.progress(row, decisions),
            "release": release,
            "waiting_for_me": self._waits_for(actor, row, decisions),
        }

    def _waits_for(self, actor: Actor, row, decisions) -> bool:
        if row.status not in OPEN_FOR_DECISION or not permissions.user_can_decide(actor, row):
            return False
        return not any(d.user == actor.name and d.round == row.round for d in decisions)

    def visible(self, actor: Actor, status: str | None = None) -> list[tuple]:
        """(request, waiting_for_me) for every request this user may see, newest first."""
        query = sa.select(review_requests).order_by(review_requests.c.created.desc())
        if status:
            query = query.where(review_requests.c.status == status)
        if not (actor.is_admin or actor.is_reviewer or actor.stewards):
            query = query.where(review_requests.c.author == actor.name)
        with self.engine.connect() as conn:
            rows = [r for r in conn.execute(query) if permissions.user_can_view(actor, r)]
            open_ids = [r.id for r in rows if r.status in OPEN_FOR_DECISION]
            decisions = self._decisions(conn, open_ids) if open_ids else {}
        return [(r, self._waits_for(actor, r, decisions.get(r.id, []))) for r in rows]

    def waiting_count(self, actor: Actor) -> int:
        if not (actor.is_reviewer or actor.stewards):
            return 0
        return sum(waiting for _, waiting in self.visible(actor))

    # -- submission ------------------------------------------------------------------------
    def submit(self, actor: Actor, upload: Upload, sub: Submission) -> dict:
        """Freeze the upload, run the gate on it, and open (or resubmit) a request.

        The upload is consumed: on any refusal its bytes are deleted and nothing is recorded.
        """
        created = False
        sha256 = None
        try:
            permissions.check_user_can_submit(actor)
            notebook = check_notebook_path(sub.notebook)
            purpose = check_text("purpose", sub.purpose, required=True)
            summary = check_text("summary", sub.summary, required=False)
            exception_note = check_text("exception_note", sub.exception_note, required=False)
            project = self._check_project(actor, sub.project)
            upload.finish()
            nb = self._read(upload, notebook)
            report = self.gate.screen(nb)
            if report.verdict == "block" and not exception_note:
                blocked = sum(f.severity == "block" for f in report.findings)
                raise GateBlocked(
                    f"{notebook}: the gate blocked {blocked} output(s); fix them and submit "
                    "again, or submit with a written exception request for the reviewers."
                )
            server_log_read = self._import_statement_log(actor.name)
            required, reasons = stewards.as_json(
                stewards.required_institutions(
                    nb=nb,
                    notebook=notebook,
                    query_events=self.audit.events(
                        user=actor.name, project=project.name, action=AuditAction.WAREHOUSE_QUERY
                    ),
                    project_institutions=lambda: project.institutions,
                    institutions=self.settings.institutions,
                    server_log_read=server_log_read,
                )
            )
            if required == "[]":
                raise BadSubmission(
                    f"project {project.name!r}: no institution could be found whose stewards "
                    "must sign off; ask an administrator to check the project's approvals."
                )
            sha256, created = upload.commit()
            values = dict(
                notebook=notebook,
                sha256=sha256,
                size=upload.size,
                purpose=purpose,
                summary=summary,
                exception_note=exception_note,
                gate_verdict=report.verdict,
                gate_report=json.dumps(report.to_dict()),
                institutions=required,
                institutions_source=reasons,
                updated=now(),
            )
            with self.engine.begin() as conn:
                request_id, round_, status = self._open_or_resubmit(
                    conn, actor, project.name, sub, values
                )
                opened = AuditAction.REQUEST_SUBMIT if round_ == 1 else AuditAction.REQUEST_RESUBMIT
                events = {
                    opened: {
                        "status": status.value,
                        "notebook": notebook,
                        "sha256": sha256,
                        "size": upload.size,
                        "round": round_,
                        "institutions": json.loads(required),
                        "exception_requested": bool(exception_note),
                    },
                    AuditAction.GATE_RESULT: {
                        "sha256": sha256,
                        "verdict": report.verdict,
                        "findings": len(report.findings),
                        "blocked": sum(f.severity == "block" for f in report.findings),
                    },
                }
                for event, details in events.items():
                    self.audit.record(
                        conn,
                        actor=actor.name,
                        action=event,
                        project=project.name,
                        request=request_id,
                        details=details,
                    )
        except BaseException:
            upload.abort()
            if created:
                self._discard_unreferenced(sha256)
            raise
        return {
            "id": request_id,
            "round": round_,
            "sha256": sha256,
            "verdict": report.verdict,
            "findings": len(report.findings),
            "institutions": json.loads(required),
        }

    def _import_statement_log(self, user: str) -> bool:
        """Import the server's statements not yet imported (the hub does so only when it polls)
        for a user who has had a PostgreSQL session; False when that fails (fail closed)."""
        from enclave.tables import pg_sessions
        from enclave.warehouse.statement_log import import_statements

        try:
            with self.engine.connect() as conn:
                had_session = bool(
                    conn.execute(sa.select(pg_sessions).where(pg_sessions.c.user == user)).first()
                )
            if not had_session:
                return True  # never a PostgreSQL session: no server log to read
            if not self.statement_log:
                return False
            import_statements(self.statement_log, self.engine)
        except Exception as e:  # any failure asks every steward instead of fewer
            log.error("cannot import the PostgreSQL statement log: %s", type(e).__name__)
            return False
        return True

    def _check_project(self, actor: Actor, name: str):
        from enclave.projects import ProjectRefused

        try:
            return self.projects.check_user_can_use(actor.name, name)
        except ProjectRefused as e:
            raise permissions.PermissionDenied(str(e)) from None

    def _read(self, upload: Upload, notebook: str):
        from enclave.errors import EnclaveError
        from enclave.output_review.gate import read_notebook

        try:
            return read_notebook(upload.tmp_path)
        except EnclaveError as e:
            # the message names the temporary file: name the researcher's file instead
            raise BadSubmission(str(e).replace(str(upload.tmp_path), notebook)) from None

    def _open_or_resubmit(self, conn, actor: Actor, project: str, sub: Submission, values):
        if sub.resubmit is None:
            request_id = "r-" + secrets.token_hex(5)
            conn.execute(
                review_requests.insert().values(
                    id=request_id,
                    project=project,
                    author=actor.name,
                    status=Status.SUBMITTED,
                    round=1,
                    created=values["updated"],
                    **values,
                )
            )
            return request_id, 1, Status.SUBMITTED
        row = self._row(conn, sub.resubmit, lock=True)
        permissions.check_user_can_change_own(actor, row)
        if row.project != project:
            raise BadSubmission(
                f"project: {sub.resubmit} belongs to project {row.project!r}; resubmit it from "
                "a session of that project."
            )
        status = self._next(row, Action.RESUBMIT)
        conn.execute(
            review_requests.update()
            .where(review_requests.c.id == row.id)
            .values(status=status, round=row.round + 1, **values)
        )
        return row.id, row.round + 1, status

    def _discard_unreferenced(self, sha256: str | None) -> None:
        if sha256 is None:
            return
        with self.engine.connect() as conn:
            used = conn.execute(
                sa.select(sa.func.count()).where(review_requests.c.sha256 == sha256)
            ).scalar()
        if not used:
            self.store.discard(sha256)

    @staticmethod
    def _next(row, action: Action):
        try:
            return next_status(row.status, action)
        except InvalidTransition as e:
            raise Conflict(f"request {row.id}: {e}") from None

    # -- decisions and comments --------------------------------------------------------------
    def decide(self, actor: Actor, request_id: str, decision: str, comment: str = "") -> str:
        """Record one reviewer's or steward's decision; return the request's new status."""
        if decision not in DECISIONS:
            raise BadSubmission(
                f"decision: {decision[:40]!r} is not one of {', '.join(DECISIONS)}."
            )
        comment = check_text("comment", comment, required=decision != "approve")
        with self.engine.begin() as conn:
            row = self._row(conn, request_id, lock=True)
            permissions.check_user_can_decide(actor, row)
            decisions = self._decisions(conn, [row.id]).get(row.id, [])
            if any(d.user == actor.name and d.round == row.round for d in decisions):
                raise Conflict(f"request {row.id}: you have already decided in this round.")
            if decision == "approve":
                self.verify_frozen(row)
            institutions = sorted(permissions.involved_stewardships(actor, row))
            conn.execute(
                review_decisions.insert().values(
                    request_id=row.id,
                    round=row.round,
                    user=actor.name,
                    decision=decision,
                    as_reviewer=actor.is_reviewer,
                    institutions=json.dumps(institutions),
                    sha256=row.sha256,
                    time=now(),
                )
            )
            action = DECISIONS[decision]
            if action is Action.APPROVE:
                decisions = self._decisions(conn, [row.id])[row.id]
                if self.progress(row, decisions).complete:
                    action = Action.APPROVE_FINAL
            status = self._move(
                conn,
                row,
                action,
                actor.name,
                {
                    "decision": decision,
                    "round": row.round,
                    "sha256": row.sha256,
                    "as_reviewer": actor.is_reviewer,
                    "institutions": institutions,
                },
            )
            if comment:
                self._add_comment(conn, actor, row, comment, "all")
        return status.value

    def verify_frozen(self, row) -> None:
        try:
            self.store.verify(row.sha256)
        except StoreError as e:
            log.error("request %s: frozen copy failed verification", row.id)
            raise Conflict(f"request {row.id}: {e}") from None

    def comment(self, actor: Actor, request_id: str, body: str, visibility: str = "all") -> None:
        if visibility not in ("all", "reviewers"):
            raise BadSubmission("visibility: use 'all' or 'reviewers'.")
        body = check_text("comment", body, required=True)
        with self.engine.begin() as conn:
            row = self._row(conn, request_id, lock=True)
            permissions.check_user_can_comment(actor, row)
            if visibility == "reviewers" and actor.name == row.author:
                raise permissions.PermissionDenied(
                    "the requester's comments are visible to everyone on the request."
                )
            self._add_comment(conn, actor, row, body, visibility)

    def _add_comment(self, conn, actor: Actor, row, body: str, visibility: str) -> None:
        result = conn.execute(
            review_comments.insert().values(
                request_id=row.id, author=actor.name, body=body, visibility=visibility, time=now()
            )
        )
        self._record(
            conn,
            actor.name,
            AuditAction.REQUEST_COMMENT,
            row,
            {"comment": result.inserted_primary_key[0], "visibility": visibility},
        )

    def _record(self, conn, actor: str, event: AuditAction, row, details: dict) -> None:
        self.audit.record(
            conn, actor=actor, action=event, project=row.project, request=row.id, details=details
        )

    def _move(self, conn, row, action: Action, actor: str, details: dict) -> Status:
        """Apply ``action`` to the locked ``row``; record its event in the same transaction."""
        status = self._next(row, action)
        conn.execute(
            review_requests.update()
            .where(review_requests.c.id == row.id)
            .values(status=status, updated=now())
        )
        self._record(conn, actor, AUDIT_ACTIONS[action], row, {**details, "status": status.value})
        return status

    def withdraw(self, actor: Actor, request_id: str) -> str:
        with self.engine.begin() as conn:
            row = self._row(conn, request_id, lock=True)
            permissions.check_user_can_change_own(actor, row)
            status = self._move(conn, row, Action.WITHDRAW, actor.name, {"round": row.round})
        return status.value

    # -- release -----------------------------------------------------------------------------
    def release(self, request_id: str, builder) -> str | None:
        """Build the package of an approved request once; return its SHA-256.

        ``builder(request, progress) -> bytes`` renders the package from the frozen copy. It
        runs outside any transaction (it is slow); the claim that makes it *the* release is
        taken afterwards under the row lock, so a second builder's package is discarded.
        """
        with self.engine.connect() as conn:
            row = self._row(conn, request_id)
            decisions = self._decisions(conn, [row.id]).get(row.id, [])
        if row.status != "approved":
            return None
        self.verify_frozen(row)
        progress = self.progress(row, decisions)
        package = builder(row, progress)
        sha256, created = self.store.put_bytes(package)
        winner = None
        try:
            winner = self._claim_release(request_id, sha256, len(package), progress)
        finally:
            if created and winner != sha256:  # lost the race, or the claim rolled back
                self.store.discard(sha256)
        return winner

    def _claim_release(self, request_id: str, sha256: str, size: int, progress) -> str | None:
        """Make ``sha256`` the request's package under the row lock; return the package."""
        with self.engine.begin() as conn:
            row = self._row(conn, request_id, lock=True)
            existing = conn.execute(
                sa.select(review_releases.c.sha256).where(review_releases.c.request_id == row.id)
            ).scalar()
            if existing or row.status != "approved":
                return existing  # another build won, or the request moved on
            conn.execute(
                review_releases.insert().values(
                    request_id=row.id,
                    sha256=sha256,
                    size=size,
                    approvers=json.dumps(progress.approvers),
                    built=now(),
                )
            )
            self._move(
                conn,
                row,
                Action.RELEASE,
                "review-service",
                {"sha256": sha256, "size": size, "approvers": progress.approvers},
            )
        return sha256

    def pending_releases(self) -> list[str]:
        """Approved requests without a package (e.g. the service stopped while building)."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(review_requests.c.id).where(review_requests.c.status == "approved")
                ).scalars()
            )

    def download(self, actor: Actor, request_id: str) -> tuple[str, str]:
        """Record the download and return (path of the package, file name to offer)."""
        with self.engine.begin() as conn:
            row = self._row(conn, request_id, lock=True)
            permissions.check_user_can_download(actor, row)
            sha256 = conn.execute(
                sa.select(review_releases.c.sha256).where(review_releases.c.request_id == row.id)
            ).scalar_one()
            try:
                self.store.verify(sha256)
            except StoreError as e:
                raise Conflict(f"request {row.id}: the release package: {e}") from None
            self._record(conn, actor.name, AuditAction.RELEASE_DOWNLOAD, row, {"sha256": sha256})
        return str(self.store.path(sha256)), f"{row.id}-release.zip"

    # -- query lineage (from the kernel) -----------------------------------------------------
    def record_query(self, actor: Actor, record: dict) -> None:
        """Store a kernel's query record as a ``warehouse.query`` audit event."""
        if not isinstance(record, dict):
            raise BadSubmission("query record: expected a JSON object.")
        project = record.get("project")
        if not isinstance(project, str):
            raise BadSubmission("project: required (the session's ENCLAVE_PROJECT).")
        approved = self._check_project(actor, project).institutions
        notebook = record.get("notebook") or ""
        sql = record.get("sql")
        rows = record.get("rows")
        institutions = record.get("institutions")
        if not isinstance(notebook, str) or len(notebook) > 1000:
            raise BadSubmission("notebook: expected the notebook's path as text.")
        if not isinstance(sql, str) or not sql.strip() or len(sql) > 100_000:
            raise BadSubmission("sql: expected the query's SQL text (at most 100,000 chars).")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise BadSubmission("rows: expected the number of rows returned.")
        known = self.settings.institutions
        if not isinstance(institutions, list) or not all(i in known for i in institutions):
            raise BadSubmission(
                f"institutions: expected a list of institution codes among {', '.join(known)}."
            )
        outside = sorted(set(institutions) - set(approved))
        if outside:
            raise BadSubmission(
                f"institutions: {', '.join(outside)} not approved for project {project!r}; "
                "a session reads only its project's institutions."
            )
        self.audit.append(
            actor=actor.name,
            action=AuditAction.WAREHOUSE_QUERY,
            project=project,
            details={
                "notebook": notebook,
                "sql": sql,
                "rows": rows,
                "institutions": sorted(set(institutions)),
                "time": str(record.get("time", ""))[:40],
            },
        )
