"""The isolation pieces on their own: session role names, the sessions' network table (the
PostgreSQL recording pieces: tests/hub/test_recording.py and tests/warehouse/test_statement_log.py;
the sandbox: tests/hub/test_sandbox.py)."""

import os
import subprocess
import uuid

import pytest

from enclave.hub.isolation.network import NetworkError, SandboxNetwork
from enclave.hub.isolation.postgres import session_role


def test_session_role_names_stay_distinct_within_postgres_limit():
    long_db = "d" * 40
    a, b = session_role(long_db, "a" * 30), session_role(long_db, "a" * 29 + "b")
    assert len(a) <= 63 and len(b) <= 63 and a != b


def nft_table(table: str) -> str:
    return subprocess.run(
        ["nft", "list", "table", "inet", table], capture_output=True, text=True, check=True
    ).stdout


async def test_network_table_holds_endpoints_and_links_and_is_remade_by_a_new_hub():
    table = f"enclave_unit_{uuid.uuid4().hex[:8]}"
    network = SandboxNetwork(table)
    try:
        await network.allow("127.0.0.1", 9)
        await network.allow("localhost", 5432, warehouse=True)
        link = await network.create_link()
        listing = nft_table(table)
        assert "9 : 127.0.0.1 . 9" in listing and "5432 : 127.0.0.1 . 5432" in listing
        assert "snat ip to 127.0.0.2" in listing and f'"{link.name}"' in listing
        assert link.rewrite("postgresql://r:pw@127.0.0.1:5432/db") == (
            f"postgresql://r:pw@{link.gateway}:5432/db"
        )
        assert link.rewrite("http://127.0.0.1:10/x") == "http://127.0.0.1:10/x"  # not allowed
        await link.remove()
        assert f"{link.name}" not in os.listdir("/sys/class/net")
        await SandboxNetwork(table).ensure_table()  # a restarted hub starts from scratch
        assert "127.0.0.1 . 9" not in nft_table(table)
    finally:
        await network.remove_table()


async def test_network_refuses_endpoints_it_cannot_give_sessions():
    network = SandboxNetwork(f"enclave_unit_{uuid.uuid4().hex[:8]}")
    try:
        await network.allow("127.0.0.1", 9)
        with pytest.raises(NetworkError, match="one port 9"):
            await network.allow("127.0.0.2", 9)
        with pytest.raises(NetworkError, match="not an address of this machine"):
            await network.allow("192.0.2.77", 443)
    finally:
        await network.remove_table()


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
