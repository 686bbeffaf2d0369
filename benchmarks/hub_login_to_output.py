"""Login to first kernel output, through the real provider, hub, spawner and kernel.

Each round: sign on (provider form), accept the agreement (first round only), start a server
for the project, start a kernel, run a warehouse query, read its output; then stop the server.
Prints the median of 10 rounds.

    .venv/bin/python benchmarks/hub_login_to_output.py [--rounds 10]
"""

import argparse
import time

from hub_support import enclave, first_output, sign_on, spawn, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with enclave(1) as running:
        timings = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            researcher = sign_on(running, "r0")
            spawn(researcher)
            first_output(researcher)
            timings.append(time.perf_counter() - start)
            researcher.stop_server()
        print(summary("login -> first kernel output", timings))


if __name__ == "__main__":
    main()
