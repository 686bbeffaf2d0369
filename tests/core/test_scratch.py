"""Scratch files: private, found and removed after a crash, never while their operation runs."""

import os
import stat
import subprocess
import sys
import threading

import pytest

from enclave.audit import AuditAction, AuditLog
from enclave.scratch import PREFIX, Scratch, describe, record_sweep, report_sweep, sweep
from enclave.state import make_engine

CRASH = """
import os, sys
from enclave.scratch import Scratch
file = Scratch(sys.argv[1], "load")
file.path.write_bytes(b"x" * 40000)
folder = Scratch(sys.argv[1], "report", folder=True)
(folder.path / "partial.ipynb").write_bytes(b"y" * 1000)
print(file.path, folder.path, flush=True)
os.kill(os.getpid(), 9)  # killed mid-operation: no clean-up runs
"""


def crashed_operation(directory) -> list[str]:
    directory.mkdir(exist_ok=True)
    run = subprocess.run(
        [sys.executable, "-c", CRASH, str(directory)], capture_output=True, text=True
    )
    assert run.returncode == -9, run.stderr
    return run.stdout.split()


def test_scratch_is_private_and_named_to_be_found(tmp_path):
    with Scratch(tmp_path, "warehouse.sqlite") as file, Scratch(tmp_path, "run", folder=True) as d:
        assert file.path.name.startswith(f"{PREFIX}warehouse.sqlite-")
        assert stat.S_IMODE(file.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(d.path.stat().st_mode) == 0o700
    assert list(tmp_path.iterdir()) == []  # left unpublished: removed


def test_a_published_scratch_becomes_the_target(tmp_path):
    with Scratch(tmp_path, "grants.json") as scratch:
        scratch.path.write_text("{}")
        scratch.replace(tmp_path / "grants.json")
    assert [p.name for p in tmp_path.iterdir()] == ["grants.json"]


def test_what_a_killed_operation_left_is_swept_with_its_size(tmp_path):
    file, folder = crashed_operation(tmp_path)
    (tmp_path / "warehouse.sqlite").write_bytes(b"the previous good warehouse")
    swept = sweep(tmp_path)
    assert {(str(s.path), s.size) for s in swept} == {(file, 40000), (folder, 1000)}
    assert [p.name for p in tmp_path.iterdir()] == ["warehouse.sqlite"]
    assert describe(swept).startswith("removed 2 scratch item(s) (41,000 bytes)")


def test_a_scratch_in_use_is_never_swept(tmp_path):
    with Scratch(tmp_path, "load") as running, Scratch(tmp_path, "run", folder=True) as folder:
        assert sweep(tmp_path) == []
        assert running.path.exists() and folder.path.exists()


def test_other_files_and_links_are_left_alone(tmp_path):
    (tmp_path / ".warehouse.sqlite.1234.tmp").write_text("someone else's")
    (tmp_path / f"{PREFIX}link").symlink_to("/etc/passwd")
    assert sweep(tmp_path) == []
    assert len(list(tmp_path.iterdir())) == 2


def test_scratch_created_while_sweeps_run_survives(tmp_path):
    """Creation and sweeps take turns: a sweep never takes a scratch created that instant."""
    lost, stop = [], threading.Event()

    def sweeping():
        while not stop.is_set():
            sweep(tmp_path)

    sweeper = threading.Thread(target=sweeping)
    sweeper.start()
    try:
        for _ in range(300):
            with Scratch(tmp_path, "load") as scratch:
                if not scratch.path.exists():
                    lost.append(scratch.path)
    finally:
        stop.set()
        sweeper.join()
    assert lost == []


def test_a_sweep_goes_into_the_audit_trail(tmp_path):
    crashed_operation(tmp_path / "w")
    engine = make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
    record_sweep(engine, sweep(tmp_path / "w"), actor="steward", operation="warehouse load")
    (event,) = AuditLog(engine).events(action=AuditAction.SCRATCH_SWEEP)
    assert event.actor == "steward" and event.details["bytes"] == 41000
    assert sorted(r["bytes"] for r in event.details["removed"]) == [1000, 40000]


@pytest.mark.parametrize("state", ["none", "missing", "existing"])
def test_a_command_says_where_its_sweep_was_recorded(tmp_path, state):
    crashed_operation(tmp_path / "w")
    url = {
        "none": None,
        "missing": f"sqlite:///{tmp_path / 'nowhere.sqlite'}",
        "existing": f"sqlite:///{tmp_path / 'state.sqlite'}",
    }[state]
    if state == "existing":
        make_engine(url).dispose()
    line = report_sweep(sweep(tmp_path / "w"), state_url=url, actor="a", operation="load")
    assert line.startswith("removed 2 scratch item(s) (41,000 bytes)")
    assert ("recorded in the audit trail" in line) == (state == "existing")
    assert not (tmp_path / "nowhere.sqlite").exists()  # never a new, empty state database
    assert os.listdir(tmp_path / "w") == []
