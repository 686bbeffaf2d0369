"""The audit trail: one table, each event chained to the previous one by SHA-256.

Callers write an event in the *same transaction* as the change it records (as in OpenSAFELY's
airlock), so a change without its audit event cannot be committed. Each event's hash covers its
sequence number, content and the previous event's hash: editing, deleting or reordering any event
breaks the chain from that point, and ``verify`` names the first broken event. Deleting events
from the end leaves a valid shorter chain; compare ``head()`` with a copy kept outside (the
``enclave audit head`` value) to detect that.

An event to record is an ``AuditEvent`` (``enclave.audit.actions``: its action is an
``AuditAction``, never a free string); what the trail holds comes back as ``RecordedEvent``s.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from enclave.audit.actions import AuditAction, AuditEvent, kind_of, parse_action, stored_names
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
class RecordedEvent:
    """An event as the trail holds it (``action`` as stored, possibly an old name)."""

    seq: int
    time: str
    actor: str
    action: str
    project: str | None
    request: str | None
    details: dict
    prev_hash: str
    hash: str

    @property
    def kind(self) -> AuditAction | None:
        """The action today's names give it (old names read through ``kind_of``)."""
        return kind_of(self.action, self.details)


def _event_hash(prev_hash, seq, time, actor, action, project, request, details_json) -> str:
    body = json.dumps(
        [prev_hash, seq, time, actor, action, project, request, details_json],
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _row_to_event(row) -> RecordedEvent:
    return RecordedEvent(**{**row._asdict(), "details": json.loads(row.details)})


class AuditLog:
    """Append and read the audit trail stored in the enclave state database."""

    def __init__(self, engine: sa.Engine):
        """``engine``: the state database (``enclave.state.make_engine``)."""
        self.engine = engine

    def record(
        self, conn: sa.Connection, event: AuditEvent | None = None, **fields
    ) -> RecordedEvent:
        """Append ``event`` (or ``AuditEvent(**fields)``) inside the caller's open transaction.

        ``details`` must never carry output values, query results or raw identifiers.
        """
        event = event or AuditEvent(**fields)
        actor, action, project, request = (
            event.actor,
            str(event.action),
            event.project,
            event.request,
        )
        details = event.details
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
        return RecordedEvent(**{**values, "details": json.loads(details_json)})

    def append(self, event: AuditEvent | None = None, **fields) -> RecordedEvent:
        """Record one event in a transaction of its own (for events with no other change)."""
        with self.engine.begin() as conn:
            return self.record(conn, event, **fields)

    def events(
        self,
        *,
        user: str | None = None,
        project: str | None = None,
        request: str | None = None,
        action: str | None = None,
    ) -> list[RecordedEvent]:
        """Events in order, filtered; ``action`` is today's name or an old one (an old trail's
        ``request.decide`` events are found as ``request.approve``, ``request.reject``, ...)."""
        query = sa.select(audit_events).order_by(audit_events.c.seq)
        for column, value in (
            (audit_events.c.actor, user),
            (audit_events.c.project, project),
            (audit_events.c.request, request),
        ):
            if value is not None:
                query = query.where(column == value)
        wanted = None
        if action is not None:
            try:
                wanted = parse_action(action)
            except ValueError:
                return []  # no event was ever recorded under an unknown name
            query = query.where(audit_events.c.action.in_(stored_names(wanted)))
        with self.engine.connect() as conn:
            events = [_row_to_event(row) for row in conn.execute(query)]
        return events if wanted is None else [e for e in events if e.kind in wanted]

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
