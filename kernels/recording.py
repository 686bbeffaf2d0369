"""Where each query's lineage record goes: the review service inside a hub session, else a file.

Recording is a precondition of seeing the result: the client calls ``record`` before it returns
any rows, and any failure here refuses the query (fails closed).
"""

import fcntl
import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from traitlets import Float
from traitlets.config import Configurable

from enclave.kernels.errors import QueryNotRecorded
from enclave.kernels.masked import Masked

TIMEOUT_VARIABLE = "ENCLAVE_QUERY_LOG_TIMEOUT"
MIN_TIMEOUT = 0.1  # seconds


class QueryRecording(Configurable):
    """Recording settings. The kernel cannot read the deployment's config file, so whoever
    starts it (the hub's spawner, ``enclave report``) passes them on in its environment."""

    post_timeout = Float(
        15.0,
        min=MIN_TIMEOUT,
        help="""Seconds a kernel waits for the review service to accept a query's lineage
        record; with no answer in time the query is refused and its rows are dropped.""",
    ).tag(config=True)

    def environment(self) -> dict[str, str]:
        return {TIMEOUT_VARIABLE: repr(self.post_timeout)}


class ServiceRecorder:
    """POST the record to the review service through the hub, as the session's user."""

    def __init__(self, url: str, token: str, timeout: float):
        self.url = url
        self._token = Masked(token)
        self.timeout = timeout

    def record(self, entry: dict) -> None:
        request = urllib.request.Request(  # noqa: S310 (scheme checked in recorder_from_environment)
            self.url,
            data=json.dumps(entry).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"token {self._token.reveal()}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (OSError, ValueError) as e:  # unreachable, refused, timed out, bad URL
            raise QueryNotRecorded(f"the query log service cannot be reached ({e}).") from e
        if not 200 <= status < 300:
            raise QueryNotRecorded(f"the query log service answered HTTP {status}.")


class FileRecorder:
    """Append one JSON line per query; a lock keeps parallel report workers' lines whole."""

    def __init__(self, path: str):
        self.path = path

    def record(self, entry: dict) -> None:
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise QueryNotRecorded(f"the query log file cannot be written ({e.strerror}).") from e


class RefusingRecorder:
    """No usable destination: every query is refused, with the reason."""

    def __init__(self, reason: str):
        self.reason = reason

    def record(self, entry: dict) -> None:
        raise QueryNotRecorded(self.reason)


def recorder_from_environment(environ: Mapping[str, str] | None = None):
    """The service when the hub configured one (with the user's token), else the file
    (``environ``: this process's environment unless given)."""
    environ = os.environ if environ is None else environ
    url = environ.get("ENCLAVE_QUERY_LOG_URL")
    if url:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            return RefusingRecorder("ENCLAVE_QUERY_LOG_URL must be an http(s) URL of the hub.")
        token = environ.get("JUPYTERHUB_API_TOKEN")
        if not token:
            return RefusingRecorder(
                "ENCLAVE_QUERY_LOG_URL is set but JUPYTERHUB_API_TOKEN is not; restart the "
                "session from the hub."
            )
        timeout = _timeout(environ.get(TIMEOUT_VARIABLE))
        if timeout is None:
            return RefusingRecorder(
                f"{TIMEOUT_VARIABLE} must be a number of seconds of at least {MIN_TIMEOUT} "
                "(QueryRecording.post_timeout)."
            )
        return ServiceRecorder(url, token, timeout)
    path = environ.get("ENCLAVE_QUERY_LOG_FILE")
    if path:
        return FileRecorder(path)
    return RefusingRecorder(
        "neither ENCLAVE_QUERY_LOG_URL nor ENCLAVE_QUERY_LOG_FILE is set; start the session "
        "from the hub, or set ENCLAVE_QUERY_LOG_FILE outside it."
    )


def _timeout(text: str | None) -> float | None:
    """The POST timeout the kernel was given (else the default); None if it is not usable."""
    if text is None:
        return QueryRecording.post_timeout.default_value
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= MIN_TIMEOUT else None
