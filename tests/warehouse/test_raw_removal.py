"""Raw extracts removed after a successful load (issue 14 item 3), with sizes and hashes in
the audit trail; kept when the load fails or the setting says so."""

import hashlib

from test_bad_input import set_cell

from enclave.audit import AuditAction, AuditLog
from enclave.state import make_engine


def config_file(tmp_path, remove: bool | None):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    make_engine(url).dispose()
    path = tmp_path / "config.py"
    lines = [f"c.EnclaveState.db_url = {url!r}"]
    if remove is not None:
        lines.append(f"c.WarehouseSettings.remove_raw_after_load = {remove}")
    path.write_text("\n".join(lines) + "\n")
    return path, url


def raw_files(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "quarantine.csv"
    }


def load_args(config, extracts, key_file, tmp_path, *more):
    return ("warehouse", "--config", config, "load", extracts, "--key", key_file,
            "--url", tmp_path / "w.sqlite", "--accept-rejects", *more)  # fmt: skip


def test_the_raw_extracts_go_once_loaded_and_the_trail_says_what_they_were(
    cli, extracts, key_file, tmp_path
):
    config, url = config_file(tmp_path, True)
    before = raw_files(extracts)
    code, out, err = cli(*load_args(config, extracts, key_file, tmp_path))
    assert code == 0, err
    assert f"removed the {len(before)} raw file(s)" in out and "recorded in the audit" in out
    assert raw_files(extracts) == {} and (extracts / "quarantine.csv").is_file()
    engine = make_engine(url)
    [event] = AuditLog(engine).events(action=AuditAction.WAREHOUSE_RAW_REMOVE)
    recorded = {f["name"].removeprefix(f"{extracts}/"): f["sha256"] for f in event.details["files"]}
    assert recorded == before
    assert [p.name for p in extracts.iterdir()] == ["quarantine.csv"]  # no empty folders left
    engine.dispose()


def test_kept_by_default_and_with_no_remove_raw(cli, extracts, key_file, tmp_path):
    config, _ = config_file(tmp_path, None)
    before = raw_files(extracts)
    assert cli(*load_args(config, extracts, key_file, tmp_path))[0] == 0
    assert raw_files(extracts) == before
    config, _ = config_file(tmp_path, True)
    code, out, _ = cli(*load_args(config, extracts, key_file, tmp_path, "--no-remove-raw"))
    assert code == 0 and "removed the" not in out and raw_files(extracts) == before


def test_a_failed_load_keeps_them(cli, extracts, key_file, tmp_path):
    config, url = config_file(tmp_path, True)
    set_cell(extracts / "CC-101/students.csv", 3, "ssn", "666-12-3456")
    before = raw_files(extracts)
    # a rejected row and no --accept-rejects: nothing is loaded
    code, _, err = cli(*load_args(config, extracts, key_file, tmp_path)[:-1])
    assert code == 3 and raw_files(extracts) == before
    engine = make_engine(url)
    assert AuditLog(engine).events(action=AuditAction.WAREHOUSE_RAW_REMOVE) == []
    engine.dispose()
