"""Append-only, hash-chained audit trail of everything that touches data or releases.

``AuditLog``, ``AuditEvent`` and ``ChainBroken`` live in ``audit.log``; they are imported on
first use so that ``enclave`` commands which never touch the trail do not load SQLAlchemy.
"""

__all__ = ["AuditEvent", "AuditLog", "ChainBroken"]


def __getattr__(name):
    if name in __all__:
        from enclave.audit import log

        return getattr(log, name)
    raise AttributeError(f"module 'audit' has no attribute {name!r}")
