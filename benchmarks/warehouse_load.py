"""Load throughput: generated extracts (200,000 people, over a million enrollment-level rows)
into SQLite and into PostgreSQL; prints rows/s. Goal: at least 250,000 rows/s into SQLite.

    .venv/bin/python benchmarks/warehouse_load.py [--students 200000] [--pg-url URL]

The PostgreSQL run uses a scratch database (and its roles) that it drops afterwards.
"""

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from enclave.warehouse.generate import generate
from enclave.warehouse.load import load

PG_ADMIN = os.environ.get(
    "ENCLAVE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def extracts_for(students: int, seed: int, root: Path) -> Path:
    """Generated extracts under ``root`` (reused when a previous run left them)."""
    out = root / f"extracts-{students}-{seed}"
    if not (out / "manifest.json").is_file():
        started = time.perf_counter()
        pop = generate(out, students, seed)
        rows = sum(len(df) for df in pop.files.values())
        took = time.perf_counter() - started
        print(f"generated {rows:,} rows for {students:,} people in {took:.1f} s")
    return out


def timed_load(extracts: Path, url: str, key: bytes | None, quarantine: Path):
    """load() plus the CPU seconds it used (all threads) and the load average before it."""
    busy = os.getloadavg()[0]
    cpu = time.process_time()
    result = load(extracts, url, key, quarantine=quarantine, clear_ids_baseline=key is None)
    return result, time.process_time() - cpu, busy


def describe(result, cpu: float, busy: float) -> str:
    events = sum(ex.read for ex in result.extracts if ex.table.name != "students")
    students = sum(ex.read for ex in result.extracts if ex.table.name == "students")
    rate = result.rows_read / result.seconds
    return (
        f"{result.rows_read:,} rows ({events:,} enrollment-level, {students:,} student rows) "
        f"in {result.seconds:.2f} s = {rate:,.0f} rows/s "
        f"[{cpu:.1f} CPU-s in this process; load average {busy:.1f} on {os.cpu_count()} cores]"
    )


def scratch_database(admin_url: str):
    """Create a scratch database; return its URL and a function that removes it and its roles."""
    name = f"enclave_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(admin_url).set(database=name)

    def drop():
        db = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with db.connect() as conn:
            roles = (
                conn.execute(
                    sa.text("SELECT rolname FROM pg_roles WHERE starts_with(rolname, :p)"),
                    {"p": name + "_"},
                )
                .scalars()
                .all()
            )
            for role in roles:
                conn.execute(sa.text(f'DROP OWNED BY "{role}" CASCADE'))
        db.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            for role in roles:
                conn.execute(sa.text(f'DROP ROLE "{role}"'))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", default=tempfile.gettempdir(), help="where extracts are kept")
    parser.add_argument("--pg-url", default=PG_ADMIN, help="admin URL ('' to skip PostgreSQL)")
    args = parser.parse_args()
    extracts = extracts_for(args.students, args.seed, Path(args.work))
    key = os.urandom(32)
    with tempfile.TemporaryDirectory() as tmp:
        run = timed_load(extracts, str(Path(tmp) / "w.sqlite"), key, Path(tmp) / "q.csv")
        print(f"SQLite:     {describe(*run)} (goal 250,000 rows/s)")
        if args.pg_url:
            url, drop = scratch_database(args.pg_url)
            try:
                run = timed_load(extracts, url, key, Path(tmp) / "q.csv")
                print(f"PostgreSQL: {describe(*run)}")
            finally:
                drop()


if __name__ == "__main__":
    main()
