"""Spawns wait on blocking steps in the hub's default executor: twenty at once must not queue
behind Python's default of min(32, cores + 4) threads (6 on two cores)."""

import asyncio
import time

from enclave.hub.spawner import EnclaveSpawner, _enough_threads


async def twenty_waits_at_once(seconds: float) -> float:
    began = time.monotonic()
    await asyncio.gather(*(asyncio.to_thread(time.sleep, seconds) for _ in range(20)))
    return time.monotonic() - began


def test_twenty_blocking_waits_run_side_by_side():
    async def main():
        _enough_threads(EnclaveSpawner.blocking_threads.default_value)
        return await twenty_waits_at_once(0.5)

    assert asyncio.run(main()) < 1.5  # 20 threads at once, not four rounds of 6


def test_without_it_they_queue_on_two_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert asyncio.run(twenty_waits_at_once(0.5)) >= 2.0  # ceil(20 / 6) rounds of 0.5 s
