"""`kill -9` of a warehouse load at several points, on both backends (issue 15).

The previous good warehouse (400 people, with a project's extract on SQLite) is loaded over
with a larger one (6,000 people) by `enclave warehouse load` in a process killed after a
fraction of the time a whole load takes. After each kill the warehouse is the previous one or
the complete new one, never a mix; the next load's start removes whatever the killed one left
(its scratch copy of pseudonymized rows), says so with sizes and records it in the audit
trail; afterwards nothing is left but the warehouse, its extracts and the grants.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from enclave.audit import AuditAction, AuditLog
from enclave.scratch import PREFIX
from enclave.state import make_engine
from enclave.warehouse.generate import generate
from enclave.warehouse.grant import grant_project
from enclave.warehouse.load import load
from enclave.warehouse.pseudonymize import read_key

pytestmark = pytest.mark.e2e  # real loads in real processes, killed: slow

FRACTIONS = (0.3, 0.6, 0.9)  # of a whole load's time, from the command's start


@pytest.fixture(scope="module")
def bigger(tmp_path_factory):
    root = tmp_path_factory.mktemp("bigger")
    generate(root, 6000, 5)
    return root


@pytest.fixture
def state(tmp_path):
    """A config file naming a state database, where sweeps are recorded."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    make_engine(url).dispose()
    config = tmp_path / "config.py"
    config.write_text(f"c.EnclaveState.db_url = {url!r}\n")
    return config, url


def load_command(extracts, key, url, config, quarantine):
    return [
        sys.executable, "-m", "enclave", "warehouse", "--config", str(config), "load",
        str(extracts), "--key", str(key), "--url", url, "--accept-rejects",
        "--quarantine", str(quarantine),
    ]  # fmt: skip


def timed_run(command) -> float:
    began = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return time.monotonic() - began


def killed_after(command, seconds: float) -> int | None:
    """Run ``command``, SIGKILL it after ``seconds``; its status if it finished first."""
    return killed_when(command, lambda elapsed: elapsed >= seconds)


def killed_when(command, due) -> int | None:
    """Run ``command``, SIGKILL it as soon as ``due(seconds since its start)`` holds; its status
    if it finished first."""
    began = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None:
        if due(time.monotonic() - began):
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return None
        time.sleep(0.005)
    return process.returncode


def holds_data(folder: Path):
    """A kill point: a scratch copy under ``folder`` holds data (whatever the machine's speed)."""

    def due(_elapsed) -> bool:
        for path in folder.rglob(f"{PREFIX}*"):
            try:
                if path.is_file() and path.stat().st_size > 0:
                    return True
            except FileNotFoundError:  # renamed or removed meanwhile
                continue
        return False

    return due


def sweeps(state_url: str) -> list:
    engine = make_engine(state_url)
    try:
        return AuditLog(engine).events(action=AuditAction.SCRATCH_SWEEP)
    finally:
        engine.dispose()


def counts_sqlite(path) -> int:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            return conn.exec_driver_sql("SELECT count(*) FROM students").scalar()
    finally:
        engine.dispose()


def test_a_killed_sqlite_load_leaves_the_previous_warehouse_and_no_copy(
    population, bigger, key_file, tmp_path, state
):
    config, state_url = state
    target = tmp_path / "w" / "warehouse.sqlite"
    key = read_key(key_file)
    before = load(population[0], str(target), key, quarantine=tmp_path / "q.csv")
    grant_project(str(target), "proj_kill", ["CC-101", "UNI-201"])
    old_students = before.tables["students"]
    command = load_command(bigger, key_file, str(target), config, tmp_path / "q.csv")
    whole = timed_run(
        load_command(bigger, key_file, str(tmp_path / "x.sqlite"), config, tmp_path / "q.csv")
    )
    new_students = counts_sqlite(tmp_path / "x.sqlite")
    left_data = 0
    points = [lambda elapsed, s=whole * f: elapsed >= s for f in FRACTIONS]
    for fraction, due in zip([*FRACTIONS, "scratch"], [*points, holds_data(target.parent)]):
        load(population[0], str(target), key, quarantine=tmp_path / "q.csv")  # the good state
        status = killed_when(command, due)
        assert counts_sqlite(target) in (old_students, new_students)  # one or the other, whole
        residue = {str(p): p.stat().st_size for p in target.parent.rglob(f"{PREFIX}*")}
        left_data += sum(residue.values()) > 0
        recorded = len(sweeps(state_url))
        next_start = subprocess.run(
            load_command(population[0], key_file, str(target), config, tmp_path / "q.csv"),
            capture_output=True,
            text=True,
        )
        assert next_start.returncode == 0, next_start.stderr
        assert not list(target.parent.rglob(f"{PREFIX}*")), (fraction, status)
        if residue:
            assert "scratch item(s)" in next_start.stderr
            assert "recorded in the audit trail" in next_start.stderr
            (event,) = sweeps(state_url)[recorded:]
            assert {r["path"]: r["bytes"] for r in event.details["removed"]} == residue
            assert event.details["bytes"] == sum(residue.values())
        assert counts_sqlite(target) == old_students
        names = sorted(p.name for p in target.parent.rglob("*"))
        assert names == ["grants.json", "proj_kill.sqlite", "projects", "warehouse.sqlite"]
    assert left_data  # at least one kill left pseudonymized rows in a scratch copy


def pg_students(url: str) -> int:
    u = sa.engine.make_url(url)
    info = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
    with psycopg.connect(info) as conn:
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
        assert "warehouse_staging" not in schemas  # never committed
        return conn.execute("SELECT count(*) FROM warehouse.students").fetchone()[0]


def test_a_killed_postgres_load_leaves_the_previous_warehouse(
    population, bigger, key_file, tmp_path, state, pg_db
):
    config, _ = state
    key = read_key(key_file)
    old_students = load(population[0], pg_db, key, quarantine=tmp_path / "q.csv").tables["students"]
    command = load_command(bigger, key_file, pg_db, config, tmp_path / "q.csv")
    whole = timed_run(command)
    new_students = pg_students(pg_db)
    for fraction in FRACTIONS:
        load(population[0], pg_db, key, quarantine=tmp_path / "q.csv")
        killed_after(command, whole * fraction)
        assert pg_students(pg_db) in (old_students, new_students)
        began = time.monotonic()  # the killed load's transaction does not hold up the next
        next_start = subprocess.run(
            load_command(population[0], key_file, pg_db, config, tmp_path / "q.csv"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert next_start.returncode == 0, next_start.stderr
        assert time.monotonic() - began < whole + 30
        assert pg_students(pg_db) == old_students
    assert not list(tmp_path.glob(f"{PREFIX}*"))  # nor of the quarantine report
