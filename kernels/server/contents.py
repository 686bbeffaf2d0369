"""The session's contents manager: JupyterLab can open notebooks and small text files, and the
contents API hands out nothing else.

``/files/`` and the exports are refused by ``no_download``; the contents API
(``/api/contents/<path>?content=1``) must stay, because JupyterLab reads and saves notebooks and
text files through it. Left stock, it also returns any file in full (``format=base64``), which is
a download by another name. ``EnclaveContentsManager`` therefore answers 403 to a file's content
when it is asked for as base64, when the file is not UTF-8 text, or when it is larger than
``max_file_size`` (checked before and after the read). Only ``.ipynb`` files are served as
notebooks (of any size); any other path asked for as a notebook is refused. Errors never quote a
file's content. Directories and models without content are served as before, and copying a file
inside the session (which reads it through the same manager) still works.
"""

import contextvars
import os

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import Integer

REFUSED = (
    "Files are not handed out through the browser in the enclave: {what}. Work with the file in "
    "a notebook, and submit outputs for review to release them."
)
_copying = contextvars.ContextVar("copying", default=False)  # per request (tornado task)


class EnclaveContentsManager(AsyncLargeFileManager):
    max_file_size = Integer(
        128 * 1024,
        min=1,
        help="""Largest file (bytes) whose text the contents API returns, e.g. for JupyterLab's
        editor. Notebooks are not limited (JupyterLab must open them); binary files and base64
        content are always refused.""",
    ).tag(config=True)

    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        checked = content and not _copying.get()
        is_ipynb = path.endswith(".ipynb")
        notebook = is_ipynb and type in (None, "notebook")
        if checked and not notebook:
            if type == "notebook":  # any JSON of any size would come back whole as a "notebook"
                self._refuse("only .ipynb files open as notebooks")
            if format == "base64":
                self._refuse("binary (base64) content is refused")
            os_path = self._get_os_path(path.strip("/"))
            if os.path.isfile(os_path) and os.path.getsize(os_path) > self.max_file_size:
                self._refuse(f"files over {self.max_file_size} bytes are not opened here")
        try:
            model = await super().get(
                path, content=content, type=type, format=format, require_hash=require_hash
            )
        except web.HTTPError as e:  # jupyter_server's 400s quote the unreadable file's text
            if e.status_code != 400:
                raise
            raise web.HTTPError(400, f"{path} cannot be opened as a {type or 'file'}") from None
        if checked and not notebook:
            if model.get("format") == "base64":
                self._refuse("only text files are opened here")
            text = model.get("content")
            # the file may have grown between the size check and the read
            if isinstance(text, str) and len(text.encode()) > self.max_file_size:
                self._refuse(f"files over {self.max_file_size} bytes are not opened here")
        return model

    async def copy(self, from_path, to_path=None):
        """A copy stays in the session (its reply carries no content): no download checks."""
        token = _copying.set(True)
        try:
            return await super().copy(from_path, to_path)
        finally:
            _copying.reset(token)

    def _refuse(self, what: str):
        self.log.warning("refused a file's content through the contents API (%s)", what)
        raise web.HTTPError(403, REFUSED.format(what=what))
