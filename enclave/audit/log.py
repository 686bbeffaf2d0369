"""The audit trail: one table, each event chained to the previous one by an HMAC.

Callers write an event in the *same transaction* as the change it records (as in OpenSAFELY's
airlock), so a change without its audit event cannot be committed. Each event's hash covers its
sequence number, content and the previous event's hash: editing, deleting or reordering any event
breaks the chain from that point, and ``verify`` names the first broken event. The hash is an
HMAC-SHA256 under a key kept outside the database, and the chain's head is written, signed, to
a head log outside it (``enclave.audit.keying``): a database writer can neither recompute the
hashes of an edited chain nor cut its tail unseen. Without a key configured (tests) the chain
is plain SHA-256; compare ``head()`` with a copy kept outside to detect truncation.

An event to record is an ``AuditEvent`` (``enclave.audit.actions``: its action is an
``AuditAction``, never a free string); what the trail holds comes back as ``RecordedEvent``s.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from enclave.audit.actions import AuditAction, AuditEvent, kind_of, parse_action, stored_names
from enclave.audit.keying import HeadLogBroken, Keying, for_engine
from enclave.errors import EnclaveError
from enclave.tables import audit_events

GENESIS = "0" * 64

# Postgres: one writer at a time appends to the chain (any fixed 64-bit number will do).
_CHAIN_LOCK = 0x656E636C61766531
_LAST_TRANSACTION = "enclave_audit_transaction"  # conn.info: the last one that recorded


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


def _event_body(prev_hash, seq, time, actor, action, project, request, details_json) -> bytes:
    return json.dumps(
        [prev_hash, seq, time, actor, action, project, request, details_json],
        separators=(",", ":"),
    ).encode()


def _event_hash(*fields, keying: Keying | None = None) -> str:
    body = _event_body(*fields)
    return keying.digest(body) if keying else hashlib.sha256(body).hexdigest()


def _row_hash(row, keying: Keying | None = None) -> str:
    fields = (row.prev_hash, row.seq, row.time, row.actor, row.action, row.project, row.request)
    return _event_hash(*fields, row.details, keying=keying)


def current_head(conn: sa.Connection) -> tuple[int, str]:
    """The last event's (seq, hash), or (0, GENESIS) for an empty trail."""
    last = conn.execute(
        sa.select(audit_events.c.seq, audit_events.c.hash)
        .order_by(audit_events.c.seq.desc())
        .limit(1)
    ).first()
    return (last.seq, last.hash) if last else (0, GENESIS)


def _row_to_event(row) -> RecordedEvent:
    return RecordedEvent(**{**row._asdict(), "details": json.loads(row.details)})


class AuditLog:
    """Append and read the audit trail stored in the enclave state database."""

    def __init__(self, engine: sa.Engine):
        """``engine``: the state database (``enclave.state.make_engine``); keyed when this
        process keyed that database (``enclave.audit.keying.use``)."""
        self.engine = engine
        self.keying = for_engine(engine)

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
            sa.select(audit_events).order_by(audit_events.c.seq.desc()).limit(1)
        ).first()
        head = (last.seq, last.hash) if last else (0, GENESIS)
        transaction = conn.get_transaction()
        first_here = conn.info.get(_LAST_TRANSACTION) is not transaction
        conn.info[_LAST_TRANSACTION] = transaction
        if self.keying is not None:
            keyed_after = self.keying.begin(head)
            if first_here and head[0] > keyed_after:
                # a committed head (later events of this transaction see their own): out now
                self.keying.write_head(head, keyed_after)
        elif last is not None and _row_hash(last) != last.hash:
            raise EnclaveError(
                "the audit trail is keyed but this process has no audit key "
                "(AuditTrail.key_file); nothing was recorded."
            )
        seq, prev_hash = head[0] + 1, head[1]
        time = datetime.now(UTC).isoformat(timespec="microseconds")
        details_json = json.dumps(details or {}, sort_keys=True, separators=(",", ":"))
        digest = _event_hash(
            prev_hash, seq, time, actor, action, project, request, details_json, keying=self.keying
        )
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
            recorded = self.record(conn, event, **fields)
        if self.keying is not None:  # committed: its head goes out at once
            self.keying.write_head((recorded.seq, recorded.hash), self.keying.keyed_after())
        return recorded

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
        """The last event's (seq, hash)."""
        with self.engine.connect() as conn:
            return current_head(conn)

    def verify(self, expected_head: tuple[int, str] | None = None) -> int:
        """Check the whole chain; return the number of events or raise ChainBroken.

        Keyed: every event after ``keyed_after`` must carry its HMAC, and every signed head in
        the head log must still be in the chain, unchanged (else it was truncated or
        rewritten). ``expected_head`` is a (seq, hash) kept earlier from ``head()``, checked
        the same way.
        """
        keyed_after, kept = None, {}
        if self.keying is not None:
            try:
                points = self.keying.checkpoints()
            except HeadLogBroken as e:
                raise ChainBroken(0, f"head log: {e}") from None
            if points:
                keyed_after = points[0].keyed_after
            for point in points:
                if point.seq:  # (0: keying began on an empty trail)
                    kept.setdefault(point.seq, set()).add(point.hash)
        if expected_head is not None and expected_head[0] > 0:
            kept.setdefault(expected_head[0], set()).add(expected_head[1])
        expected_seq, prev_hash = 1, GENESIS
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_events).order_by(audit_events.c.seq))
            for row in rows:
                if row.seq != expected_seq:
                    raise ChainBroken(expected_seq, "missing (events deleted or renumbered)")
                if row.prev_hash != prev_hash:
                    raise ChainBroken(row.seq, "does not follow the previous event (reordered)")
                keyed = keyed_after is not None and row.seq > keyed_after
                if _row_hash(row, self.keying if keyed else None) != row.hash:
                    raise ChainBroken(row.seq, "content does not match its hash (edited)")
                if row.seq in kept and kept.pop(row.seq) != {row.hash}:
                    raise ChainBroken(row.seq, "differs from the kept head (rewritten)")
                prev_hash = row.hash
                expected_seq += 1
        count = expected_seq - 1
        if kept:
            raise ChainBroken(count + 1, "the chain ends before the kept head (truncated)")
        return count
