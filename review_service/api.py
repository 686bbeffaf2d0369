"""REST API of the review service (``/services/review/api/...``), for sessions and scripts.

Sessions call it through the hub's proxy with ``Authorization: token $JUPYTERHUB_API_TOKEN``;
token-authenticated calls need no XSRF token. JSON bodies are pydantic models (``Body``):
anything else is refused with one line naming the field. A submission is one
``multipart/form-data`` request: a ``metadata`` part (JSON, ``SubmissionMetadata``: the
context, up to 20,000 characters of text) and the ``notebook`` part, streamed to disk while it
is hashed (python-multipart's streaming parser), so a large upload never sits in memory and an
oversized one is refused from its Content-Length.
"""

import json

from pydantic import Field
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from tornado import web
from tornado.ioloop import IOLoop

from enclave.bodies import Body, parse_body
from enclave.review_service.errors import BadSubmission, ReviewError, TooLarge
from enclave.review_service.handlers import BaseHandler
from enclave.review_service.rules import LIMITS, MAX_OUTPUT_DECISIONS
from enclave.review_service.workflow import Submission

METADATA_LIMIT = 128 * 1024  # bytes: 20,000 characters of UTF-8 text and their JSON escapes
BODY_SLACK = METADATA_LIMIT + 64 * 1024  # the metadata, headers and framing beside the notebook
DRAIN_LIMIT = 1024**3  # larger refused uploads are cut off (the client may then see a 503)


class SubmissionMetadata(Body):
    """The ``metadata`` part of ``POST api/submit``."""

    notebook: str = Field(max_length=1000)
    project: str = Field(max_length=100)
    purpose: str = Field("", max_length=LIMITS["purpose"])
    summary: str = Field("", max_length=LIMITS["summary"])
    exception_note: str = Field("", max_length=LIMITS["exception_note"])
    resubmit: str | None = Field(None, max_length=100)
    release_use: str = Field("", max_length=16)  # internal | external
    recipients: list[str] = Field([], max_length=100)


class OutputDecisionBody(Body):
    """A reviewer's or steward's word on one output (0-based cell and output, as the gate)."""

    cell: int = Field(ge=0)
    output: int = Field(ge=0)
    decision: str = Field(max_length=40)
    comment: str = Field("", max_length=LIMITS["comment"])


class DecisionBody(Body):
    decision: str = Field(max_length=40)
    comment: str = Field("", max_length=LIMITS["comment"])
    outputs: list[OutputDecisionBody] = Field([], max_length=MAX_OUTPUT_DECISIONS)
    # the reviewer's exception for a run past its time limit: "released without re-execution"
    without_reexecution: bool = False


class CommentBody(Body):
    body: str = Field(max_length=LIMITS["comment"])
    visibility: str = Field("all", max_length=40)


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

    def body_as(self, model: type[Body]):
        return parse_body(model, self.request.body, BadSubmission)

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


class SubmissionParts:
    """A submission's two parts as python-multipart's streaming parser finds them: the
    ``metadata`` part kept (at most ``METADATA_LIMIT`` bytes), the ``notebook`` part written to
    the upload as it arrives (at most ``limit`` bytes)."""

    NAMES = (b"metadata", b"notebook")

    def __init__(self, boundary: bytes, upload, limit: int):
        self.upload, self.limit = upload, limit
        self.metadata = bytearray()
        self.seen: list[bytes] = []
        self._header = [bytearray(), bytearray()]
        self._disposition = b""
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": lambda data, start, end: self._header[0].extend(data[start:end]),
                "on_header_value": lambda data, start, end: self._header[1].extend(data[start:end]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._data,
            },
        )

    def _begin(self):
        self._disposition = b""

    def _header_end(self):
        field, value = (bytes(b) for b in self._header)
        if field.strip().lower() == b"content-disposition":
            self._disposition = value
        self._header = [bytearray(), bytearray()]

    def _headers_finished(self):
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"")
        if name not in self.NAMES:
            raise BadSubmission(
                "request body: parts must be named 'metadata' (JSON) and 'notebook' (the "
                "file); enclave review submit sends them."
            )
        if name in self.seen:
            raise BadSubmission(f"{name.decode()}: sent twice; send each part once.")
        self.seen.append(name)

    def _data(self, data, start, end):
        chunk = data[start:end]
        if self.seen[-1] == b"metadata":
            self.metadata.extend(chunk)
            if len(self.metadata) > METADATA_LIMIT:
                raise TooLarge(f"metadata: larger than {METADATA_LIMIT:,} bytes; shorten it.")
            return
        self.upload.write(chunk)
        if self.upload.size > self.limit:
            raise TooLarge(
                f"the notebook is larger than the limit of {self.limit:,} bytes. Clear large "
                "outputs (images, long tables) and submit again."
            )

    def write(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except MultipartParseError:
            raise BadSubmission(NOT_MULTIPART) from None

    def finish(self) -> SubmissionMetadata:
        """The metadata, once the whole body was read; refuses a body missing a part."""
        try:
            self.parser.finalize()
        except MultipartParseError:
            raise BadSubmission(NOT_MULTIPART) from None
        for name in self.NAMES:
            if name not in self.seen:
                raise BadSubmission(f"{name.decode()}: required; send it as its own part.")
        return parse_body(SubmissionMetadata, bytes(self.metadata), BadSubmission)


NOT_MULTIPART = (
    "request body: not valid multipart/form-data; send a 'metadata' JSON part and the "
    "'notebook' part (enclave review submit does)."
)


def multipart_boundary(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise ReviewError(
            "Content-Type: send multipart/form-data with a 'metadata' JSON part and the "
            "'notebook' part (enclave review submit does).",
            status=415,
        )
    return boundary


@web.stream_request_body
class SubmitHandler(APIHandler):
    """``POST api/submit``: ``multipart/form-data`` with a ``metadata`` part (JSON,
    ``SubmissionMetadata``) and a ``notebook`` part (the .ipynb file).

    An oversized upload is refused from its Content-Length, before any byte is read; its body
    is then drained unread (up to ``DRAIN_LIMIT``) so that the answer reaches the client
    through the proxy: closing mid-upload makes the proxy answer 503 instead of our 413.
    """

    upload = None
    parts = None
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
        if int(length) > limit + BODY_SLACK:
            self.refusal = TooLarge(
                f"the upload is {int(length):,} bytes; the limit is {limit:,} bytes. "
                "Clear large outputs (images, long tables) and submit again."
            )
            if int(length) > DRAIN_LIMIT:
                raise self.refusal
            self.request.connection.set_max_body_size(int(length))
            return
        boundary = multipart_boundary(self.request.headers.get("Content-Type", ""))
        self.request.connection.set_max_body_size(limit + BODY_SLACK)
        self.upload = self.workflow.store.open_upload()
        self.parts = SubmissionParts(boundary, self.upload, limit)

    def data_received(self, chunk):
        if self.parts is None:
            return  # a refused upload: drained, never kept
        try:
            self.parts.write(chunk)
        except ReviewError as e:  # answered once the body is drained (see above)
            self.refusal, self.parts = e, None
            self.upload.abort()
            self.upload = None

    async def post(self):
        if self.refusal is not None:
            raise self.refusal
        metadata = self.parts.finish()
        upload, self.upload = self.upload, None
        submission = Submission(
            notebook=metadata.notebook,
            project=metadata.project,
            purpose=metadata.purpose,
            summary=metadata.summary,
            exception_note=metadata.exception_note,
            resubmit=metadata.resubmit or None,
            release_use=metadata.release_use,
            recipients=tuple(metadata.recipients),
        )
        result = await self.in_thread(self.workflow.submit, self.actor, upload, submission)
        self.write_json(result, status=201)
        IOLoop.current().add_callback(self.application.render_ahead, result["id"])

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
                "release_use": row.release_use,
                "recipients": json.loads(row.recipients) if row.recipients else [],
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
                "reexecution": self.application.reexecution_json(row),
            }
        )


class DecisionHandler(APIHandler):
    async def post(self, request_id):
        body = self.body_as(DecisionBody)
        outputs = [o.model_dump() for o in body.outputs]
        status = await self.in_thread(
            self.workflow.decide,
            self.actor,
            request_id,
            body.decision,
            body.comment,
            outputs,
            body.without_reexecution,
        )
        if status == "approved":
            status = await self.application.build_release(request_id) or status
        self.write_json({"id": request_id, "status": status})


class CommentHandler(APIHandler):
    def post(self, request_id):
        body = self.body_as(CommentBody)
        self.workflow.comment(self.actor, request_id, body.body, body.visibility)
        self.write_json({"id": request_id}, status=201)


class WithdrawHandler(APIHandler):
    def post(self, request_id):
        self.write_json(
            {"id": request_id, "status": self.workflow.withdraw(self.actor, request_id)}
        )


class WaitingHandler(APIHandler):
    def get(self):
        self.write_json({"waiting": self.workflow.waiting_count(self.actor)})


class NoticesHandler(APIHandler):
    """The caller's requests that changed since they last opened them (Lab and the hub home
    show these); each with the page to open."""

    def get(self):
        prefix = self.settings["review_prefix"]
        self.write_json(
            {
                "notices": [
                    {**request_summary(row, False), "url": f"{prefix}requests/{row.id}"}
                    for row in self.workflow.notices(self.actor)
                ]
            }
        )
