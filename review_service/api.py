"""REST API of the review service (``/services/review/api/...``), for sessions and scripts.

Sessions call it through the hub's proxy with ``Authorization: token $JUPYTERHUB_API_TOKEN``;
token-authenticated calls need no XSRF token. A notebook is uploaded as the raw request body
(query arguments carry the context), streamed to disk while it is hashed, so a large upload
never sits in memory and an oversized one is refused from its Content-Length.
"""

import json

from tornado import web
from tornado.ioloop import IOLoop

from enclave.review_service.errors import BadSubmission, TooLarge
from enclave.review_service.handlers import BaseHandler
from enclave.review_service.workflow import Submission

BODY_SLACK = 64 * 1024  # headers and framing beyond the notebook itself
DRAIN_LIMIT = 1024**3  # larger refused uploads are cut off (the client may then see a 503)


def request_summary(row, waiting: bool) -> dict:
    return {
        "id": row.id,
        "project": row.project,
        "author": row.author,
        "notebook": row.notebook,
        "status": row.status,
        "round": row.round,
        "gate_verdict": row.gate_verdict,
        "institutions": json.loads(row.institutions),
        "created": row.created,
        "updated": row.updated,
        "waiting_for_me": waiting,
    }


class APIHandler(BaseHandler):
    is_api = True

    def get_login_url(self):
        raise web.HTTPError(403, "not authenticated: send 'Authorization: token <hub token>'.")

    def json_body(self) -> dict:
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise BadSubmission("request body: not valid JSON.") from None
        if not isinstance(body, dict):
            raise BadSubmission("request body: expected a JSON object.")
        return body

    def write_json(self, value, status: int = 200):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(value))

    async def in_thread(self, fn, *args):
        return await IOLoop.current().run_in_executor(None, fn, *args)


class RequestListHandler(APIHandler):
    def get(self):
        rows = self.workflow.visible(self.actor, self.get_argument("status", None))
        self.write_json({"requests": [request_summary(r, w) for r, w in rows]})


@web.stream_request_body
class SubmitHandler(APIHandler):
    """``POST api/submit?notebook=&project=&purpose=&summary=&exception_note=&resubmit=``.

    An oversized upload is refused from its Content-Length, before any byte is read; its body
    is then drained unread (up to ``DRAIN_LIMIT``) so that the answer reaches the client
    through the proxy: closing mid-upload makes the proxy answer 503 instead of our 413.
    """

    upload = None
    refusal = None

    def prepare(self):
        if self.request.method != "POST":
            return
        actor = self.actor  # refuse before reading a byte of the body
        from enclave.review_service.permissions import check_user_can_submit

        check_user_can_submit(actor)
        limit = self.review_settings.max_upload_bytes
        length = self.request.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise web.HTTPError(411, "Content-Length required: send the notebook as the body.")
        if int(length) > limit:
            self.refusal = TooLarge(
                f"the upload is {int(length):,} bytes; the limit is {limit:,} bytes. "
                "Clear large outputs (images, long tables) and submit again."
            )
            if int(length) > DRAIN_LIMIT:
                raise self.refusal
            self.request.connection.set_max_body_size(int(length))
            return
        self.request.connection.set_max_body_size(limit + BODY_SLACK)
        self.upload = self.workflow.store.open_upload()

    def data_received(self, chunk):
        if self.upload is None:
            return  # a refused upload: drained, never kept
        self.upload.write(chunk)
        if self.upload.size > self.review_settings.max_upload_bytes:
            self.upload.abort()
            raise TooLarge("the upload is larger than its Content-Length claimed; refused.")

    async def post(self):
        if self.refusal is not None:
            raise self.refusal
        upload, self.upload = self.upload, None
        submission = Submission(
            notebook=self.get_query_argument("notebook", ""),
            project=self.get_query_argument("project", ""),
            purpose=self.get_query_argument("purpose", ""),
            summary=self.get_query_argument("summary", ""),
            exception_note=self.get_query_argument("exception_note", ""),
            resubmit=self.get_query_argument("resubmit", None) or None,
        )
        result = await self.in_thread(self.workflow.submit, self.actor, upload, submission)
        self.write_json(result, status=201)

    def on_finish(self):
        if self.upload is not None:  # refused before post() took it
            self.upload.abort()

    def on_connection_close(self):
        if self.upload is not None:
            self.upload.abort()
            self.upload = None


class RequestHandler(APIHandler):
    def get(self, request_id):
        info = self.workflow.get(self.actor, request_id)
        row = info["request"]
        progress = info["progress"]
        self.write_json(
            {
                **request_summary(row, info["waiting_for_me"]),
                "purpose": row.purpose,
                "summary": row.summary,
                "exception_note": row.exception_note,
                "sha256": row.sha256,
                "gate": json.loads(row.gate_report),
                "institutions_source": json.loads(row.institutions_source),
                "decisions": [
                    {"user": d.user, "decision": d.decision, "round": d.round, "time": d.time}
                    for d in info["decisions"]
                ],
                "comments": [
                    {"author": c.author, "body": c.body, "visibility": c.visibility, "time": c.time}
                    for c in info["comments"]
                ],
                "progress": {
                    "reviewers": progress.reviewers,
                    "reviewers_needed": progress.reviewers_needed,
                    "stewards": progress.stewards,
                    "institutions_outstanding": progress.institutions_outstanding,
                },
                "release": info["release"].sha256 if info["release"] else None,
            }
        )


class DecisionHandler(APIHandler):
    async def post(self, request_id):
        body = self.json_body()
        status = self.workflow.decide(
            self.actor, request_id, str(body.get("decision", "")), str(body.get("comment", ""))
        )
        if status == "approved":
            status = await self.application.build_release(request_id) or status
        self.write_json({"id": request_id, "status": status})


class CommentHandler(APIHandler):
    def post(self, request_id):
        body = self.json_body()
        self.workflow.comment(
            self.actor,
            request_id,
            str(body.get("body", "")),
            str(body.get("visibility", "all")),
        )
        self.write_json({"id": request_id}, status=201)


class WithdrawHandler(APIHandler):
    def post(self, request_id):
        self.write_json(
            {"id": request_id, "status": self.workflow.withdraw(self.actor, request_id)}
        )


class QueryLogHandler(APIHandler):
    """The kernel's query lineage: one record per query, as a ``warehouse.query`` event."""

    def post(self):
        if len(self.request.body) > 256 * 1024:
            raise TooLarge("query record: larger than 256 KiB.")
        self.workflow.record_query(self.actor, self.json_body())
        self.write_json({"recorded": True}, status=201)


class WaitingHandler(APIHandler):
    def get(self):
        self.write_json({"waiting": self.workflow.waiting_count(self.actor)})
