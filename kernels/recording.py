"""Where each query's lineage record goes: the review service inside a hub session, else a file.

Recording is a precondition of seeing the result: the client calls ``record`` before it returns
any rows, and any failure here refuses the query (fails closed).
"""

import fcntl
import json
import os
import urllib.error
import urllib.parse
import urllib.request

from kernels.errors import QueryNotRecorded

POST_TIMEOUT_SECONDS = 15


class ServiceRecorder:
    """POST the record to the review service through the hub, as the session's user."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.token = token

    def record(self, entry: dict) -> None:
        request = urllib.request.Request(  # noqa: S310 (scheme checked in recorder_from_environment)
            self.url,
            data=json.dumps(entry).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"token {self.token}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=POST_TIMEOUT_SECONDS) as response:  # noqa: S310
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


def recorder_from_environment(environ=os.environ):
    """The service when the hub configured one (with the user's token), else the file."""
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
        return ServiceRecorder(url, token)
    path = environ.get("ENCLAVE_QUERY_LOG_FILE")
    if path:
        return FileRecorder(path)
    return RefusingRecorder(
        "neither ENCLAVE_QUERY_LOG_URL nor ENCLAVE_QUERY_LOG_FILE is set; start the session "
        "from the hub, or set ENCLAVE_QUERY_LOG_FILE outside it."
    )
