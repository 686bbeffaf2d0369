"""The audit trail: one table, each event chained to the previous one by SHA-256.

Callers write an event in the *same transaction* as the change it records (as in OpenSAFELY's
airlock), so a change without its audit event cannot be committed. Each event's hash covers its
sequence number, content and the previous event's hash: editing, deleting or reordering any event
breaks the chain from that point, and ``verify`` names the first broken event. Deleting events
from the end leaves a valid shorter chain; compare ``head()`` with a copy kept outside (the
``enclave audit head`` value) to detect that.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from enclave.tables import audit_events

GENESIS = "0" * 64

# Postgres: one writer at a time appends to the chain (any fixed 64-bit number will do).
_CHAIN_LOCK = 0x656E636C61766531


class ChainBroken(Exception):
    """The stored chain does not verify; ``seq`` is the first event that fails."""

    def __init__(self, seq: int, reason: str):
        super().__init__(f"audit event {seq}: {reason}")
        self.seq = seq
        self.reason = reason


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    time: str
    actor: str
    action: str
    project: str | None
    request: str | None
    details: dict
    prev_hash: str
    hash: str


def _event_hash(prev_hash, seq, time, actor, action, project, request, details_json) -> str:
    body = json.dumps(
        [prev_hash, seq, time, actor, action, project, request, details_json],
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _row_to_event(row) -> AuditEvent:
    return AuditEvent(**{**row._asdict(), "details": json.loads(row.details)})


class AuditLog:
    """Append and read the audit trail stored in the enclave state database."""

    def __init__(self, engine: sa.Engine):
        """``engine``: the state database (``enclave.state.make_engine``)."""
        self.engine = engine

    def record(
        self,
        conn: sa.Connection,
        *,
        actor: str,
        action: str,
        project: str | None = None,
        request: str | None = None,
        details: dict | None = None,
    ) -> AuditEvent:
        """Append one event inside the caller's open transaction ``conn``.

        ``details`` must never carry output values, query results or raw identifiers.
        """
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CHAIN_LOCK)))
        last = conn.execute(
            sa.select(audit_events.c.seq, audit_events.c.hash)
            .order_by(audit_events.c.seq.desc())
            .limit(1)
        ).first()
        seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS)
        time = datetime.now(UTC).isoformat(timespec="microseconds")
        details_json = json.dumps(details or {}, sort_keys=True, separators=(",", ":"))
        digest = _event_hash(prev_hash, seq, time, actor, action, project, request, details_json)
        values = dict(
            seq=seq,
            time=time,
            actor=actor,
            action=action,
            project=project,
            request=request,
            details=details_json,
            prev_hash=prev_hash,
            hash=digest,
        )
        conn.execute(audit_events.insert().values(**values))
        return AuditEvent(**{**values, "details": json.loads(details_json)})

    def append(self, **event) -> AuditEvent:
        """Record one event in a transaction of its own (for events with no other change)."""
        with self.engine.begin() as conn:
            return self.record(conn, **event)

    def events(
        self,
        *,
        user: str | None = None,
        project: str | None = None,
        request: str | None = None,
        action: str | None = None,
    ) -> list[AuditEvent]:
        query = sa.select(audit_events).order_by(audit_events.c.seq)
        for column, value in (
            (audit_events.c.actor, user),
            (audit_events.c.project, project),
            (audit_events.c.request, request),
            (audit_events.c.action, action),
        ):
            if value is not None:
                query = query.where(column == value)
        with self.engine.connect() as conn:
            return [_row_to_event(row) for row in conn.execute(query)]

    def head(self) -> tuple[int, str]:
        """The last event's (seq, hash): keep a copy outside to detect truncation."""
        with self.engine.connect() as conn:
            last = conn.execute(
                sa.select(audit_events.c.seq, audit_events.c.hash)
                .order_by(audit_events.c.seq.desc())
                .limit(1)
            ).first()
        return (last.seq, last.hash) if last else (0, GENESIS)

    def verify(self, expected_head: tuple[int, str] | None = None) -> int:
        """Check the whole chain; return the number of events or raise ChainBroken.

        ``expected_head`` is a (seq, hash) kept earlier from ``head()``: the chain must still
        hold that event unchanged, however many events came after it.
        """
        expected_seq, prev_hash = 1, GENESIS
        kept_hash = None
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_events).order_by(audit_events.c.seq))
            for row in rows:
                if row.seq != expected_seq:
                    raise ChainBroken(expected_seq, "missing (events deleted or renumbered)")
                if row.prev_hash != prev_hash:
                    raise ChainBroken(row.seq, "does not follow the previous event (reordered)")
                digest = _event_hash(
                    row.prev_hash,
                    row.seq,
                    row.time,
                    row.actor,
                    row.action,
                    row.project,
                    row.request,
                    row.details,
                )
                if digest != row.hash:
                    raise ChainBroken(row.seq, "content does not match its hash (edited)")
                prev_hash = row.hash
                if expected_head is not None and row.seq == expected_head[0]:
                    kept_hash = row.hash
                expected_seq += 1
        count = expected_seq - 1
        if expected_head is not None and expected_head[0] > 0:
            if kept_hash is None:
                raise ChainBroken(count + 1, "the chain ends before the kept head (truncated)")
            if kept_hash != expected_head[1]:
                raise ChainBroken(expected_head[0], "differs from the kept head (rewritten)")
        return count
