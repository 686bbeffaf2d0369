"""Secure transport and private files, checked when the hub starts (issue 14 item 4).

The principles: student data "shall be maintained (processed, stored, and transmitted in a
secure manner)". So the hub refuses to start, in one line naming the setting or the path:

- **plain HTTP beyond loopback**: ``JupyterHub.bind_url`` on any address but loopback needs
  ``JupyterHub.ssl_cert`` and ``ssl_key`` (the proxy then serves HTTPS), unless TLS is
  terminated before the hub (``SecureTransport.tls_terminated_upstream``: the Kubernetes
  profile's ingress); the hub's own API (``hub_bind_url``) beyond loopback needs
  ``internal_ssl``;
- **files others could read or replace**: the hub's directory (the state database, the hub
  database, the cookie secret, the audit key and head log are in it) and the review store must
  be the hub's and closed to everybody else (``0700``); the audit key, the cookie secret and
  the TLS key too (``0600``); the SQLite warehouse's folder and its ``projects/`` folder (the
  extracts) must be the hub's and writable by nobody else, the warehouse and every file in
  ``projects/`` not readable by others.

On TLS the hub's cookies are ``Secure`` and every hub page sends
``Strict-Transport-Security`` (``SecureTransport.hsts_max_age``).
"""

import os
import stat
from pathlib import Path
from urllib.parse import urlparse

import sqlalchemy as sa
from traitlets import Bool, Int
from traitlets.config import Configurable

from enclave.errors import EnclaveError
from enclave.tls import is_loopback


class SecureTransport(Configurable):
    """How the hub is reached, and what it checks before it serves anything."""

    hsts_max_age = Int(
        365 * 24 * 3600,
        help="""``max-age`` (seconds) of the ``Strict-Transport-Security`` header every hub
        page sends when the hub serves HTTPS: browsers then refuse plain HTTP to it.""",
    ).tag(config=True)

    tls_terminated_upstream = Bool(
        False,
        help="""TLS is terminated before the hub, by an ingress or a proxy in front of it on a
        network nobody else reaches (the Kubernetes profile). Only then may the hub listen
        beyond loopback on plain HTTP; the one-machine profile never sets it.""",
    ).tag(config=True)


def _listens_beyond_loopback(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme.endswith("+unix"):  # a socket file
        return False
    return not is_loopback(parsed.hostname)


def check_transport(hub) -> None:
    """Raise EnclaveError unless the hub's listening settings are safe (module docstring)."""
    settings = SecureTransport(config=hub.config)
    if bool(hub.ssl_cert) != bool(hub.ssl_key):
        missing = "ssl_key" if hub.ssl_cert else "ssl_cert"
        raise EnclaveError(
            f"JupyterHub.{missing}: not set; HTTPS needs both the certificate and its key."
        )
    for name in ("ssl_cert", "ssl_key"):
        path = getattr(hub, name)
        if path and not os.path.isfile(path):
            raise EnclaveError(f"JupyterHub.{name} {path}: no such file.")
    if (
        _listens_beyond_loopback(hub.bind_url)
        and not hub.ssl_cert
        and not settings.tls_terminated_upstream
    ):
        raise EnclaveError(
            f"JupyterHub.bind_url {hub.bind_url}: plain HTTP beyond loopback; set "
            "JupyterHub.ssl_cert and JupyterHub.ssl_key (hub/README.md, HTTPS) or listen on "
            "127.0.0.1."
        )
    api = hub.hub_bind_url or f"http://{hub.hub_ip}:{hub.hub_port}"  # as JupyterHub makes it
    if _listens_beyond_loopback(api) and not (hub.internal_ssl or settings.tls_terminated_upstream):
        raise EnclaveError(
            f"JupyterHub.hub_bind_url {api}: the hub's API in plain HTTP beyond "
            "loopback; listen on 127.0.0.1 (sessions reach it through the hub's nftables "
            "rules) or set JupyterHub.internal_ssl."
        )


def secure_tornado_settings(hub) -> None:
    """On TLS: ``Secure`` cookies and HSTS on every hub page (what the admin set stays)."""
    if not hub.ssl_cert:
        return
    max_age = SecureTransport(config=hub.config).hsts_max_age
    settings = dict(hub.tornado_settings)
    headers = dict(settings.get("headers", {}))
    headers.setdefault("Strict-Transport-Security", f"max-age={max_age}; includeSubDomains")
    settings["headers"] = headers
    settings["cookie_options"] = {"secure": True, **settings.get("cookie_options", {})}
    hub.tornado_settings = settings


# -- modes and owners ----------------------------------------------------------------------------
def _sqlite_file(url: str) -> Path | None:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def _check(path: Path, what: str, *, closed: int) -> None:
    """``path`` must be the hub's (this process's uid) with none of the ``closed`` bits."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return  # made later, by its owner, with the right mode
    if stat.S_ISLNK(info.st_mode):
        raise EnclaveError(f"{path}: the {what} is a symbolic link; give the real path.")
    uid = os.geteuid()
    if info.st_uid != uid:
        raise EnclaveError(
            f"{path}: the {what} belongs to uid {info.st_uid}, not to the hub's ({uid}); "
            f"chown it to the hub's account."
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & closed:
        wanted = mode & ~closed
        raise EnclaveError(
            f"{path}: the {what} has mode {mode:04o}, open to others; chmod {wanted:04o} it."
        )


def check_private_files(config) -> None:
    """Raise EnclaveError for the first private path others could read or replace."""
    from enclave.audit.keying import AuditTrail
    from enclave.review_service.config import ReviewService
    from enclave.state import EnclaveState
    from enclave.warehouse.db import WarehouseSettings, is_postgres, sqlite_path

    hub = config.JupyterHub
    audit = AuditTrail(config=config)
    secrets = {
        "audit trail's key": audit.key_file,
        "hub's cookie secret": hub.get("cookie_secret_file", ""),
        "TLS key": hub.get("ssl_key", ""),
    }
    folders = {
        _sqlite_file(EnclaveState(config=config).db_url),
        _sqlite_file(hub.get("db_url", "")),
        *(Path(p) for p in (*secrets.values(), audit.head_file) if p),
    }
    for folder in sorted({f.parent for f in folders if f is not None}):
        _check(folder, "hub's directory", closed=0o077)
    store = ReviewService(config=config).store_dir
    _check(Path(store), "review service's store", closed=0o077)
    for what, path in secrets.items():
        if path:
            _check(Path(path), what, closed=0o077)
    url = WarehouseSettings(config=config).url
    if url and not is_postgres(url):
        warehouse = sqlite_path(url)
        extracts = warehouse.parent / "projects"
        for folder in (warehouse.parent, extracts):
            _check(folder, "warehouse's folder", closed=0o022)
        files = sorted(extracts.iterdir()) if extracts.is_dir() else []
        for entry in [warehouse, *files]:
            if not entry.is_dir():
                _check(entry, "warehouse file", closed=0o007)
