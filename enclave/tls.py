"""Connections beyond this machine go over TLS: the rule for database URLs, and what loopback is.

A PostgreSQL URL (the state database, the warehouse, its standby) whose host is not loopback
or a socket folder must ask libpq for TLS with ``sslmode=require``, ``verify-ca`` or
``verify-full`` (``verify-full`` checks the server's name too: use it where the server's
certificate allows). Anything weaker (``prefer``, libpq's default, falls back to plain text
without a word) is refused in one line before any connection is made.
"""

import ipaddress

import sqlalchemy as sa

from enclave.errors import EnclaveError

TLS_MODES = ("require", "verify-ca", "verify-full")


def is_loopback(host: str | None) -> bool:
    if not host:  # "" or None: every interface
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False


def check_database_tls(url: str | sa.URL) -> None:
    """Raise EnclaveError for a PostgreSQL URL that would reach beyond loopback without TLS."""
    parsed = sa.engine.make_url(url) if isinstance(url, str) else url
    if not parsed.get_backend_name().startswith("postgres"):
        return
    hosts = parsed.query.get("host", parsed.host)
    hosts = [hosts] if isinstance(hosts, str) or hosts is None else list(hosts)
    # no host: libpq's default socket; a path: a socket folder
    beyond = [h for h in hosts if h and not h.startswith("/") and not is_loopback(h)]
    if not beyond:
        return
    mode = parsed.query.get("sslmode", "")
    if mode not in TLS_MODES:
        shown = parsed.set(password=None).render_as_string(hide_password=True)
        raise EnclaveError(
            f"{shown}: a PostgreSQL connection to {beyond[0]} (beyond loopback) must use TLS; "
            "add ?sslmode=verify-full (or require) to the URL."
        )
