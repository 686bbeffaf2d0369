"""Cost of privacy: the same extracts loaded into SQLite with pseudonymization and linkage, and
without (student key = institution + local id, no linking, no hashing); prints the ratio.
Goal: at most 1.5x. Runs alternate and the best of each is compared, to damp a busy machine.

    .venv/bin/python benchmarks/warehouse_privacy_cost.py [--students 200000] [--repeat 2]
"""

import argparse
import os
import tempfile
from pathlib import Path

from warehouse_load import extracts_for

from warehouse.load import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", default=tempfile.gettempdir())
    args = parser.parse_args()
    extracts = extracts_for(args.students, args.seed, Path(args.work))
    best = {"with": float("inf"), "without": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for mode, key in (("without", None), ("with", os.urandom(32))):
                result = load(
                    extracts, str(Path(tmp) / f"{mode}.sqlite"), key, quarantine=Path(tmp) / "q.csv"
                )
                best[mode] = min(best[mode], result.seconds)
                print(
                    f"{mode:>7} pseudonymization+linkage: {result.seconds:6.2f} s  "
                    f"{result.rows_read / result.seconds:,.0f} rows/s"
                )
    print(
        f"privacy cost: {best['with'] / best['without']:.2f}x (goal at most 1.5x); "
        f"rows: {result.rows_read:,}"
    )


if __name__ == "__main__":
    main()
