"""Waiting for sandboxes holds no thread: with more running sessions than the default
executor has workers, the hub's other blocking steps (imports, stops, name resolution) still run."""

import asyncio
import os
import subprocess
import time

from enclave.hub.isolation.sandbox import exited


async def test_many_waits_leave_the_default_executor_free():
    workers = min(32, (os.cpu_count() or 1) + 4)  # asyncio's default executor
    sleepers = [subprocess.Popen(["sleep", "2"]) for _ in range(workers + 4)]
    waits = [asyncio.ensure_future(exited(p)) for p in sleepers]
    began = time.monotonic()
    await asyncio.wait_for(asyncio.to_thread(lambda: None), 1)  # not queued behind the waits
    assert time.monotonic() - began < 1
    assert await asyncio.gather(*waits) == [0] * len(sleepers)


async def test_exit_status_of_a_process_already_reaped_or_killed():
    done = subprocess.Popen(["true"])
    done.wait()
    assert await exited(done) == 0
    killed = subprocess.Popen(["sleep", "30"])
    killed.kill()
    assert await exited(killed) == -9
