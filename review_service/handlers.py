"""What every review-service handler shares: the hub login, the actor, and honest errors.

A ``ReviewError`` from the workflow becomes its HTTP status with the sentence it carries;
anything else is a 500 whose details go to the log only (never output values). Pages get the
message HTML-escaped, API clients get ``{"error": ...}``.
"""

import html
import json
import logging
import sys

from jupyterhub.services.auth import HubOAuthenticated
from tornado import web

from enclave.review_service.errors import ReviewError
from enclave.review_service.identity import Actor

log = logging.getLogger("enclave.review")


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    is_api = False

    @property
    def workflow(self):
        return self.settings["review_workflow"]

    @property
    def review_settings(self):
        return self.settings["review_settings"]

    @property
    def actor(self) -> Actor:
        model = self.current_user
        if model is None:
            raise web.HTTPError(
                403,
                "not signed in: open the review service through the hub (forms also need "
                "their _xsrf token).",
            )
        if model.get("kind", "user") != "user":
            raise web.HTTPError(403, "only hub users can use the review service.")
        return Actor.from_hub_model(model, self.review_settings.consortium.steward_groups())

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Cache-Control", "no-store")
        self.set_header(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "frame-ancestors 'self'; form-action 'self'",
        )

    def _handle_request_exception(self, e):
        if isinstance(e, ReviewError):
            log.info("%s %s refused: %s", self.request.method, self.request.path, e)
            if not self._finished:
                self.send_error(e.status, exc_info=sys.exc_info())
            return
        super()._handle_request_exception(e)

    def message_of(self, status_code, exc_info) -> str:
        error = exc_info[1] if exc_info else None
        if isinstance(error, ReviewError):
            return str(error)
        if isinstance(error, web.HTTPError) and error.log_message and status_code < 500:
            return error.log_message % error.args if error.args else error.log_message
        if status_code >= 500:
            return "the review service failed; nothing was changed. Tell an administrator."
        return self._reason

    def write_error(self, status_code, **kwargs):
        message = self.message_of(status_code, kwargs.get("exc_info"))
        if self.is_api:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"status": status_code, "error": message}))
        else:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(
                "<!doctype html><title>Review service</title>"
                f"<h1>{status_code} {html.escape(self._reason)}</h1>"
                f"<p class='error'>{html.escape(message)}</p>"
            )
