"""Submitting from a research session: the notebook goes to the review service via the hub.

The session knows the service only through the hub's proxy (``$ENCLAVE_REVIEW_URL``, set by
the spawner) and authenticates with the session's own ``$JUPYTERHUB_API_TOKEN``. One
``multipart/form-data`` request carries the submission: a ``metadata`` part (JSON: the
notebook's name, the project, purpose, summary, exception note, the request it replaces) and
the ``notebook`` part, streamed from the file, never loaded whole. Standard library only: the
session venv carries no HTTP client.
"""

import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from enclave.config import load_config
from enclave.errors import EnclaveError
from enclave.files import FileLimits, open_regular
from enclave.session_env import HUB_TOKEN, NOTEBOOK_ROOT, PROJECT, REVIEW_URL

TIMEOUT_SECONDS = 600  # the gate runs before the answer comes back
NOTICES_TIMEOUT = 10  # seconds: Lab asks again soon anyway
TEXT_LIMIT = 20_000  # characters: no text of a submission may be longer (the service says more)
CHUNK = 1024 * 1024
IPYNB = "application/x-ipynb+json"


def service_url(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    url = environ.get(REVIEW_URL)
    if url:
        return url.rstrip("/") + "/"
    raise EnclaveError(f"{REVIEW_URL}: not set; submit from a research session started by the hub.")


def session_name(path: Path, root: Path) -> str:
    """The notebook's path as the session's kernels name it (relative to the server root)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def _call(request, timeout: float = TIMEOUT_SECONDS) -> dict:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            message = json.loads(e.read()).get("error") or e.reason
        except ValueError:
            message = e.reason
        raise EnclaveError(f"review service (HTTP {e.code}): {message}", exit_code=2) from None
    except (OSError, ValueError) as e:
        raise EnclaveError(
            f"review service: cannot be reached ({type(e).__name__}: {e}); check that the "
            "session was started by the hub and try again.",
            exit_code=3,
        ) from None


def notices(environ: Mapping[str, str] | None = None) -> list[dict]:
    """The session user's requests that changed since they last opened them (the review
    service's ``api/notices``: id, status, round, notebook, the page to open)."""
    environ = os.environ if environ is None else environ
    request = urllib.request.Request(  # noqa: S310 (the hub's URL, from the spawner)
        service_url(environ) + "api/notices",
        headers={"Authorization": f"token {environ.get('JUPYTERHUB_API_TOKEN', '')}"},
    )
    return _call(request, timeout=NOTICES_TIMEOUT)["notices"]


def submit(
    notebook,
    *,
    purpose: str,
    release_use: str = "",
    recipients=(),
    summary: str = "",
    exception_note: str = "",
    resubmit: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict:
    """Submit ``notebook`` for review; ``release_use``: ``internal`` (used only by the member
    institutions ``recipients``) or ``external`` (publication, a report outside the
    consortium: every member's steward decides); ``environ``: this process's environment
    unless given (never a default holding it: ``help(submit)`` would print the session's
    token)."""
    environ = os.environ if environ is None else environ
    path = Path(notebook)
    try:  # checked on the open file: a pipe or a device would never end
        limit = FileLimits(config=load_config()).max_notebook_bytes  # the hub's, in a session
        body = open_regular(path, limit, "FileLimits.max_notebook_bytes")
    except OSError as e:
        raise EnclaveError(
            f"{path}: cannot open the notebook ({e.strerror}); give the path of an .ipynb file."
        ) from None
    with body:
        use = {"release_use": release_use, "recipients": list(recipients)}
        return _upload(path, body, purpose, use, summary, exception_note, resubmit, environ)


def _upload(path: Path, body, purpose, use, summary, exception_note, resubmit, environ) -> dict:
    token = environ.get(HUB_TOKEN)
    project = environ.get(PROJECT)
    if not token or not project:
        raise EnclaveError(
            f"{HUB_TOKEN} / {PROJECT}: not set; submit from a research session started by the hub."
        )
    root = Path(environ.get(NOTEBOOK_ROOT) or environ.get("HOME") or Path.cwd())
    metadata = {
        "notebook": session_name(path, root),
        "project": project,
        "purpose": purpose,
        **use,
        "summary": summary,
        "exception_note": exception_note,
    }
    if resubmit:
        metadata["resubmit"] = resubmit
    content_type, length, parts = multipart_body(metadata, body)
    request = urllib.request.Request(  # noqa: S310 (the hub's URL, http(s) only)
        service_url(environ) + "api/submit",
        data=parts,
        method="POST",
        headers={
            "Authorization": f"token {token}",
            "Content-Type": content_type,
            "Content-Length": str(length),
        },
    )
    return _call(request)


def multipart_body(metadata: dict, notebook) -> tuple[str, int, object]:
    """``(content type, length, chunks)`` of the submission as ``multipart/form-data``: the
    ``metadata`` part (JSON) and the ``notebook`` part, read from the open file as it is sent."""
    boundary = secrets.token_hex(16)
    head = (
        _part_header(boundary, 'name="metadata"', "application/json")
        + json.dumps(metadata, ensure_ascii=False).encode()
        + b"\r\n"
        + _part_header(boundary, 'name="notebook"; filename="notebook.ipynb"', IPYNB)
    )
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = os.fstat(notebook.fileno()).st_size

    def chunks():
        yield head
        left = size
        while left:
            chunk = notebook.read(min(CHUNK, left))
            if not chunk:
                raise EnclaveError(
                    "notebook: the file shrank while it was being sent; save it and submit again."
                )
            left -= len(chunk)
            yield chunk
        yield tail

    return f"multipart/form-data; boundary={boundary}", len(head) + size + len(tail), chunks()


def _part_header(boundary: str, disposition: str, content_type: str) -> bytes:
    return (
        f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n"
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
