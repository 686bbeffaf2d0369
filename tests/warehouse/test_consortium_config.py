"""The warehouse follows the configured consortium: generate, check, load and grant a 40-member
consortium with a sector the code never named, from its config file alone."""

import json
import sqlite3

import pytest

from enclave.consortium import Consortium, demo
from enclave.review_service.stewards import holds_rows_of
from enclave.warehouse.link import _pair_rates
from tests.support import consortium as forty


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "jupyterhub_config.py"
    path.write_text(forty.config_lines())
    return path


@pytest.fixture(scope="module")
def loaded(config_file, tmp_path_factory):
    from enclave.cli import main
    from enclave.warehouse.pseudonymize import write_key

    root = tmp_path_factory.mktemp("forty")
    key = write_key(root / "key")
    warehouse = root / "w.sqlite"
    base = ["warehouse", "--config", str(config_file)]
    assert main([*base, "generate", "--out", str(root / "x"), "--students", "1500"]) == 0
    assert main([*base, "load", str(root / "x"), "--key", str(key), "--url", str(warehouse)]) == 0
    return root, warehouse


def test_every_member_sends_its_sectors_extracts(loaded):
    root, _ = loaded
    files = json.loads((root / "x" / "manifest.json").read_text())["files"]
    sent = {(f["institution"], f["table"]) for f in files}
    assert {i for i, _ in sent} == set(forty.INSTITUTIONS)
    assert ("ADULT-301", "course_outcomes") in sent and ("ADULT-301", "assessments") not in sent
    assert ("UNI-205", "degrees") in sent and ("K12-020", "graduations") in sent


def test_the_warehouse_holds_the_consortium_and_the_new_sectors_rows(loaded):
    _, warehouse = loaded
    with sqlite3.connect(warehouse) as conn:
        members = conn.execute("SELECT institution, name, sector FROM institutions").fetchall()
        adult = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT institution) FROM cc_enrollments "
            "WHERE institution LIKE 'ADULT-%'"
        ).fetchone()
        linked = conn.execute(
            "SELECT COUNT(*) FROM (SELECT student_key FROM students GROUP BY student_key "
            "HAVING COUNT(DISTINCT institution) > 1)"
        ).fetchone()[0]
    assert len(members) == 40
    assert ("ADULT-302", "Birch Adult School", "adult") in members
    assert adult[0] > 0 and adult[1] == 5
    assert linked > 100  # people followed across the forty members' records


def test_grant_takes_the_new_members_and_refuses_the_old_ones(loaded, config_file, capsys):
    from enclave.cli import main

    _, warehouse = loaded
    base = ["warehouse", "--config", str(config_file), "grant"]
    assert (
        main([*base, "adults", "--institutions", "ADULT-301,ADULT-305", "--url", str(warehouse)])
        == 0
    )
    extract = warehouse.parent / "projects" / "adults.sqlite"
    with sqlite3.connect(extract) as conn:
        seen = {r[0] for r in conn.execute("SELECT DISTINCT institution FROM cc_enrollments")}
    assert seen == {"ADULT-301", "ADULT-305"}
    capsys.readouterr()
    assert main([*base, "p", "--institutions", "CC-101,CC-999", "--url", str(warehouse)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("enclave: error: --institutions: unknown institution CC-999; use one of")
    assert "\n" not in err


def test_an_extract_from_outside_the_configured_consortium_is_refused(loaded, capsys):
    from enclave.cli import main

    root, _ = loaded
    # the demo's config does not know the adult schools: one line, nothing loaded
    code = main(["warehouse", "check", str(root / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "files[1]: unknown institution ADULT-301; use one of K12-001" in err[0]


def test_the_steward_rule_reads_layout_tables_by_sector():
    members = Consortium(sectors=forty.SECTORS, institutions=forty.INSTITUTIONS).check()
    assert holds_rows_of("cc_enrollments", "ADULT-301", members)
    assert not holds_rows_of("k12_enrollments", "ADULT-301", members)
    assert holds_rows_of("students", "ADULT-301", members)
    assert not holds_rows_of("cc_awards", "UNI-201", demo())


def test_pair_rates_for_more_members_than_a_bit_mask_holds():
    import numpy as np
    import pandas as pd

    codes = [f"X-{i:03d}" for i in range(80)]
    institution = pd.Series(codes * 2)
    roots = np.arange(160) % 80  # each person at one institution, twice
    roots[-1] = 0  # ...except person 0, also at X-079
    rows = {(a, b): both for a, b, both, _, _ in _pair_rates(institution, roots, codes)}
    assert len(rows) == 80 * 79 // 2
    assert rows["X-000", "X-079"] == 1 and sum(rows.values()) == 1
