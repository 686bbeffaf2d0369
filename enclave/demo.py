"""``make demo``: a warehouse of synthetic consortium data, ready to analyse.

``prepare_warehouse(dir)`` generates extracts, creates a key and loads a SQLite warehouse
under ``dir``, reusing whatever a previous run left there, so running it again is quick and
changes nothing. Later stages (the hub) call it before starting their own services.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from enclave.errors import EnclaveError

DEMO_STUDENTS = 5000
DEMO_SEED = 2024


@dataclass
class DemoWarehouse:
    extracts: Path
    key: Path
    warehouse: Path


def _table_counts(path: Path) -> str:
    import sqlalchemy as sa

    from warehouse.db import connect_readonly
    from warehouse.schema import WAREHOUSE_TABLES

    engine = connect_readonly(str(path))
    with engine.connect() as conn:
        counts = {
            t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in WAREHOUSE_TABLES
        }
    engine.dispose()
    return "\n".join(f"  {t:<20} {n:>9,}" for t, n in counts.items())


def prepare_warehouse(directory: str | Path, students: int = DEMO_STUDENTS) -> DemoWarehouse:
    """Generate, keygen and load under ``directory`` (each step only if its output is missing)."""
    from warehouse.generate import MANIFEST, generate
    from warehouse.load import load
    from warehouse.pseudonymize import read_key, write_key
    from warehouse.summary import format_summary

    root = Path(directory)
    demo = DemoWarehouse(root / "extracts", root / "warehouse.key", root / "warehouse.sqlite")
    root.mkdir(parents=True, exist_ok=True)
    if not (demo.extracts / MANIFEST).is_file():
        generate(demo.extracts, students, DEMO_SEED)
        print(f"generated synthetic extracts for {students:,} people in {demo.extracts}")
    if not demo.key.exists():
        write_key(demo.key)
        print(f"created the pseudonymization key {demo.key} (mode 0600)")
    if demo.warehouse.is_file():
        print(f"reusing the warehouse {demo.warehouse}:\n{_table_counts(demo.warehouse)}")
    else:
        result = load(demo.extracts, str(demo.warehouse), read_key(demo.key))
        print(format_summary(result))
    return demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Set up the enclave demo on synthetic data.")
    parser.add_argument("--dir", default="demo-data", help="where the demo keeps its files")
    args = parser.parse_args(argv)
    try:
        demo = prepare_warehouse(args.dir)
        from hub.demo import run_demo

        return run_demo(args.dir, demo.warehouse)
    except EnclaveError as e:
        print(f"enclave demo: error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
