"""The isolation pieces on their own: session role names, the egress table (the PostgreSQL
recording pieces: tests/hub/test_recording.py and tests/warehouse/test_statement_log.py)."""

import os
import subprocess
import uuid

from enclave.hub.isolation.egress import EgressRules
from enclave.hub.isolation.postgres import session_role


def test_session_role_names_stay_distinct_within_postgres_limit():
    long_db = "d" * 40
    a, b = session_role(long_db, "a" * 30), session_role(long_db, "a" * 29 + "b")
    assert len(a) <= 63 and len(b) <= 63 and a != b


async def test_egress_table_is_created_once_and_kept():
    table = f"enclave_unit_{uuid.uuid4().hex[:8]}"
    rules = EgressRules(table)
    try:
        await rules.confine(65534, {("127.0.0.1", 9)}, warehouse_port=5432)
        await EgressRules(table).confine(65534, {("127.0.0.1", 10)})  # a restarted hub
        listing = subprocess.run(
            ["nft", "list", "table", "inet", table], capture_output=True, text=True, check=True
        ).stdout
        assert "65534" in listing and "127.0.0.1 . 9" in listing and "127.0.0.1 . 10" in listing
        assert "snat ip to 127.0.0.2" in listing
    finally:
        await rules.remove_table()


def test_egress_tables_of_killed_test_runs_are_removed_and_live_ones_kept():
    from devstack.enclave import remove_stale_egress_tables

    dead = subprocess.Popen(["true"])  # a pid that no longer runs
    dead.wait()
    tables = {f"enclave_test_{dead.pid}_stale", f"enclave_test_{os.getpid()}_live"}
    for table in tables:
        subprocess.run(["nft", "add", "table", "inet", table], check=True)
    try:
        remove_stale_egress_tables.__wrapped__()
        listing = subprocess.run(
            ["nft", "list", "tables", "inet"], capture_output=True, text=True, check=True
        ).stdout
        assert f"enclave_test_{dead.pid}_stale" not in listing
        assert f"enclave_test_{os.getpid()}_live" in listing
    finally:
        for table in tables:
            subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)
