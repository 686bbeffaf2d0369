"""A real synthetic warehouse (300 students) and the kernel's environment for tests."""

import json

import pytest

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
