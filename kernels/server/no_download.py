"""A jupyter-server extension that refuses every route a file could leave the session by.

Files leave the enclave only through the output review; the session server therefore answers
403 to raw file downloads (``/files/``, including ``?download=1``), the HTML viewer (``/view/``),
and nbconvert exports (``/nbconvert/``, ``/api/nbconvert``). Handlers added by an extension are
matched before the server's own, so these routes never reach the stock handlers.
"""

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

REFUSED_PREFIXES = ("files", "view", "nbconvert", "api/nbconvert")
MESSAGE = (
    "Downloads and exports are disabled in the enclave: submit outputs for review to release them."
)


class RefuseDownload(JupyterHandler):
    """Answer 403 to any method; logged without the path's query values."""

    def prepare(self):
        self.log.warning("refused a download/export route: %s", self.request.path)
        raise web.HTTPError(403, MESSAGE)


def _jupyter_server_extension_points():
    return [{"module": "enclave.kernels.server.no_download"}]


def _load_jupyter_server_extension(serverapp):
    base = serverapp.web_app.settings["base_url"]
    handlers = [
        (url_path_join(base, prefix) + r"(/.*)?", RefuseDownload) for prefix in REFUSED_PREFIXES
    ]
    serverapp.web_app.add_handlers(".*$", handlers)
