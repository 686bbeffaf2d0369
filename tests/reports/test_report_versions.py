"""The warehouse version in a run key changes when the data is reloaded, on both backends."""

from pathlib import Path

from enclave.reports.versions import warehouse_version
from tests.kernels.enclave_test_warehouse import build_sqlite, grant, load


def test_sqlite_version_changes_when_the_extract_is_rebuilt(tmp_path):
    db = build_sqlite(tmp_path)
    extract = grant(str(db), "study", "CC-101")
    before = warehouse_version(extract)
    assert warehouse_version(extract) == before
    grant(str(db), "study", "CC-101")  # a new grant replaces the extract file
    assert warehouse_version(extract) != before
    assert Path(extract).is_file()


def test_postgres_version_changes_on_reload(tmp_path, pg_url):
    build_sqlite(tmp_path)
    load(tmp_path, pg_url)
    role_url = grant(pg_url, "study", "CC-101")
    before = warehouse_version(role_url)
    assert warehouse_version(role_url) == before
    load(tmp_path, pg_url)
    assert warehouse_version(role_url) != before
