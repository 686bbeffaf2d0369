"""A query through the SQLite query process (what every SQLite session and re-execution uses:
recorded before it runs, rows back as Arrow IPC) against the same query on the extract read
directly with sqlite3 into a DataFrame, for 1 row and 1,000,000 rows, alternating. Goal: at
most 1.2x plus 5 ms per query. Prints medians, the ratio and the fixed cost, with the CPU
seconds of this process and of the query process beside the wall time.

Needs root (the query process drops to its own account).

    .venv/bin/python benchmarks/query_process.py [--rounds 7]
"""

import argparse
import os
import pwd
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from enclave.kernels.client import Warehouse  # noqa: E402
from enclave.warehouse.query_process import QueryProcess  # noqa: E402
from tests.kernels.enclave_test_warehouse import build_sqlite, grant  # noqa: E402

TICKS = 100
ONE_ROW = "SELECT COUNT(*) AS n FROM cc_enrollments"
# a million rows of three columns from the extract's own tables (a cross join, cut)
MILLION = (
    "SELECT a.term, a.units_attempted, b.course_id FROM cc_enrollments a "
    "CROSS JOIN cc_course_outcomes b CROSS JOIN (SELECT 1 UNION ALL SELECT 2) LIMIT 1000000"
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def timed(run):
    began, cpu = time.perf_counter(), time.process_time()
    rows = len(run())
    return time.perf_counter() - began, time.process_time() - cpu, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-query-process-"))
    extract = grant(str(build_sqlite(root)), "bench", "CC-101")
    running = QueryProcess(log_file=str(root / "queries.jsonl")).start(
        extract,
        str(root / "q.sock"),
        peer=pwd.getpwuid(os.getuid()),
        user="bench",
        project="bench",
    )
    running.wait_ready()
    warehouse = Warehouse(running.url, "bench")
    direct = sqlite3.connect(f"file:{extract}?mode=ro", uri=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    try:
        for name, sql in (("1 row", ONE_ROW), ("1,000,000 rows", MILLION)):
            through, plain, server_cpu = [], [], 0.0
            rows = 0
            for _ in range(args.rounds):
                before = cpu_seconds(running.process.pid)
                through.append(timed(lambda sql=sql: warehouse.query(sql)))
                server_cpu += cpu_seconds(running.process.pid) - before
                plain.append(timed(lambda sql=sql: pd.read_sql_query(sql, direct)))
                rows = through[-1][2]
                assert rows == plain[-1][2], "the two paths returned different row counts"
            wall_q = statistics.median(t[0] for t in through)
            wall_d = statistics.median(t[0] for t in plain)
            cpu_q = statistics.median(t[1] for t in through)
            cpu_d = statistics.median(t[1] for t in plain)
            print(
                f"{name:>15}: query process {wall_q * 1000:8.1f} ms wall "
                f"(client {cpu_q:.3f} s CPU + process {server_cpu / args.rounds:.3f} s CPU), "
                f"direct sqlite3 {wall_d * 1000:8.1f} ms wall ({cpu_d:.3f} s CPU); "
                f"ratio {wall_q / wall_d:.2f}x, difference {(wall_q - wall_d) * 1000:+.1f} ms, "
                f"{rows / wall_q:,.0f} rows/s through the process"
            )
    finally:
        warehouse.close()
        running.stop()


if __name__ == "__main__":
    main()
