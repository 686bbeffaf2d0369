"""Login to first kernel output, through the real provider, hub, spawner and kernel.

Each round: sign on (provider form), accept the agreement (first round only), start a server
for the project, start a kernel, run a warehouse query, read its output; then stop the server.
Prints the median of 10 rounds.

    .venv/bin/python benchmarks/hub_login_to_output.py [--rounds 10]
"""

import argparse
import time

from hub_support import Researcher, enclave, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with enclave(1) as running:
        researcher = Researcher(running, running.names["r0"])
        timings = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            researcher.login()
            researcher.spawn()
            researcher.first_output()
            timings.append(time.perf_counter() - start)
            researcher.stop()
        print(summary("login -> first kernel output", timings))


if __name__ == "__main__":
    main()
