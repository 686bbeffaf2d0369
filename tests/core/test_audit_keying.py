"""The keyed audit trail: a database writer who edits an event and recomputes every later hash,
or cuts the tail, is caught by `verify` with no head kept by hand."""

import hashlib
import json

import pytest
import sqlalchemy as sa
from traitlets.config import Config

from enclave.audit import keying
from enclave.audit.actions import AuditAction
from enclave.audit.log import AuditLog, ChainBroken
from enclave.errors import EnclaveError
from enclave.state import make_engine
from enclave.tables import audit_events


def settings(tmp_path) -> Config:
    config = Config()
    config.AuditTrail.key_file = str(tmp_path / "audit.key")
    config.AuditTrail.head_file = str(tmp_path / "audit-head.log")
    return config


@pytest.fixture
def state(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    engine = make_engine(url)
    yield engine, url
    engine.dispose()


def write(engine, count, start=0):
    log = AuditLog(engine)
    for i in range(start, start + count):
        log.append(actor=f"user{i}", action=AuditAction.AGREEMENT_ACCEPT, details={"n": i})


def rewrite_from(engine, seq, **change):
    """What a database writer without the key can do: edit event ``seq`` and recompute the
    SHA-256 chain from there on, so that an unkeyed chain verifies again."""
    with engine.begin() as conn:
        conn.execute(audit_events.update().where(audit_events.c.seq == seq).values(**change))
        rows = conn.execute(sa.select(audit_events).order_by(audit_events.c.seq)).all()
        prev = rows[seq - 2].hash if seq > 1 else "0" * 64
        for row in rows[seq - 1 :]:
            body = json.dumps(
                [
                    prev,
                    row.seq,
                    row.time,
                    row.actor,
                    row.action,
                    row.project,
                    row.request,
                    row.details,
                ],
                separators=(",", ":"),
            ).encode()
            digest = hashlib.sha256(body).hexdigest()
            conn.execute(
                audit_events.update()
                .where(audit_events.c.seq == row.seq)
                .values(prev_hash=prev, hash=digest)
            )
            prev = digest


def test_an_unkeyed_chain_can_be_rewritten_unseen(state):
    """The attack, on the old chain: why the key is needed."""
    engine, _ = state
    write(engine, 5)
    rewrite_from(engine, 2, actor="someone else")
    assert AuditLog(engine).verify() == 5


def test_an_edited_event_with_recomputed_hashes_is_caught(tmp_path, state):
    engine, url = state
    keying.use(settings(tmp_path), url)
    write(engine, 5)
    assert AuditLog(engine).verify() == 5
    rewrite_from(engine, 2, actor="someone else")
    with pytest.raises(ChainBroken) as broken:
        AuditLog(engine).verify()
    assert broken.value.seq == 2 and "edited" in broken.value.reason


def test_a_truncated_tail_is_caught_without_a_head_kept_by_hand(tmp_path, state):
    engine, url = state
    keying.use(settings(tmp_path), url)
    write(engine, 5)
    with engine.begin() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq >= 4))
    with pytest.raises(ChainBroken, match="truncated"):
        AuditLog(engine).verify()


def test_the_head_of_the_last_event_is_written_by_the_next_writer_and_the_interval(tmp_path, state):
    """Events recorded inside a caller's transaction (not ``append``): their head reaches the
    log from the next event's writer, or from the periodic writer."""
    engine, url = state
    config = settings(tmp_path)
    config.AuditTrail.checkpoint_interval = 0.5
    keyed = keying.use(config, url)
    log = AuditLog(engine)
    for i in range(2):
        with engine.begin() as conn:
            log.record(conn, actor=f"u{i}", action=AuditAction.AGREEMENT_ACCEPT)
    assert [p.seq for p in keyed.checkpoints()] == [0, 1]  # the first one's, from the second
    import time

    for _ in range(40):
        if keyed.checkpoints()[-1].seq == 2:
            break
        time.sleep(0.1)
    assert keyed.checkpoints()[-1].seq == 2
    with engine.begin() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq == 2))
    with pytest.raises(ChainBroken, match="truncated"):
        log.verify()


def test_a_forged_head_line_is_refused(tmp_path, state):
    engine, url = state
    config = settings(tmp_path)
    keying.use(config, url)
    write(engine, 2)
    head = tmp_path / "audit-head.log"
    with head.open("a") as f:
        f.write(json.dumps({"seq": 1, "hash": "0" * 64, "after": 0, "mac": "0" * 64}) + "\n")
    with pytest.raises(ChainBroken, match="not signed"):
        AuditLog(engine).verify()


def test_events_from_before_the_key_are_protected_by_the_first_keyed_one(tmp_path, state):
    engine, url = state
    write(engine, 3)  # an unkeyed trail from before
    keying.use(settings(tmp_path), url)
    write(engine, 2, start=3)
    assert AuditLog(engine).verify() == 5
    rewrite_from(engine, 2, actor="someone else")  # recomputes even the keyed ones' SHA-256
    with pytest.raises(ChainBroken) as broken:
        AuditLog(engine).verify()
    # the head log's first line kept the unkeyed trail's head when keying began
    assert broken.value.seq == 3 and "rewritten" in broken.value.reason


def test_a_process_without_the_key_cannot_append_to_a_keyed_trail(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    keyed_engine = make_engine(url)
    keying.use(settings(tmp_path), url)
    write(keyed_engine, 1)
    other = sa.create_engine(f"sqlite:///{tmp_path}/./state.sqlite")  # not keyed here
    with pytest.raises(EnclaveError, match="no audit key"):
        AuditLog(other).append(actor="x", action=AuditAction.AGREEMENT_ACCEPT)
    assert AuditLog(keyed_engine).verify() == 1


def test_a_lost_key_is_not_replaced_once_the_trail_is_keyed(tmp_path, state):
    engine, url = state
    keying.use(settings(tmp_path), url)
    write(engine, 1)
    (tmp_path / "audit.key").unlink()
    with pytest.raises(EnclaveError, match="restore the key"):
        keying.load_key(tmp_path / "audit.key", tmp_path / "audit-head.log")


def test_the_key_file_is_private(tmp_path):
    path = keying.keygen(tmp_path / "k")
    assert path.stat().st_mode & 0o777 == 0o600 and len(path.read_bytes()) == 32
    path.chmod(0o640)
    with pytest.raises(EnclaveError, match="owner only"):
        keying.load_key(path, tmp_path / "head")


def test_enclave_audit_verify_reads_the_key_and_head_from_the_config(tmp_path, state, capsys):
    from enclave.cli import main

    engine, url = state
    config_file = tmp_path / "enclave_config.py"
    config_file.write_text(
        f"c.EnclaveState.db_url = {url!r}\n"
        f"c.AuditTrail.key_file = {str(tmp_path / 'audit.key')!r}\n"
        f"c.AuditTrail.head_file = {str(tmp_path / 'audit-head.log')!r}\n"
    )
    keying.use(settings(tmp_path), url)
    write(engine, 3)
    assert main(["audit", "verify", "--config", str(config_file)]) == 0
    assert "intact: 3 events" in capsys.readouterr().out
    with engine.begin() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq == 3))
    assert main(["audit", "verify", "--config", str(config_file)]) == 1
    assert "BROKEN at event 3" in capsys.readouterr().out


def test_a_rolled_back_transaction_leaves_no_head_behind(tmp_path, state):
    engine, url = state
    keyed = keying.use(settings(tmp_path), url)
    write(engine, 1)
    log = AuditLog(engine)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        for i in range(3):
            log.record(conn, actor=f"u{i}", action=AuditAction.AGREEMENT_ACCEPT)
        raise RuntimeError("the change fails: its events go with it")
    assert max(p.seq for p in keyed.checkpoints()) == 1
    write(engine, 1, start=5)
    assert log.verify() == 2
