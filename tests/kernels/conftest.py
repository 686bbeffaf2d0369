"""A real synthetic warehouse (300 students), its query processes, and their query logs."""

import json
import os
import pwd

import pytest

from enclave.warehouse.query_process import QueryProcess
from tests.kernels.enclave_test_warehouse import ALL, build_sqlite, grant


@pytest.fixture(scope="session")
def sqlite_warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("warehouse")
    db = build_sqlite(root)
    return {
        "root": root,
        "url": str(db),
        "all": grant(str(db), "allinst", ALL),
        "cc101": grant(str(db), "cconly", "CC-101"),
    }


@pytest.fixture
def query_log(tmp_path):
    """The query log file, and a reader of its records."""
    path = tmp_path / "queries.jsonl"

    def records():
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    return path, records


@pytest.fixture
def query_process(query_log, tmp_path):
    """Start a real query process for an extract (as root, it drops to its own account);
    returns its ``enclave-query://`` URL. Stopped at the end of the test."""
    running = []

    def start(extract: str, project: str = "p1", user: str = "rita", **settings) -> str:
        process = QueryProcess(**settings).start(
            extract,
            str(tmp_path / f"q{len(running)}.sock"),
            peer=pwd.getpwuid(os.getuid()),
            user=user,
            project=project,
            log_file=str(query_log[0]),
        )
        running.append(process)
        process.wait_ready()
        return process.url

    start.running = running
    yield start
    for process in running:
        process.stop()
