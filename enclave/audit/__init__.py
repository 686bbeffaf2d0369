"""Append-only, hash-chained audit trail of everything that touches data or releases.

``AuditLog``, ``RecordedEvent`` and ``ChainBroken`` live in ``audit.log``, ``AuditAction`` and
``AuditEvent`` (what to record) in ``audit.actions``; they are imported on first use so that
``enclave`` commands which never touch the trail do not load SQLAlchemy.
"""

__all__ = ["AuditAction", "AuditEvent", "AuditLog", "ChainBroken", "RecordedEvent"]


def __getattr__(name):
    if name in ("AuditAction", "AuditEvent"):
        from enclave.audit import actions

        return getattr(actions, name)
    if name in __all__:
        from enclave.audit import log

        return getattr(log, name)
    raise AttributeError(f"module 'audit' has no attribute {name!r}")
