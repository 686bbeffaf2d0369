"""HTML pages of the review service, in the hub's look (its Bootstrap stylesheet and logo).

- ``/`` the queue (reviewers, stewards, admins: search, status, sort, pages); a researcher
  without a review role lands on ``mine``;
- ``mine``: a researcher's requests: status, round, what is still needed and from whom,
  reviewers' comments; notices of changes since they last looked;
- ``steward``: a steward's requests, with the outputs that used or name their institution;
- ``requests/ID``: one request: project, purpose, findings (each linking to its output), what
  is still needed, the per-output decision form (confirmed on a page of its own before it is
  recorded), comments, rounds; the notebook rendered beside it at the page's full height;
- ``requests/ID/notebook`` (``?round=N``), ``requests/ID/changes?from=&to=``: renderings and
  what changed between rounds.

Templates live in ``templates/service/`` (Jinja, autoescaped: comments, purposes and names
are always shown as text). Forms post with the hub's ``_xsrf`` token; a post without it is
not authenticated and refused. The rendering of a notebook is served on its own URL under a
sandboxing Content-Security-Policy, so output HTML can never run script.
"""

import json
import math
from types import SimpleNamespace

import jinja2
from tornado import web
from tornado.ioloop import IOLoop

from enclave.review_service import permissions, views
from enclave.review_service.data_access import SORTS
from enclave.review_service.errors import BadSubmission, NotFound
from enclave.review_service.handlers import BaseHandler
from enclave.review_service.rules import DECISIONS
from enclave.review_service.states import OPEN_FOR_DECISION, TRANSITIONS, Action, Status
from enclave.templates import template_dir

TEMPLATES = template_dir("service")
PAGE_SIZE = 25
DECISION_LABELS = {
    "approve": "Approve",
    "request_changes": "Request changes",
    "reject": "Reject",
}


def make_jinja_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fromjson"] = json.loads
    env.globals["decision_labels"] = DECISION_LABELS
    return env


class PageHandler(BaseHandler):
    def render_page(self, name: str, **context):
        template = self.settings["review_jinja"].get_template(name)
        actor = self.actor
        self.finish(
            template.render(
                prefix=self.settings["review_prefix"],
                hub_prefix=self.hub_auth.hub_prefix,
                base_url=self.hub_auth.hub_prefix.rstrip("/").rpartition("/")[0] + "/",
                site=self.settings["review_site"],
                actor=actor,
                notices=self.workflow.notices(actor) if actor.can_submit else [],
                xsrf_token=self.xsrf_token.decode()
                if isinstance(self.xsrf_token, bytes)
                else self.xsrf_token,
                **context,
            )
        )

    def back_to(self, request_id: str):
        self.redirect(f"{self.settings['review_prefix']}requests/{request_id}")

    def project_of(self, name: str):
        return self.workflow.projects.get(name) if self.workflow.projects else None


def paged(rows: list, page: int) -> tuple[list, int, int]:
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(max(1, page), pages)
    return rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], page, pages


def int_argument(handler, name: str, default: int) -> int:
    value = handler.get_argument(name, "")
    return int(value) if value.isdigit() else default


class QueuePage(PageHandler):
    @web.authenticated
    def get(self):
        actor = self.actor
        if not (actor.is_reviewer or actor.stewards or actor.is_admin):
            self.redirect(f"{self.settings['review_prefix']}mine")
            return
        status = self.get_argument("status", None) or None
        search = self.get_argument("q", "")[:200]
        sort = self.get_argument("sort", "created")
        rows = self.workflow.visible(actor, status, search=search, sort=sort)
        shown, page, pages = paged(rows, int_argument(self, "page", 1))
        self.render_page(
            "queue.html",
            rows=shown,
            total=len(rows),
            page=page,
            pages=pages,
            waiting=sum(w for _, w in rows),
            status=status,
            search=search,
            sort=sort if sort in SORTS else "created",
            sorts=list(SORTS),
            statuses=[s.value for s in Status],
        )


class MyRequestsPage(PageHandler):
    @web.authenticated
    def get(self):
        actor = self.actor
        rows = [r for r, _ in self.workflow.visible(actor, mine=True)]
        shown, page, pages = paged(rows, int_argument(self, "page", 1))
        items = []
        for row in shown:
            info = self.workflow.get(actor, row.id)
            items.append(
                {
                    "r": row,
                    "needed": views.still_needed(row, info["progress"]),
                    "comments": [
                        c
                        for c in info["comments"]
                        if c.visibility == "all" and c.author != row.author
                    ][-3:],
                }
            )
        self.render_page("mine.html", items=items, page=page, pages=pages, total=len(rows))


class StewardPage(PageHandler):
    @web.authenticated
    async def get(self):
        actor = self.actor
        if not actor.stewards:
            raise web.HTTPError(403, "this page is for data stewards; your account is not one.")
        institutions = self.review_settings.institutions
        rows = self.workflow.visible(actor, sort=self.get_argument("sort", "created"))
        shown, page, pages = paged(rows, int_argument(self, "page", 1))
        items = []
        for row, waiting in shown:
            nb = await self.application.notebook(row)
            report = self.application.gate_report(row)
            mine = sorted(permissions.involved_stewardships(actor, row))
            items.append(
                {
                    "r": row,
                    "waiting": waiting,
                    "mine": mine,
                    "reasons": json.loads(row.institutions_source),
                    "outputs": {
                        code: views.steward_outputs(nb, report, code, institutions) for code in mine
                    },
                }
            )
        self.render_page(
            "steward.html",
            items=items,
            page=page,
            pages=pages,
            total=len(rows),
            institutions=institutions,
        )


def output_decisions_from_form(handler, items) -> list[dict]:
    """The per-output choices of the decision form (``out-CELL-OUTPUT``, ``note-CELL-OUTPUT``)."""
    chosen = []
    for item in items:
        key = f"{item.cell}-{item.output}"
        decision = handler.get_body_argument(f"out-{key}", "")
        if not decision:
            continue
        if decision not in DECISIONS:
            raise BadSubmission(f"{item.place} output {item.output + 1}: unknown decision.")
        comment = handler.get_body_argument(f"note-{key}", "").strip()
        chosen.append(
            {"cell": item.cell, "output": item.output, "decision": decision, "comment": comment}
        )
    return chosen


class RequestPage(PageHandler):
    @web.authenticated
    async def get(self, request_id):
        actor = self.actor
        info = self.workflow.get(actor, request_id)
        row = info["request"]
        if row.status == "approved":  # a build that failed earlier: try again (claims are safe)
            IOLoop.current().spawn_callback(self.application.build_release, row.id)
        if actor.name == row.author:
            self.workflow.mark_seen(actor, row.id)
        report = self.application.gate_report(row)
        can_decide = info["waiting_for_me"]
        outputs = views.outputs_of(await self.application.notebook(row), report)
        self.render_page(
            "request.html",
            r=row,
            info=info,
            gate=json.loads(row.gate_report),
            findings=[(f, views.finding_anchor(f)) for f in report.findings],
            reasons=json.loads(row.institutions_source),
            needed=views.still_needed(row, info["progress"]),
            project=self.project_of(row.project),
            outputs=outputs,
            output_decisions=self.workflow.output_decisions(actor, row.id),
            rounds=self.workflow.rounds(actor, row.id),
            can_decide=can_decide,
            can_withdraw=permissions.user_can_change_own(actor, row)
            and Action.WITHDRAW in TRANSITIONS[Status(row.status)],
            can_resubmit=permissions.user_can_change_own(actor, row)
            and Action.RESUBMIT in TRANSITIONS[Status(row.status)],
            can_download=permissions.user_can_download(actor, row),
            can_write_notes=actor.name != row.author,
            required_reviewers=self.review_settings.required_reviewer_approvals,
            open_for_decision=row.status in OPEN_FOR_DECISION,
            reexec=self.application.reexecution_view(row),
        )


SANDBOX_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "font-src data:; frame-ancestors 'self'"
)


class RenderedNotebook(PageHandler):
    """The reviewer's view of a round (the current one unless ``?round=N``): every output with
    its findings beside it (the gate's renderer)."""

    @web.authenticated
    async def get(self, request_id):
        row = self.workflow.get(self.actor, request_id)["request"]
        round_ = int_argument(self, "round", row.round)
        if round_ != row.round:
            row = self.round_row(row, round_)
        html = await self.application.render_for_review(row)
        # no script, no plugins, no network: the page can only show itself
        self.set_header("Content-Security-Policy", SANDBOX_CSP)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)

    def round_row(self, row, round_: int):
        """The request as it was in ``round_`` (its file and gate result)."""
        for r in self.workflow.rounds(self.actor, row.id):
            if r.round == round_:
                return SimpleNamespace(
                    id=row.id, round=r.round, sha256=r.sha256, gate_report=r.gate_report
                )
        raise NotFound(f"request {row.id} has no round {round_}.")


class RoundChanges(RenderedNotebook):
    """What changed in the outputs between two rounds (``?from=1&to=2``)."""

    @web.authenticated
    async def get(self, request_id):
        row = self.workflow.get(self.actor, request_id)["request"]
        new = int_argument(self, "to", row.round)
        old = int_argument(self, "from", new - 1)
        if old == new:
            raise BadSubmission("from and to name the same round; choose two rounds.")
        before = await self.application.notebook(self.round_row(row, old))
        after = await self.application.notebook(self.round_row(row, new))
        changes = views.round_changes(before, after)
        self.render_page(
            "changes.html",
            r=row,
            old=old,
            new=new,
            changes=changes,
            changed=[c for c in changes if c.change != "unchanged"],
        )


class DecisionForm(PageHandler):
    """A decision is shown back for confirmation first; only a confirmed one is recorded."""

    @web.authenticated
    async def post(self, request_id):
        actor = self.actor
        info = self.workflow.get(actor, request_id)
        row = info["request"]
        decision = self.get_body_argument("decision", "")
        if decision not in DECISIONS:
            raise BadSubmission(
                "decision: choose approve, request changes or reject for the request as a whole."
            )
        comment = self.get_body_argument("comment", "")
        items = views.outputs_of(
            await self.application.notebook(row), self.application.gate_report(row)
        )
        outputs = output_decisions_from_form(self, items)
        if self.get_body_argument("confirmed", "") != "yes":
            places = {(o.cell, o.output): o for o in items}
            self.render_page(
                "confirm.html",
                r=row,
                decision=decision,
                comment=comment,
                outputs=[(places[o["cell"], o["output"]], o) for o in outputs],
                progress=info["progress"],
            )
            return
        status = await IOLoop.current().run_in_executor(
            None, self.workflow.decide, actor, request_id, decision, comment, outputs
        )
        if status == "approved":
            await self.application.build_release(request_id)
        self.back_to(request_id)


class CommentForm(PageHandler):
    @web.authenticated
    def post(self, request_id):
        self.workflow.comment(
            self.actor,
            request_id,
            self.get_body_argument("body", ""),
            self.get_body_argument("visibility", "all"),
        )
        self.back_to(request_id)


class WithdrawForm(PageHandler):
    @web.authenticated
    def post(self, request_id):
        self.workflow.withdraw(self.actor, request_id)
        self.back_to(request_id)


class ReleaseDownload(PageHandler):
    """The only way a release leaves: to its requester (or an admin), recorded first."""

    @web.authenticated
    async def get(self, request_id):
        path, filename = self.workflow.download(self.actor, request_id)
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        with open(path, "rb") as f:
            while chunk := f.read(1024 * 1024):
                self.write(chunk)
                await self.flush()
        self.finish()
