"""SQLite project extracts, the k-anonymity report, generator determinism and ``make demo``."""

import filecmp
import os
import sqlite3
import stat

import pytest

from devstack.warehouse_demo import prepare_warehouse
from enclave.errors import EnclaveError
from enclave.warehouse.generate import generate
from enclave.warehouse.grant import grant_project
from enclave.warehouse.load import load
from enclave.warehouse.pseudonymize import read_key
from enclave.warehouse.risk import risk_report
from enclave.warehouse.schema import WAREHOUSE_TABLES
from enclave.warehouse.store_sqlite import ScratchDatabase, create_tables


@pytest.fixture
def warehouse_file(population, key_file, tmp_path):
    path = tmp_path / "w.sqlite"
    load(population[0], str(path), read_key(key_file), quarantine=tmp_path / "q")
    return path


def institutions_per_table(path) -> dict:
    with sqlite3.connect(path) as conn:
        return {
            t: {r[0] for r in conn.execute(f"SELECT DISTINCT institution FROM {t}")}
            for t in WAREHOUSE_TABLES
        }


def test_a_sqlite_grant_is_an_extract_of_the_approved_rows(warehouse_file, cli):
    code, out, err = cli(
        "warehouse", "grant", "ccstudy", "--institutions", "CC-101,K12-002", "--url", warehouse_file
    )
    assert code == 0, err
    path = warehouse_file.parent / "projects" / "ccstudy.sqlite"
    assert str(path) in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    seen = institutions_per_table(path)
    assert seen["students"] == {"CC-101", "K12-002"}
    assert seen["cc_course_outcomes"] == {"CC-101"} and seen["univ_degrees"] == set()
    with sqlite3.connect(path) as conn, sqlite3.connect(warehouse_file) as full:
        q = "SELECT COUNT(*) FROM cc_enrollments WHERE institution = 'CC-101'"
        assert conn.execute(q).fetchone() == full.execute(q).fetchone()


def test_sqlite_grant_refusals(warehouse_file, tmp_path):
    with pytest.raises(EnclaveError, match="unknown institution"):
        grant_project(str(warehouse_file), "p", ["CC-999"])
    with pytest.raises(EnclaveError, match="not a project name"):
        grant_project(str(warehouse_file), "../escape", ["CC-101"])
    with pytest.raises(EnclaveError, match="load"):
        grant_project(str(tmp_path / "none.sqlite"), "p", ["CC-101"])


def test_risk_counts_equivalence_classes(tmp_path, cli):
    path = tmp_path / "risk.sqlite"
    rows = [("a", "K12-001", 2004, "F", "white", "941")] * 6  # one class of 6
    rows += [("b", "K12-001", 2004, "M", "white", "941")] * 2  # one class of 2
    rows += [("c", "K12-001", 2005, "F", "asian", "950")]  # a unique student
    rows += [("d", "CC-101", 2004, "F", "white", "941")] * 5  # same values, other institution

    scratch = ScratchDatabase(path)
    create_tables(scratch.conn)
    scratch.conn.executemany("INSERT INTO students VALUES (?, ?, ?, ?, ?, ?)", rows)
    scratch.commit()
    report = risk_report(str(path), k=5).set_index("institution")
    assert report.loc["K12-001", "students"] == 9 and report.loc["K12-001", "classes"] == 3
    assert report.loc["K12-001", "1"] == 1 and report.loc["K12-001", "2"] == 1
    assert report.loc["K12-001", "5-9"] == 1
    assert report.loc["K12-001", "share below k=5"] == pytest.approx(3 / 9)
    assert report.loc["CC-101", "share below k=5"] == 0
    assert report.loc["all", "students"] == 14
    code, out, err = cli("warehouse", "risk", "--url", path, "--k", "2")
    assert code == 0 and "share below k=2" in out and "K12-001" in out
    assert "33.3%" not in out and "11.1%" in out  # with k=2 only the unique student is at risk


def test_risk_on_a_missing_warehouse(tmp_path, cli):
    code, out, err = cli("warehouse", "risk", "--url", tmp_path / "none.sqlite")
    assert code != 0 and len(err) == 1 and "load" in err[0]


def test_generation_is_deterministic_for_a_seed(tmp_path):
    generate(tmp_path / "a", 120, seed=5)
    generate(tmp_path / "b", 120, seed=5)
    generate(tmp_path / "c", 120, seed=6)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.csv"))
    assert len(files) == 20
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert not mismatch and not errors
    _, mismatch, _ = filecmp.cmpfiles(tmp_path / "a", tmp_path / "c", files, shallow=False)
    assert mismatch


def test_generated_extracts_carry_the_promised_noise(population):
    _, pop = population
    cc = pop.files["CC-101", "students"]
    uni = pop.files["UNI-201", "students"]
    assert (cc.ssn == "").any() and (cc.ssn != "").any()  # missing SSNs
    assert cc.duplicated().any() or pop.files["CC-101", "enrollments"].duplicated().any()
    people = pop.people.set_index("univ_id")
    at_uni = people.loc[uni.univ_id.drop_duplicates()]
    changed = uni.drop_duplicates("univ_id").set_index("univ_id").last_name != at_uni.last_name
    assert changed.any()  # spelling variants


def test_demo_prepares_once_and_reuses(tmp_path, capsys):
    demo = prepare_warehouse(tmp_path / "demo", students=150)
    first = capsys.readouterr().out
    assert "generated" in first and "loaded" in first and demo.warehouse.is_file()
    stamp = demo.warehouse.stat().st_mtime_ns, demo.key.read_bytes()
    again = prepare_warehouse(tmp_path / "demo", students=150)
    second = capsys.readouterr().out
    assert again == demo and "reusing the warehouse" in second and "generated" not in second
    assert (demo.warehouse.stat().st_mtime_ns, demo.key.read_bytes()) == stamp


def test_a_reload_rebuilds_project_extracts_and_keeps_their_group(
    warehouse_file, population, tmp_path
):
    path = grant_project(str(warehouse_file), "refresh", ["UNI-201"])
    os.chown(path, 0, 4242)  # as the hub does: the project's group may read it
    with sqlite3.connect(path) as conn:
        before = {r[0] for r in conn.execute("SELECT student_key FROM students")}
    load(population[0], str(warehouse_file), bytes(32), quarantine=tmp_path / "q")  # new key
    with sqlite3.connect(path) as conn:
        after = {r[0] for r in conn.execute("SELECT student_key FROM students")}
        seen = {r[0] for r in conn.execute("SELECT DISTINCT institution FROM students")}
    assert len(after) == len(before) and not after & before and seen == {"UNI-201"}
    st = os.stat(path)
    assert st.st_gid == 4242 and stat.S_IMODE(st.st_mode) == 0o640
