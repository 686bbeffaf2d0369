"""JupyterLab submission: a server extension in the research session, and its Lab button.

The browser never talks to the review service: the "Submit for Output Review" command (the
JupyterLab extension in ``labextensions/enclave-review``, built from ``labextension/`` at the
repository root with JupyterLab's extension toolchain: ``make labextension``) posts the open
notebook's path and the researcher's context (``LabSubmission``) to
``/user/<name>/enclave/review/submit`` on the session's own server, which submits the saved file
with the session's hub token (the same client as ``enclave review submit``). Enable it in the
session's server config::

    c.ServerApp.jpserver_extensions = {"enclave.kernels.lab": True}
    c.LabApp.extra_labextensions_path = [str(enclave.kernels.lab.LABEXTENSIONS)]
"""

import os
from pathlib import Path

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from pydantic import Field
from tornado import web
from tornado.ioloop import IOLoop

from enclave.bodies import Body, parse_body
from enclave.errors import EnclaveError
from enclave.kernels import submit
from enclave.session_env import NOTEBOOK_ROOT

LABEXTENSIONS = Path(__file__).resolve().parent / "labextensions"


class LabSubmission(Body):
    """What the Lab extension's dialog sends (``labextension/src/submit.ts``); the review
    service checks the texts' lengths and content."""

    path: str = Field(max_length=4096)
    purpose: str = Field("", max_length=submit.TEXT_LIMIT)
    release_use: str = Field("", max_length=16)
    recipients: list[str] = Field([], max_length=100)
    summary: str = Field("", max_length=submit.TEXT_LIMIT)
    exception_note: str = Field("", max_length=submit.TEXT_LIMIT)
    resubmit: str = Field("", max_length=100)


class SubmitFromLab(APIHandler):
    @web.authenticated
    async def post(self):
        try:
            body = parse_body(LabSubmission, self.request.body)
            notebook = self.notebook_file(body.path)
            result = await IOLoop.current().run_in_executor(
                None,
                lambda: submit.submit(
                    notebook,
                    purpose=body.purpose,
                    release_use=body.release_use,
                    recipients=body.recipients,
                    summary=body.summary,
                    exception_note=body.exception_note,
                    resubmit=body.resubmit.strip() or None,
                    environ={**os.environ, NOTEBOOK_ROOT: str(self.root)},
                ),
            )
        except EnclaveError as e:
            self.set_status(400)
            self.finish({"message": str(e)})
            return
        self.finish(result)

    @property
    def root(self) -> Path:
        return Path(self.contents_manager.root_dir).resolve()

    def notebook_file(self, path: str) -> Path:
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root) or target.suffix != ".ipynb":
            raise EnclaveError(f"path: {path[:80]!r} is not a notebook in this session.")
        if not target.is_file():
            raise EnclaveError(f"path: {path[:80]!r} does not exist; save the notebook first.")
        return target


class NoticesForLab(APIHandler):
    """The session user's requests that changed since they last opened them: Lab shows each
    once (``labextension/src/notices.ts``). What the review service says, reduced to what the
    notice shows."""

    @web.authenticated
    async def get(self):
        try:
            found = await IOLoop.current().run_in_executor(None, submit.notices)
        except EnclaveError as e:
            self.set_status(502)
            self.finish({"message": str(e)})
            return
        keep = ("id", "status", "round", "notebook", "project", "url")
        self.finish({"notices": [{k: n.get(k) for k in keep} for n in found]})


class MembersForLab(APIHandler):
    """The consortium's member institutions (code -> name), for the dialog's recipients: the
    hub's ``Consortium``, as the session's settings carry it (``ENCLAVE_SETTINGS``)."""

    @web.authenticated
    def get(self):
        from enclave.config import load_config
        from enclave.consortium import consortium

        self.finish(consortium(load_config()).names())


def _jupyter_server_extension_points():
    return [{"module": "enclave.kernels.lab"}]


def _load_jupyter_server_extension(serverapp):
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "enclave/review/submit"), SubmitFromLab),
            (url_path_join(base, "enclave/review/notices"), NoticesForLab),
            (url_path_join(base, "enclave/review/members"), MembersForLab),
        ],
    )
