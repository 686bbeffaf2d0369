"""The demo's warehouse: synthetic consortium data, ready to analyse.

``prepare_warehouse(dir)`` generates extracts, creates a key and loads a SQLite warehouse
under ``dir``, reusing whatever a previous run left there, so running it again is quick and
changes nothing. Later stages (the hub) call it before starting their own services.
"""

from dataclasses import dataclass
from pathlib import Path

DEMO_STUDENTS = 5000
DEMO_SEED = 2024


@dataclass
class DemoWarehouse:
    extracts: Path
    key: Path
    warehouse: Path


def _table_counts(path: Path) -> str:
    import sqlalchemy as sa

    from enclave.warehouse.db import connect_readonly
    from enclave.warehouse.schema import WAREHOUSE_TABLES

    engine = connect_readonly(str(path))
    with engine.connect() as conn:
        counts = {
            t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in WAREHOUSE_TABLES
        }
    engine.dispose()
    return "\n".join(f"  {t:<20} {n:>9,}" for t, n in counts.items())


def prepare_warehouse(directory: str | Path, students: int = DEMO_STUDENTS) -> DemoWarehouse:
    """Generate, keygen and load under ``directory`` (each step only if its output is missing).

    Each step imports its code only when it runs: a second ``make demo`` reuses everything and
    should not pay for pandas and the generator (about half a second of CPU).
    """
    from enclave.warehouse.schema import MANIFEST

    root = Path(directory)
    demo = DemoWarehouse(root / "extracts", root / "warehouse.key", root / "warehouse.sqlite")
    root.mkdir(parents=True, exist_ok=True)
    if not (demo.extracts / MANIFEST).is_file():
        from enclave.warehouse.generate import generate

        generate(demo.extracts, students, DEMO_SEED)
        print(f"generated synthetic extracts for {students:,} people in {demo.extracts}")
    if not demo.key.exists():
        from enclave.warehouse.pseudonymize import write_key

        write_key(demo.key)
        print(f"created the pseudonymization key {demo.key} (mode 0600)")
    if demo.warehouse.is_file():
        print(f"reusing the warehouse {demo.warehouse}:\n{_table_counts(demo.warehouse)}")
    else:
        from enclave.warehouse.load import load
        from enclave.warehouse.pseudonymize import read_key
        from enclave.warehouse.summary import format_summary

        result = load(demo.extracts, str(demo.warehouse), read_key(demo.key))
        print(format_summary(result))
    return demo
