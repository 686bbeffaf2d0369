"""Login to first kernel output, through the real provider, hub, spawner and kernel.

Each round: sign on (provider form), accept the agreement (first round only), start a server
for the project, start a kernel, run a warehouse query, read its output; then stop the server.
Prints the median of 10 rounds, with the CPU seconds of the hub's process tree (hub, proxy,
services, the session server and its kernel) per round beside the wall time.

    .venv/bin/python benchmarks/hub_login_to_output.py [--rounds 10]
"""

import argparse
import statistics
import time

from hub_support import enclave, first_output, sign_on, spawn, summary, tree_cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with enclave(1) as running:
        timings, cpu = [], []
        for _ in range(args.rounds):
            cpu_before = tree_cpu(running.hub.process.pid)
            start = time.perf_counter()
            researcher = sign_on(running, "r0")
            spawn(researcher)
            first_output(researcher)
            timings.append(time.perf_counter() - start)
            cpu.append(tree_cpu(running.hub.process.pid) - cpu_before)
            researcher.stop_server()
        print(
            f"{summary('login -> first kernel output', timings)}; "
            f"CPU median {statistics.median(cpu):.2f} s"
        )


if __name__ == "__main__":
    main()
