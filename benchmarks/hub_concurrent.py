"""Ten researchers sign on and run a warehouse query at the same moment, on this machine.

Each thread: sign on through the provider, accept the agreement, start a session, start a
kernel, run a query. All must succeed; prints each researcher's latency and the spread.

    .venv/bin/python benchmarks/hub_concurrent.py [--researchers 10]
"""

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from hub_support import Researcher, enclave, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--researchers", type=int, default=10)
    args = parser.parse_args()
    with enclave(args.researchers) as running:
        people = [Researcher(running, running.names[f"r{i}"]) for i in range(args.researchers)]
        barrier = threading.Barrier(len(people))

        def session(researcher: Researcher) -> float:
            barrier.wait()
            start = time.perf_counter()
            researcher.login()
            researcher.spawn(timeout=300)
            researcher.first_output()
            return time.perf_counter() - start

        with ThreadPoolExecutor(len(people)) as pool:
            futures = [pool.submit(session, r) for r in people]
            results = []
            for researcher, future in zip(people, futures, strict=True):
                try:
                    results.append((researcher.name, future.result(), None))
                except Exception as e:  # report every failure, not just the first
                    results.append((researcher.name, None, f"{type(e).__name__}: {e}"))
        for name, seconds, error in results:
            print(f"  {name:<16} {'FAILED ' + error if error else f'{seconds:.2f} s'}")
        ok = [s for _, s, e in results if e is None]
        print(f"{len(ok)}/{len(results)} succeeded")
        if ok:
            print(summary("login -> query result, all at once", ok))
        for researcher in people:
            researcher.stop()


if __name__ == "__main__":
    main()
