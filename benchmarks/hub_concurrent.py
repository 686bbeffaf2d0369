"""Ten researchers sign on and run a warehouse query at the same moment, on this machine.

Each thread: sign on through the provider, accept the agreement, start a session, start a
kernel, run a query. All must succeed; prints each researcher's latency and the spread.

    .venv/bin/python benchmarks/hub_concurrent.py [--researchers 10]
"""

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from hub_support import enclave, first_output, sign_on, spawn, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--researchers", type=int, default=10)
    args = parser.parse_args()
    with enclave(args.researchers) as running:
        stems = [f"r{i}" for i in range(args.researchers)]
        barrier = threading.Barrier(len(stems))
        signed_on = []

        def session(stem: str) -> float:
            barrier.wait()
            start = time.perf_counter()
            researcher = sign_on(running, stem)
            signed_on.append(researcher)
            spawn(researcher, timeout=300)
            first_output(researcher)
            return time.perf_counter() - start

        with ThreadPoolExecutor(len(stems)) as pool:
            futures = [pool.submit(session, stem) for stem in stems]
            results = []
            for stem, future in zip(stems, futures, strict=True):
                try:
                    results.append((running.names[stem], future.result(), None))
                except Exception as e:  # report every failure, not just the first
                    results.append((running.names[stem], None, f"{type(e).__name__}: {e}"))
        for name, seconds, error in results:
            print(f"  {name:<16} {'FAILED ' + error if error else f'{seconds:.2f} s'}")
        ok = [s for _, s, e in results if e is None]
        print(f"{len(ok)}/{len(results)} succeeded")
        if ok:
            print(summary("login -> query result, all at once", ok))
        for researcher in signed_on:
            researcher.stop_server()


if __name__ == "__main__":
    main()
