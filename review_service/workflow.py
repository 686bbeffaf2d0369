"""The review workflow: the rules applied over the storage, one change per transaction.

The web layer authenticates and parses; this module asks the rules (``rules.py``,
``permissions.py``, ``approvals.py``, ``states.py``, ``stewards.py``) what may happen and has
the storage (``data_access.py``) do it, every change with its audit event in the same
transaction. It holds no SQL. A change to a request locks its row first, so two simultaneous
final approvals cannot both see "in review": the second finds the request approved and is
refused, and exactly one package is built.
"""

import json
import logging
from dataclasses import dataclass

from enclave.audit.actions import AuditAction, AuditEvent
from enclave.review_service import approvals, permissions, rules, stewards
from enclave.review_service.data_access import Changes, ReviewData
from enclave.review_service.errors import BadSubmission, Conflict
from enclave.review_service.identity import Actor
from enclave.review_service.states import (
    AUDIT_ACTIONS,
    OPEN_FOR_DECISION,
    Action,
    RunState,
    Status,
)
from enclave.review_service.store import FrozenStore, StoreError, Upload

log = logging.getLogger(__name__)


@dataclass
class Submission:
    notebook: str
    project: str
    purpose: str
    summary: str = ""
    exception_note: str = ""
    resubmit: str | None = None  # the id of a request this replaces the file of
    release_use: str = ""  # internal | external
    recipients: tuple[str, ...] = ()  # member institutions that will use an internal release


def event(action: AuditAction, actor: str, row, details: dict) -> AuditEvent:
    return AuditEvent(action, actor, project=row.project, request=row.id, details=details)


class ReviewWorkflow:
    def __init__(
        self,
        engine,
        store: FrozenStore,
        settings,
        projects,
        gate,
        statement_log: str | None = None,
        query_log: str | None = None,
        mail=None,
        reexecute: bool = False,
    ):
        """``engine``: the state database; ``projects``: the hub's ProjectRegistry; ``gate``:
        an ``output_review.gate.Gate``; ``statement_log``: the standby's pgAudit log
        (``WarehouseSettings.audit_log``); ``query_log``: the SQLite query processes' log
        (``QueryProcess.log_file``); ``mail``: ``enclave.notify.Mail`` (None: no e-mail);
        ``reexecute``: queue a re-execution of every round of a SQLite project (the service
        runs them: ``reexecution.py``)."""
        self.reexecute = reexecute
        self.engine = engine
        self.data = ReviewData(engine, mail)
        self.audit = self.data.audit
        self.statement_log = statement_log
        self.query_log = query_log
        self.store = store
        self.settings = settings
        self.projects = projects
        self.gate = gate

    # -- reading ---------------------------------------------------------------------------
    def progress(self, request, decisions) -> approvals.Progress:
        return approvals.progress(request, decisions, self.settings.required_reviewer_approvals)

    def get(self, actor: Actor, request_id: str) -> dict:
        """A request with its decisions, the comments this user may read, and its progress."""
        row, decisions, comments, release = self.data.request_with_history(request_id)
        permissions.check_user_can_view(actor, row)
        return {
            "request": row,
            "decisions": decisions,
            "comments": [c for c in comments if permissions.user_can_read_comment(actor, row, c)],
            "progress": self.progress(row, decisions),
            "release": release,
            "waiting_for_me": rules.waits_for(actor, row, decisions),
        }

    def visible(
        self,
        actor: Actor,
        status: str | None = None,
        *,
        search: str = "",
        sort: str = "created",
        mine: bool = False,
    ) -> list[tuple]:
        """(request, waiting_for_me) for every request this user may see (``mine``: only
        their own), newest first unless ``sort`` says otherwise (``data_access.SORTS``)."""
        everyone = (actor.is_admin or actor.is_reviewer or actor.stewards) and not mine
        rows, decisions = self.data.queue(
            status=status,
            author=None if everyone else actor.name,
            search=search,
            sort=sort,
            keep=lambda row: permissions.user_can_view(actor, row),
            open_statuses=OPEN_FOR_DECISION,
        )
        return [(r, rules.waits_for(actor, r, decisions.get(r.id, []))) for r in rows]

    def waiting_count(self, actor: Actor) -> int:
        if not (actor.is_reviewer or actor.stewards):
            return 0
        return sum(waiting for _, waiting in self.visible(actor))

    def pending_releases(self) -> list[str]:
        """Approved requests without a package (e.g. the service stopped while building)."""
        return self.data.approved_request_ids()

    # -- submission ------------------------------------------------------------------------
    def submit(self, actor: Actor, upload: Upload, sub: Submission) -> dict:
        """Freeze the upload, run the gate on it, and open (or resubmit) a request.

        The upload is consumed: on any refusal its bytes are deleted and nothing is recorded.
        """
        created = False
        sha256 = None
        try:
            permissions.check_user_can_submit(actor)
            notebook = rules.check_notebook_path(sub.notebook)
            purpose = rules.check_text("purpose", sub.purpose, required=True)
            summary = rules.check_text("summary", sub.summary, required=False)
            exception_note = rules.check_text("exception_note", sub.exception_note, required=False)
            release_use, recipients = rules.check_release_use(
                sub.release_use, sub.recipients, self.settings.institutions
            )
            project = self._check_project(actor, sub.project)
            upload.finish()
            nb = self._read(upload, notebook)
            report = self.gate.screen(nb)
            rules.check_gate(report, notebook, exception_note)
            server_log_read = self._import_statement_log(actor.name)
            required, reasons = stewards.as_json(
                stewards.required_institutions(
                    nb=nb,
                    run_lineage=None,
                    query_events=self.data.query_events(actor.name, project.name),
                    project_institutions=lambda: project.institutions,
                    consortium=self.settings.consortium,
                    server_log_read=server_log_read,
                    release_use=release_use,
                    recipients=recipients,
                    ever_approved=lambda: project.scopes_ever_approved,
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
                release_use=release_use,
                recipients=json.dumps(recipients),
            )
            opened = {
                "notebook": notebook,
                "sha256": sha256,
                "size": upload.size,
                "institutions": json.loads(required),
                "exception_requested": bool(exception_note),
                "release_use": release_use,
                "recipients": recipients,
            }
            gate_result = {
                "sha256": sha256,
                "verdict": report.verdict,
                "findings": len(report.findings),
                "blocked": sum(f.severity == "block" for f in report.findings),
            }
            with self.data.transaction() as tx:
                if sub.resubmit is None:
                    round_, status = 1, Status.SUBMITTED
                    submitted = AuditEvent(
                        AuditAction.REQUEST_SUBMIT,
                        actor.name,
                        project=project.name,
                        details={**opened, "round": 1, "status": status.value},
                    )
                    request_id = tx.create_request(
                        {**values, "project": project.name, "author": actor.name}, submitted
                    )
                else:
                    row = tx.lock(sub.resubmit)
                    status = rules.check_resubmit(actor, row, project.name)
                    request_id, round_ = row.id, row.round + 1
                    details = {**opened, "round": round_, "status": status.value}
                    tx.move(
                        row,
                        status,
                        event(AUDIT_ACTIONS[Action.RESUBMIT], actor.name, row, details),
                        round=round_,
                        **values,
                    )
                tx.record(
                    AuditEvent(
                        AuditAction.GATE_RESULT,
                        actor.name,
                        project=project.name,
                        request=request_id,
                        details=gate_result,
                    )
                )
                self._tell_reviewers(tx, actor, request_id, project.name, round_, required)
                if self.reexecute and (project.warehouse_access or "").startswith("/"):
                    queued = AuditEvent(
                        AuditAction.REEXECUTION_QUEUE,
                        actor.name,
                        project=project.name,
                        details={"round": round_},
                    )
                    tx.queue_run(request_id, round_, queued)
        except BaseException:
            upload.abort()
            if created and not self.data.sha256_in_use(sha256):
                self.store.discard(sha256)
            raise
        return {
            "id": request_id,
            "round": round_,
            "sha256": sha256,
            "verdict": report.verdict,
            "findings": len(report.findings),
            "institutions": json.loads(required),
        }

    def _tell_reviewers(self, tx, actor: Actor, request_id, project, round_, required) -> None:
        """E-mail the reviewers, and the stewards of every institution whose sign-off the
        request needs, that it waits for them (never the requester)."""
        about = {"request": request_id, "project": project, "author": actor.name, "round": round_}
        tx.notify(
            "request.submitted",
            groups=[self.settings.consortium.reviewers_group],
            context=about,
            exclude=[actor.name],
        )
        for code in json.loads(required):
            tx.notify(
                "request.sign-off",
                groups=[self.settings.consortium.steward_group(code)],
                context={**about, "institution": code},
                exclude=[actor.name],
            )

    def _import_statement_log(self, user: str) -> bool:
        """Import the reads the warehouse recorded and the hub has not imported yet (it does so
        only when it polls): the SQLite query processes' log, and for a user who has had a
        PostgreSQL session the standby's pgAudit log; False when that fails (fail closed)."""
        from enclave.warehouse.query_log import import_queries
        from enclave.warehouse.statement_log import import_statements

        if self.query_log:
            try:
                import_queries(self.query_log, self.engine)
            except Exception as e:  # any failure asks every steward instead of fewer
                log.error("cannot import the query log: %s", type(e).__name__)
                return False
        try:
            if not self.data.had_postgres_session(user):
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

    def verify_frozen(self, row) -> None:
        try:
            self.store.verify(row.sha256)
        except StoreError as e:
            log.error("request %s: frozen copy failed verification", row.id)
            raise Conflict(f"request {row.id}: {e}") from None

    # -- decisions and comments --------------------------------------------------------------
    def decide(
        self,
        actor: Actor,
        request_id: str,
        decision: str,
        comment: str = "",
        outputs=(),
        without_reexecution: bool = False,
    ) -> str:
        """Record one reviewer's or steward's decision (with their word on single
        ``outputs``: dicts of cell, output, decision, comment); return the new status.
        ``without_reexecution``: the reviewer's exception for a run past its time limit."""
        comment = rules.check_decision(decision, comment)
        with self.data.transaction() as tx:
            row = tx.lock(request_id)
            permissions.check_user_can_decide(actor, row)
            if outputs:
                outputs = rules.check_output_decisions(decision, outputs, self.shape(row))
            decided = rules.decision_by(actor, row, decision)
            action, status = rules.decide(
                actor, row, tx.decisions(row.id), decided, self.settings.required_reviewer_approvals
            )
            if decision == "approve":
                self.verify_frozen(row)
                rules.check_run_allows_approval(tx.run(row.id, row.round), without_reexecution)
            details = {
                "decision": decision,
                "round": row.round,
                "sha256": row.sha256,
                "as_reviewer": decided["as_reviewer"],
                "institutions": decided["institutions"],
                "status": status.value,
            }
            if outputs:
                details["outputs"] = rules.summary_of_outputs(outputs)
            if decision == "approve" and without_reexecution:
                details["exception"] = rules.WITHOUT_REEXECUTION
            audit = event(AUDIT_ACTIONS[action], actor.name, row, details)
            tx.decide(row, decided, status, audit, outputs)
            if comment:
                self._comment(tx, actor, row, comment, "all")
            decision_made = {"round": row.round, "decision": decision, "status": status.value}
            tx.notify(
                "request.decided",
                users=[row.author],
                context={"request": row.id, "project": row.project, "by": actor.name}
                | decision_made,
                exclude=[actor.name],
            )
        return status.value

    def shape(self, row) -> list[int]:
        """How many outputs each cell of the request's frozen notebook has."""
        from enclave.output_review.gate import read_notebook

        self.verify_frozen(row)
        nb = read_notebook(self.store.path(row.sha256))
        return [len(cell.get("outputs", ())) for cell in nb.cells]

    def output_decisions(self, actor: Actor, request_id: str) -> list:
        """Every word on single outputs, every round (their comments are for the requester)."""
        permissions.check_user_can_view(actor, self.data.request(request_id))
        return self.data.output_decisions(request_id)

    def rounds(self, actor: Actor, request_id: str) -> list:
        """Every round's frozen file and gate result, first to last."""
        permissions.check_user_can_view(actor, self.data.request(request_id))
        return self.data.rounds(request_id)

    # -- notices to the requester ------------------------------------------------------------
    def notices(self, actor: Actor) -> list:
        """The requester's requests that changed (by someone else) since they last looked."""
        seen = self.data.seen(actor.name)
        return [r for r, _ in self.visible(actor, mine=True) if rules.needs_notice(actor, r, seen)]

    def mark_seen(self, actor: Actor, request_id: str) -> None:
        """The requester looked at the request: its notice is done (recorded once per change)."""
        row = self.data.request(request_id)
        if not rules.needs_notice(actor, row, self.data.seen(actor.name)):
            return
        with self.data.transaction() as tx:
            row = tx.lock(request_id)
            details = {"status": row.status, "round": row.round}
            tx.mark_seen(actor.name, row, event(AuditAction.REQUEST_SEEN, actor.name, row, details))

    def comment(self, actor: Actor, request_id: str, body: str, visibility: str = "all") -> None:
        body = rules.check_text("comment", body, required=True)
        with self.data.transaction() as tx:
            row = tx.lock(request_id)
            rules.check_comment(actor, row, visibility)
            self._comment(tx, actor, row, body, visibility)

    @staticmethod
    def _comment(tx, actor: Actor, row, body: str, visibility: str) -> None:
        audit = event(AuditAction.REQUEST_COMMENT, actor.name, row, {"visibility": visibility})
        tx.add_comment(row, actor.name, body, visibility, audit)

    def return_for_withdrawal(self, conn, project: str, institution: str, actor: str, why: str):
        """In the transaction of ``institution``'s withdrawal from ``project``: every open or
        approved request of the project that used its data goes back to its researcher (changes
        requested, with a comment saying why); returns their ids."""
        tx = Changes(conn, self.audit, self.data.mail)
        returned = []
        for row in tx.open_requests_of(project, rules.RETURNABLE):
            if not stewards.used_data_of(json.loads(row.institutions_source), institution):
                continue
            status = rules.move(row, Action.RETURN)
            details = {"round": row.round, "status": status.value, "institution": institution}
            tx.move(row, status, event(AUDIT_ACTIONS[Action.RETURN], actor, row, details))
            body = (
                f"{institution}'s approval of project {project} was withdrawn ({why}). This "
                "request used its data: run the notebook again on what the project may read "
                "now and resubmit, or withdraw the request."
            )
            audit = event(AuditAction.REQUEST_COMMENT, actor, row, {"visibility": "all"})
            tx.add_comment(row, actor, body, "all", audit)
            tx.notify(  # read as the steward asking for changes: the data is no longer there
                "request.decided",
                users=[row.author],
                context={"request": row.id, "project": project, "by": actor, "round": row.round}
                | {"decision": "request_changes", "status": status.value},
                exclude=[actor],
            )
            returned.append(row.id)
        return returned

    def withdraw(self, actor: Actor, request_id: str) -> str:
        with self.data.transaction() as tx:
            row = tx.lock(request_id)
            permissions.check_user_can_change_own(actor, row)
            status = rules.move(row, Action.WITHDRAW)
            details = {"round": row.round, "status": status.value}
            tx.move(row, status, event(AUDIT_ACTIONS[Action.WITHDRAW], actor.name, row, details))
        return status.value

    # -- release -----------------------------------------------------------------------------
    def release(self, request_id: str, builder) -> str | None:
        """Build the package of an approved request once; return its SHA-256.

        ``builder(request, progress) -> bytes`` renders the package from the frozen copy. It
        runs outside any transaction (it is slow); the claim that makes it *the* release is
        taken afterwards under the row lock, so a second builder's package is discarded.
        """
        row = self.data.request(request_id)
        if row.status != Status.APPROVED:
            return None
        self.verify_frozen(row)
        progress = self.progress(row, self.data.decisions(row.id))
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
        with self.data.transaction() as tx:
            row = tx.lock(request_id)
            existing = tx.release_sha256(row.id)
            if existing or row.status != Status.APPROVED:
                return existing  # another build won, or the request moved on
            status = rules.move(row, Action.RELEASE)
            package = {"sha256": sha256, "size": size, "approvers": progress.approvers}
            audit = event(
                AUDIT_ACTIONS[Action.RELEASE],
                "review-service",
                row,
                {**package, "status": status.value},
            )
            tx.add_release(row, package, status, audit)
            tx.notify(
                "request.released",
                users=[row.author],
                context={"request": row.id, "project": row.project},
            )
        return sha256

    def download(self, actor: Actor, request_id: str) -> tuple[str, str]:
        """Record the download and return (path of the package, file name to offer)."""
        with self.data.transaction() as tx:
            row = tx.lock(request_id)
            permissions.check_user_can_download(actor, row)
            sha256 = tx.release_sha256(row.id)
            try:
                self.store.verify(sha256)
            except StoreError as e:
                raise Conflict(f"request {row.id}: the release package: {e}") from None
            tx.record(event(AuditAction.RELEASE_DOWNLOAD, actor.name, row, {"sha256": sha256}))
        return str(self.store.path(sha256)), f"{row.id}-release.zip"

    # -- re-execution (the service's pool runs them: reexecution.py) ---------------------------
    def requeue_interrupted(self) -> int:
        """At start: runs the last service left running, or could not run, go back to the
        queue at their place; returns how many."""
        count = 0
        for run in self.data.runs_in(RunState.RUNNING, RunState.UNAVAILABLE):
            with self.data.transaction() as tx:
                row = tx.lock(run.request_id)
                run = tx.run(run.request_id, run.round)
                if run.state not in (RunState.RUNNING, RunState.UNAVAILABLE):
                    continue
                details = {"round": run.round, "attempts": run.attempts}
                audit = event(AuditAction.REEXECUTION_RESTART, SERVICE, row, details)
                tx.move_run(run, RunState.QUEUED, audit)
                count += 1
        return count

    def queue(self) -> list:
        """Queued runs, first first."""
        return self.data.runs_in(RunState.QUEUED)

    def claim_run(self):
        """The oldest queued run, now running (None when the queue is empty); with its
        request row. Runs of requests no longer open end at once, unrun."""
        for run in self.data.runs_in(RunState.QUEUED):
            with self.data.transaction() as tx:
                row = tx.lock(run.request_id)
                run = tx.run(run.request_id, run.round)
                if run.state != RunState.QUEUED:
                    continue  # another worker took it
                details = {"round": run.round, "attempt": run.attempts + 1}
                tx.move_run(run, RunState.RUNNING, event(REEXECUTION_START, SERVICE, row, details))
                return row, tx.run(run.request_id, run.round)
        return None

    def differs_from_submission(self, row, result) -> bool:
        from enclave.review_service import compare

        return bool(compare.compare(self._frozen(row), result.notebook)["differs"])

    def finish_run(self, row, run, result, versions: dict, second=None) -> str:
        """What the run found, applied: outputs compared with the submission's, the gate on
        the re-executed notebook, the stewards from its lineage; a failure (or a gate block
        the submission did not have an exception for) sends the request back to the
        researcher. Returns the run's new state."""
        from enclave.review_service import compare

        failure = result.failure
        state = rules.run_state(failure)
        outcome = {"seconds": round(result.seconds, 1), "versions": versions}
        sha256 = None
        required = None
        if failure is not None:
            outcome["failure"] = failure.to_dict()
        if result.notebook is not None and state == RunState.DONE:
            import nbformat

            submitted = self._frozen(row)
            compared = compare.compare(submitted, result.notebook)
            report = self.gate.screen(result.notebook, row.notebook, result.institutions)
            if second is not None:
                rules.not_reproducible(report, result.notebook, second)
            data = nbformat.writes(result.notebook).encode()
            sha256, _ = self.store.put_bytes(data)
            required = stewards.as_json(
                stewards.required_institutions(
                    nb=result.notebook,
                    run_lineage=result.institutions,
                    query_events=self.data.query_events(row.author, row.project),
                    project_institutions=lambda: self.projects.get(row.project).institutions,
                    consortium=self.settings.consortium,
                    server_log_read=self._import_statement_log(row.author),
                )
            )
            outcome.update(
                compared,
                gate=report.to_dict(),
                institutions=result.institutions,
                relations=result.relations,
                statements=len(result.records),
                submitted_sha256=row.sha256,
                reexecuted_sha256=sha256,
            )
        counts = compare.counts(outcome) if "marks" in outcome else {}
        with self.data.transaction() as tx:
            row = tx.lock(row.id)
            run = tx.run(run.request_id, run.round)
            if run.state != RunState.RUNNING:
                return run.state  # requeued meanwhile (a restart): that run decides
            details = {
                "round": run.round,
                "state": state.value,
                "seconds": outcome["seconds"],
                "marks": counts,
                "sha256": sha256,
                "institutions": result.institutions,
                "failure": outcome.get("failure", {}).get("kind"),
                "error": outcome.get("failure", {}).get("error"),
            }
            tx.move_run(
                run,
                state,
                event(AuditAction.REEXECUTION_FINISH, SERVICE, row, details),
                sha256=sha256,
                result=json.dumps(outcome),
            )
            current = row.round == run.round and row.status in OPEN_FOR_DECISION
            if not current:
                return state
            reason = rules.sent_back(failure, outcome.get("gate"), row.exception_note)
            if reason:
                status = rules.move(row, Action.REQUEST_CHANGES)
                moved = {"round": row.round, "status": status.value, "by": "re-execution"}
                changes = event(AUDIT_ACTIONS[Action.REQUEST_CHANGES], SERVICE, row, moved)
                tx.move(row, status, changes)
                audit = event(AuditAction.REQUEST_COMMENT, SERVICE, row, {"visibility": "all"})
                tx.add_comment(row, SERVICE, reason, "all", audit)
                decided = {"round": row.round, "decision": "request_changes", "status": status}
                tx.notify(
                    "request.decided",
                    users=[row.author],
                    context={"request": row.id, "project": row.project, "by": SERVICE} | decided,
                )
            elif required is not None and required[0] != row.institutions:
                details = {"round": row.round, "institutions": json.loads(required[0])}
                tx.set_stewards(
                    row, *required, event(AuditAction.REQUEST_STEWARDS, SERVICE, row, details)
                )
        return state

    def _frozen(self, row):
        from enclave.output_review.gate import read_notebook

        self.verify_frozen(row)
        return read_notebook(self.store.path(row.sha256))

    def run_of(self, row):
        """The current round's re-execution (None: not re-executed)."""
        return self.data.run(row.id, row.round)


SERVICE = "review-service"
REEXECUTION_START = AuditAction.REEXECUTION_START
