"""Append-only, hash-chained audit trail of everything that touches data or releases."""

from audit.log import AuditEvent, AuditLog, ChainBroken

__all__ = ["AuditEvent", "AuditLog", "ChainBroken"]
