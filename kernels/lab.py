"""JupyterLab submission: a server extension in the research session, and its Lab button.

The browser never talks to the review service: the "Submit for Output Review" command (a
prebuilt federated JupyterLab extension in ``labextensions/enclave-review``) posts the open
notebook's path and the researcher's context to ``/user/<name>/enclave/review/submit`` on the
session's own server, which submits the saved file with the session's hub token (the same
client as ``enclave review submit``). Enable it in the session's server config::

    c.ServerApp.jpserver_extensions = {"enclave.kernels.lab": True}
    c.LabApp.extra_labextensions_path = [str(enclave.kernels.lab.LABEXTENSIONS)]
"""

import os
from pathlib import Path

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop

from enclave.errors import EnclaveError
from enclave.kernels import submit

LABEXTENSIONS = Path(__file__).resolve().parent / "labextensions"


class SubmitFromLab(APIHandler):
    @web.authenticated
    async def post(self):
        body = self.get_json_body() or {}
        try:
            notebook = self.notebook_file(str(body.get("path") or ""))
            result = await IOLoop.current().run_in_executor(
                None,
                lambda: submit.submit(
                    notebook,
                    purpose=str(body.get("purpose") or ""),
                    summary=str(body.get("summary") or ""),
                    exception_note=str(body.get("exception_note") or ""),
                    resubmit=str(body.get("resubmit") or "").strip() or None,
                    environ={**os.environ, "ENCLAVE_NOTEBOOK_ROOT": str(self.root)},
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


def _jupyter_server_extension_points():
    return [{"module": "enclave.kernels.lab"}]


def _load_jupyter_server_extension(serverapp):
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(
        ".*$", [(url_path_join(base, "enclave/review/submit"), SubmitFromLab)]
    )
