"""Cost of isolation: spawn time of ``EnclaveSpawner`` against a stock ``LocalProcessSpawner``.

Two hubs run side by side in the same process tree, identical but for the spawner class (the
stock one runs the same session venv's ``jupyterhub-singleuser`` as the researcher's uid);
spawns alternate between them so load on the machine hits both alike. The enclave spawn
includes its checks, the query process, the workspace, the memory cgroup and the whole
bubblewrap sandbox (every namespace, the veth link and its nftables elements, the output
counter, setpriv). CPU seconds of each hub's process tree (hub, proxy, sandbox, server) are
printed beside the wall time. Goal: at most 1.3x.

    .venv/bin/python benchmarks/hub_spawn_cost.py [--rounds 15]
"""

import argparse
import re
import statistics

from hub_support import enclave, sign_on, spawn, summary, tree_cpu

from devstack.launch import SESSION_VENV

STOCK = f"""
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.LocalProcessSpawner.cmd = ["{SESSION_VENV}/bin/jupyterhub-singleuser"]
c.LocalProcessSpawner.default_url = "/lab"
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with enclave(1) as isolated, enclave(1, extra_config=STOCK) as stock:
        researchers = {
            "EnclaveSpawner": sign_on(isolated, "r0"),
            "LocalProcessSpawner": sign_on(stock, "r0"),
        }
        hubs = {"EnclaveSpawner": isolated, "LocalProcessSpawner": stock}
        timings = {label: [] for label in researchers}
        cpu = {label: [] for label in researchers}
        for researcher in researchers.values():
            spawn(researcher)  # warm-up: first imports, first nftables table
            researcher.stop_server()
        for _ in range(args.rounds):
            for label, researcher in researchers.items():
                before = tree_cpu(hubs[label].hub.process.pid)
                timings[label].append(spawn(researcher))
                cpu[label].append(tree_cpu(hubs[label].hub.process.pid) - before)
                researcher.stop_server()
        for label, seconds in timings.items():
            print(summary(f"spawn, {label}", seconds))
            print(f"  CPU seconds per spawn, {label}: median {statistics.median(cpu[label]):.2f}")
        ratio = statistics.median(timings["EnclaveSpawner"]) / statistics.median(
            timings["LocalProcessSpawner"]
        )
        cpu_ratio = statistics.median(cpu["EnclaveSpawner"]) / statistics.median(
            cpu["LocalProcessSpawner"]
        )
        print(f"isolation cost: {ratio:.2f}x wall (goal <= 1.3x), {cpu_ratio:.2f}x CPU")
        # the isolation steps alone, as the hub logs them (the rest is server start-up and the
        # hub's readiness polling, the same for both spawners)
        steps = [int(ms) for ms in re.findall(r"prepared in (\d+) ms", isolated.hub.log())]
        print(f"isolation steps before the server starts: median {statistics.median(steps)} ms")


if __name__ == "__main__":
    main()
