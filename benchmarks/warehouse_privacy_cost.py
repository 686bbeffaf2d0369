"""Cost of privacy: the same extracts loaded into SQLite with pseudonymization and linkage, and
without (student key = institution + local id, no linking, no hashing); prints the ratio.
Goal: at most 1.5x. Runs alternate and the best of each is compared, to damp a busy machine.

    .venv/bin/python benchmarks/warehouse_privacy_cost.py [--students 200000] [--repeat 2]
"""

import argparse
import os
import tempfile
from pathlib import Path

from warehouse_load import describe, extracts_for, timed_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", default=tempfile.gettempdir())
    args = parser.parse_args()
    extracts = extracts_for(args.students, args.seed, Path(args.work))
    best = {"with": (float("inf"), 0.0), "without": (float("inf"), 0.0)}  # (wall, CPU) seconds
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for mode, key in (("without", None), ("with", os.urandom(32))):
                url = str(Path(tmp) / f"{mode}.sqlite")
                result, cpu, busy = timed_load(extracts, url, key, Path(tmp) / "q.csv")
                best[mode] = min(best[mode], (result.seconds, cpu))
                print(f"{mode:>7} pseudonymization+linkage: {describe(result, cpu, busy)}")
    (wall_with, cpu_with), (wall_without, cpu_without) = best["with"], best["without"]
    print(
        f"privacy cost: {wall_with / wall_without:.2f}x wall clock, "
        f"{cpu_with / cpu_without:.2f}x CPU (goal at most 1.5x)"
    )


if __name__ == "__main__":
    main()
