"""HTML pages of the review service: the queue, a request, its rendering, and form posts.

Templates live in ``templates/service/`` (Jinja, autoescaped: comments, purposes and names
are always shown as text). Forms post with the hub's ``_xsrf`` token; a post without it is
not authenticated and refused. The reviewer's rendering of the notebook is served on its own
URL under a sandboxing Content-Security-Policy, so output HTML can never run script.
"""

import json

import jinja2
from tornado import web
from tornado.ioloop import IOLoop

from enclave.review_service import permissions
from enclave.review_service.handlers import BaseHandler
from enclave.review_service.states import TRANSITIONS, Action, Status
from enclave.templates import template_dir

TEMPLATES = template_dir("service")


def make_jinja_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


class PageHandler(BaseHandler):
    def render_page(self, name: str, **context):
        template = self.settings["review_jinja"].get_template(name)
        self.finish(
            template.render(
                prefix=self.settings["review_prefix"],
                hub_prefix=self.hub_auth.hub_prefix,
                actor=self.actor,
                xsrf_token=self.xsrf_token.decode()
                if isinstance(self.xsrf_token, bytes)
                else self.xsrf_token,
                **context,
            )
        )

    def back_to(self, request_id: str):
        self.redirect(f"{self.settings['review_prefix']}requests/{request_id}")


class QueuePage(PageHandler):
    @web.authenticated
    def get(self):
        status = self.get_argument("status", None) or None
        rows = self.workflow.visible(self.actor, status)
        self.render_page(
            "queue.html",
            rows=rows,
            waiting=sum(w for _, w in rows),
            status=status,
            statuses=[s.value for s in Status],
            institutions=json.loads,
        )


class RequestPage(PageHandler):
    @web.authenticated
    def get(self, request_id):
        actor = self.actor
        info = self.workflow.get(actor, request_id)
        row = info["request"]
        if row.status == "approved":  # a build that failed earlier: try again (claims are safe)
            IOLoop.current().spawn_callback(self.application.build_release, row.id)
        self.render_page(
            "request.html",
            r=row,
            info=info,
            gate=json.loads(row.gate_report),
            reasons=json.loads(row.institutions_source),
            can_decide=info["waiting_for_me"],
            can_withdraw=permissions.user_can_change_own(actor, row)
            and Action.WITHDRAW in TRANSITIONS[Status(row.status)],
            can_download=permissions.user_can_download(actor, row),
            can_write_notes=actor.name != row.author,
            required_reviewers=self.review_settings.required_reviewer_approvals,
        )


class RenderedNotebook(PageHandler):
    """The reviewer's view: every output with its findings beside it (the gate's renderer)."""

    @web.authenticated
    async def get(self, request_id):
        info = self.workflow.get(self.actor, request_id)
        html = await self.application.render_for_review(info["request"])
        # no script, no plugins, no network: the page can only show itself
        self.set_header(
            "Content-Security-Policy",
            "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            "font-src data:; frame-ancestors 'self'",
        )
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)


class DecisionForm(PageHandler):
    @web.authenticated
    async def post(self, request_id):
        status = self.workflow.decide(
            self.actor,
            request_id,
            self.get_body_argument("decision", ""),
            self.get_body_argument("comment", ""),
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
