"""The audit chain detects edits, deletions and reordering, on SQLite and PostgreSQL."""

import threading

import pytest
import sqlalchemy as sa

from enclave.audit.log import AuditLog, ChainBroken, audit_events
from enclave.cli import main
from enclave.state import make_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def log(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path}/state.sqlite"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    engine = make_engine(url)
    yield AuditLog(engine)
    engine.dispose()


def _fill(log, n=5):
    for i in range(n):
        log.append(
            actor=f"user{i % 2}", action="warehouse.query", project="p1", details={"rows": i}
        )


def test_intact_chain_verifies_and_filters(log):
    _fill(log)
    log.append(actor="rev", action="request.approve", request="r1", details={"round": 1})
    assert log.verify() == 6
    assert [e.seq for e in log.events(user="user1")] == [2, 4]
    assert [e.action for e in log.events(request="r1")] == ["request.approve"]
    assert log.events(project="p1")[0].details == {"rows": 0}


def test_edit_is_detected(log):
    _fill(log)
    with log.engine.begin() as conn:
        conn.execute(
            audit_events.update().where(audit_events.c.seq == 3).values(details='{"rows":99}')
        )
    with pytest.raises(ChainBroken) as e:
        log.verify()
    assert e.value.seq == 3 and "edited" in e.value.reason


def test_deletion_is_detected(log):
    _fill(log)
    with log.engine.begin() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq == 2))
    with pytest.raises(ChainBroken) as e:
        log.verify()
    assert e.value.seq == 2


def test_reordering_is_detected(log):
    _fill(log)
    with log.engine.begin() as conn:  # swap the contents of events 2 and 3, keeping seq order
        rows = {r.seq: r._asdict() for r in conn.execute(sa.select(audit_events))}
        for seq, other in ((2, 3), (3, 2)):
            values = {k: v for k, v in rows[other].items() if k != "seq"}
            conn.execute(audit_events.update().where(audit_events.c.seq == seq).values(**values))
    with pytest.raises(ChainBroken) as e:
        log.verify()
    assert e.value.seq == 2


def test_truncation_is_detected_against_a_kept_head(log):
    _fill(log)
    head = log.head()
    with log.engine.begin() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq == 5))
    assert log.verify() == 4  # a shorter chain is still a chain ...
    with pytest.raises(ChainBroken) as e:
        log.verify(expected_head=head)  # ... but not the one we kept
    assert "truncated" in e.value.reason


def test_kept_head_still_verifies_after_more_events(log):
    _fill(log)
    head = log.head()
    _fill(log, 2)
    assert log.verify(expected_head=head) == 7


def test_rewritten_chain_does_not_match_the_kept_head(log):
    _fill(log, 3)
    head = log.head()
    with log.engine.begin() as conn:  # rebuild the whole chain after deleting the kept event
        conn.execute(audit_events.delete())
    _fill(log, 4)
    with pytest.raises(ChainBroken) as e:
        log.verify(expected_head=head)
    assert e.value.seq == 3 and "rewritten" in e.value.reason


def test_event_rolls_back_with_its_transaction(log):
    with pytest.raises(RuntimeError), log.engine.begin() as conn:
        log.record(conn, actor="a", action="project.create", project="p")
        raise RuntimeError("the change failed")
    assert log.events() == []


def test_concurrent_writers_keep_one_chain(log):
    def write():
        for _ in range(10):
            log.append(actor="t", action="spawn")

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.verify() == 40


def test_cli_verify_show_and_broken_exit(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/s.sqlite"
    log = AuditLog(make_engine(url))
    _fill(log, 3)
    assert main(["audit", "verify", "--db", url]) == 0
    assert "intact: 3 events" in capsys.readouterr().out
    assert main(["audit", "show", "--db", url, "--user", "user0"]) == 0
    assert capsys.readouterr().out.count("warehouse.query") == 2
    with log.engine.begin() as conn:
        conn.execute(audit_events.update().where(audit_events.c.seq == 1).values(actor="x"))
    assert main(["audit", "verify", "--db", url]) == 1
    assert "BROKEN at event 1" in capsys.readouterr().out
    assert main(["audit", "verify", "--db", url, "--head", "nonsense"]) == 1
    assert "--head" in capsys.readouterr().err
