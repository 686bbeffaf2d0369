"""Many researchers starting at once: ``EnclaveSpawner`` (full sandbox) against a stock
``LocalProcessSpawner``, same run.

Two hubs run side by side, identical but for the spawner class (as in ``hub_spawn_cost.py``),
each with ``--researchers`` signed-on members of one project. Each round, all of one hub's
researchers ask for a session at the same moment (a barrier), then all of the other's; the
burst's time is from the barrier until the last session is ready. The hubs alternate, and the
order flips every round, so load on the machine hits both alike. Prints each burst's wall time,
the median spawn within it, and the CPU seconds of the hub's whole process tree (hub, proxy,
sandboxes, servers) over the burst. Goal: at most 1.3x.

    .venv/bin/python benchmarks/hub_spawn_burst.py [--researchers 20] [--rounds 2]
"""

import argparse
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from hub_spawn_cost import STOCK
from hub_support import enclave, sign_on, spawn, summary, tree_cpu


def burst(running, researchers, timeout: float = 600) -> tuple[float, list[float], float]:
    """(wall seconds until every session is ready, each spawn's seconds, CPU seconds)."""
    barrier = threading.Barrier(len(researchers) + 1)

    def one(researcher) -> float:
        barrier.wait()
        return spawn(researcher, timeout=timeout)

    cpu = tree_cpu(running.hub.process.pid)
    with ThreadPoolExecutor(len(researchers)) as pool:
        futures = [pool.submit(one, r) for r in researchers]
        barrier.wait()
        began = time.perf_counter()
        spawns = [f.result() for f in futures]
        wall = time.perf_counter() - began
    cpu = tree_cpu(running.hub.process.pid) - cpu
    began = time.perf_counter()
    with ThreadPoolExecutor(len(researchers)) as pool:  # all stopped at once too
        assert all(pool.map(lambda r: r.stop_server(900), researchers)), "a session did not stop"
    print(f"  ({len(researchers)} stopped at once in {time.perf_counter() - began:.1f} s)")
    return wall, spawns, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--researchers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    n = args.researchers
    with enclave(n) as isolated, enclave(n, extra_config=STOCK) as stock:
        hubs = {"EnclaveSpawner": isolated, "LocalProcessSpawner": stock}
        people = {
            label: [sign_on(running, f"r{i}") for i in range(n)] for label, running in hubs.items()
        }
        for label, running in hubs.items():  # warm-up: first imports, first nftables table
            burst(running, people[label][:2])
        walls = {label: [] for label in hubs}
        spawns = {label: [] for label in hubs}
        cpus = {label: [] for label in hubs}
        for round_ in range(args.rounds):
            order = list(hubs) if round_ % 2 == 0 else list(reversed(hubs))
            for label in order:
                wall, each, cpu = burst(hubs[label], people[label])
                walls[label].append(wall)
                spawns[label].extend(each)
                cpus[label].append(cpu)
                print(
                    f"round {round_ + 1}, {label}: {n} at once ready in {wall:.1f} s "
                    f"(median spawn {statistics.median(each):.1f} s), {cpu:.1f} CPU-s, "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        for label in hubs:
            print(summary(f"{n} at once, {label}, until all ready", walls[label]))
            print(summary(f"  each spawn in the burst, {label}", spawns[label]))
            print(f"  CPU seconds per burst, {label}: median {statistics.median(cpus[label]):.1f}")
        ratio = statistics.median(walls["EnclaveSpawner"]) / statistics.median(
            walls["LocalProcessSpawner"]
        )
        cpu_ratio = statistics.median(cpus["EnclaveSpawner"]) / statistics.median(
            cpus["LocalProcessSpawner"]
        )
        print(
            f"{n} at once, sandbox vs stock: {ratio:.2f}x wall (goal <= 1.3x), {cpu_ratio:.2f}x CPU"
        )


if __name__ == "__main__":
    main()
