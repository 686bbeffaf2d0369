"""Cost of recording on PostgreSQL: the same warehouse query through the kernel's client, on the
hot standby, as a session role with pgAudit recording (the hub's settings) and as one with
pgAudit logging off, alternating in one run; prints medians and the ratio. Goal: at most 1.2x.
CPU is the client's plus the server backend's plus the standby's log collector's.

Needs the recording clusters (``make recording-clusters``) and root (it reads /proc).

    .venv/bin/python benchmarks/pgaudit_overhead.py [--students 20000] [--rounds 60] [--query SQL]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import recording_database  # noqa: E402 (a database on the clusters)

QUERY = (
    "SELECT s.institution, count(*) AS n, avg(e.units_attempted) AS units FROM students s "
    "JOIN cc_enrollments e USING (student_key, institution) GROUP BY 1 ORDER BY 1"
)
TICKS = 100  # clock ticks per second of /proc/<pid>/stat (Linux's USER_HZ)


class NoRecorder:
    def record(self, entry):
        pass


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def logger_pid(reader_url: str) -> int:
    """The standby's log collector, a child of its postmaster."""
    import sqlalchemy as sa

    engine = sa.create_engine(reader_url)
    with engine.connect() as conn:
        data = conn.exec_driver_sql("SHOW data_directory").scalar()
    engine.dispose()
    postmaster = Path(data, "postmaster.pid").read_text().split()[0]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if stat.rpartition(")")[2].split()[1] == postmaster and b"logger" in cmdline:
                return int(proc.name)
    raise SystemExit("cannot find the standby's log collector process")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--query", default=QUERY, help="the SQL (default: a join and aggregate)")
    args = parser.parse_args()

    import sqlalchemy as sa

    from enclave.hub.isolation.postgres import SessionRoles, ensure_cluster, wait_for_replay
    from enclave.kernels.client import Warehouse
    from enclave.state import make_engine
    from enclave.warehouse.generate import generate
    from enclave.warehouse.grant import grant_project
    from enclave.warehouse.load import load
    from enclave.warehouse.pseudonymize import read_key, write_key

    with tempfile.TemporaryDirectory() as tmp, recording_database() as wh:
        root = Path(tmp)
        generate(root / "extracts", args.students, 3)
        load(
            root / "extracts",
            wh.url,
            read_key(write_key(root / "key")),
            accept_rejects=True,
            quarantine=root / "q",
        )
        role = grant_project(wh.url, "bench", ["K12-001", "CC-101", "CC-102", "UNI-201"])
        ensure_cluster(wh.url, wh.reader_url)
        state = make_engine(f"sqlite:///{root / 'state.sqlite'}")
        roles = SessionRoles(wh.url, state, reader_url=wh.reader_url)
        logins = {mode: roles.open(f"bench_{mode}", "bench", role) for mode in ("on", "off")}
        admin = sa.create_engine(wh.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER ROLE "{logins["off"].role}" SET pgaudit.log = none')
            conn.exec_driver_sql(f'ALTER ROLE "{logins["off"].role}" RESET pgaudit.role')
            wait_for_replay(conn, wh.reader_url)
        admin.dispose()
        clients = {
            m: Warehouse(login.url, "bench", "b.ipynb", NoRecorder()) for m, login in logins.items()
        }
        backends = {}
        for mode, client in clients.items():
            client.query(args.query)  # warm: catalog, institutions, plan cache
            backends[mode] = int(client.query("SELECT pg_backend_pid() AS pid").pid[0])
        logger = logger_pid(wh.reader_url)
        walls = {"on": [], "off": []}
        cpus = {"on": 0.0, "off": 0.0}
        for _ in range(args.rounds):
            for mode in ("off", "on"):
                before = (time.process_time(), cpu_seconds(backends[mode]), cpu_seconds(logger))
                start = time.perf_counter()
                clients[mode].query(args.query)
                walls[mode].append(time.perf_counter() - start)
                after = (time.process_time(), cpu_seconds(backends[mode]), cpu_seconds(logger))
                cpus[mode] += sum(a - b for a, b in zip(after, before, strict=True))
        for client in clients.values():
            client.close()
        roles.close("bench_on")
        roles.close("bench_off")
    on, off = statistics.median(walls["on"]), statistics.median(walls["off"])
    for mode, median in (("pgAudit on", on), ("logging off", off)):
        key = "on" if mode == "pgAudit on" else "off"
        print(
            f"{mode:>11}: median {median * 1000:.1f} ms wall per query, "
            f"{cpus[key] / args.rounds * 1000:.1f} ms CPU (n={args.rounds})"
        )
    print(
        f"recording cost: {on / off:.2f}x wall clock, {cpus['on'] / cpus['off']:.2f}x CPU "
        "(goal at most 1.2x)"
    )


if __name__ == "__main__":
    main()
