"""generate + load into SQLite: privacy, linkage, reconciliation, refreshes, read-only readers."""

import pandas as pd
import pytest
import sqlalchemy as sa

from enclave.consortium import demo
from enclave.warehouse.db import connect_readonly
from enclave.warehouse.load import key_map, load, read_extracts
from enclave.warehouse.pseudonymize import KEY_PATTERN, read_key, write_key
from enclave.warehouse.schema import RAW_TABLES, WAREHOUSE_TABLES


def read_tables(path) -> dict[str, pd.DataFrame]:
    engine = connect_readonly(str(path))
    with engine.connect() as conn:
        out = {t: pd.read_sql(sa.text(f"SELECT * FROM {t}"), conn) for t in WAREHOUSE_TABLES}
    engine.dispose()
    return out


@pytest.fixture(scope="module")
def loaded(population, tmp_path_factory):
    """The shared extracts loaded once (they are only read)."""
    root, pop = population
    work = tmp_path_factory.mktemp("loaded")
    key = read_key(write_key(work / "key"))
    result = load(root, str(work / "w.sqlite"), key, quarantine=work / "q.csv")
    return {"result": result, "wh": read_tables(work / "w.sqlite"), "pop": pop, "key": key}


def raw_identifier_values(pop) -> set[str]:
    values = set()
    for (inst, table), df in pop.files.items():
        for col in RAW_TABLES[demo().layout(inst), table].columns:
            if col.identifier:
                values.update(v for v in df[col.name].astype(str) if v)
    return values


def test_no_raw_identifier_value_appears_in_any_warehouse_cell(loaded):
    identifiers = raw_identifier_values(loaded["pop"])
    cells = {str(v) for df in loaded["wh"].values() for col in df for v in df[col]}
    assert len(identifiers) > 2000 and len(cells) > 1000  # the scan really scans
    assert not identifiers & cells
    # and the scan notices a leak: one raw birth date in one cell
    leaked = loaded["pop"].files["K12-001", "students"].birth_date.iloc[0]
    assert identifiers & (cells | {leaked}) == {leaked}


def test_no_identifier_column_reaches_the_warehouse(loaded):
    raw_only = {c.name for t in RAW_TABLES.values() for c in t.columns if c.identifier}
    columns = {c for df in loaded["wh"].values() for c in df.columns}
    assert not raw_only & columns
    assert all("institution" in df.columns for df in loaded["wh"].values())


def test_a_student_at_a_district_a_college_and_a_university_carries_one_key(loaded, population):
    keys, _ = key_map(read_extracts(population[0]), loaded["key"])
    people = loaded["pop"].people
    cc = (
        loaded["pop"]
        .files["CC-101", "students"]
        .drop_duplicates("college_id")
        .set_index("college_id")
    )
    everywhere = people[
        (people["K12-001"] != "") & (people["CC-101"] != "") & (people["UNI-201"] != "")
    ]
    assert len(everywhere) >= 5
    wh = loaded["wh"]
    for _, p in everywhere.iterrows():
        k12, college, uni = (
            keys["K12-001"][p.ssid],
            keys["CC-101"][p["CC-101"]],
            keys["UNI-201"][p.univ_id],
        )
        if cc.loc[p["CC-101"], "statewide_id"] and cc.loc[p["CC-101"], "ssn"]:
            assert k12 == college == uni  # identifiers chain: no noise can break this link
        if k12 == college == uni:
            at = set(wh["students"].loc[wh["students"].student_key == k12, "institution"])
            assert {"K12-001", "CC-101", "UNI-201"} <= at
            raw = loaded["pop"].files["K12-001", "enrollments"]
            own = wh["k12_enrollments"]
            assert (own.student_key == k12).sum() == raw[
                raw.ssid == p.ssid
            ].drop_duplicates().shape[0]


def test_linkage_against_the_ground_truth(loaded, population):
    """Precision: no two people share a key. Recall: most people at 2+ places have one key."""
    keys, stats = key_map(read_extracts(population[0]), loaded["key"])
    people = loaded["pop"].people
    per_person, places = {}, {}
    for inst in demo().codes:
        present = people[people[inst] != ""]
        for person, local in zip(present.person, present[inst], strict=True):
            per_person.setdefault(person, set()).add(keys[inst][local])
            places[person] = places.get(person, 0) + 1
    owner = {}
    for person, ks in per_person.items():
        for k in ks:
            assert owner.setdefault(k, person) == person  # a key never covers two people
    multi = [ks for person, ks in per_person.items() if places[person] >= 2]
    linked = sum(len(ks) == 1 for ks in multi)
    assert linked / len(multi) > 0.95
    assert stats.people == len({k for ks in per_person.values() for k in ks})


def test_counts_reconcile_per_file(loaded):
    result = loaded["result"]
    for ex in result.extracts:
        assert ex.read == len(ex.rows) + len(ex.rejected) + ex.duplicates, ex.path
        assert ex.read == len(loaded["pop"].files[ex.institution, ex.table.name])
    assert sum(ex.duplicates for ex in result.extracts) > 0  # the generator sends duplicates
    loaded_rows = sum(len(ex.rows) for ex in result.extracts)
    wh = loaded["wh"]
    assert loaded_rows == sum(len(df) for name, df in wh.items() if name != "institutions")


def test_rows_follow_the_contract(loaded):
    wh = loaded["wh"]
    assert all(KEY_PATTERN.fullmatch(k) for k in wh["students"].student_key)
    assert set(wh["institutions"].institution) == set(demo().codes)
    assert not wh["students"].duplicated(["student_key", "institution"]).any()
    assert wh["students"].zip3.str.fullmatch(r"\d{3}").all()
    outcomes = wh["cc_course_outcomes"]
    assert (outcomes.success == outcomes.grade.isin(["A", "B", "C", "P"]).astype(int)).all()
    assert set(wh["univ_admissions"].admit_type) == {"first_year", "transfer"}
    terms = wh["univ_enrollments"]
    fall = terms.term.str.endswith("FA")
    assert (terms.academic_year == terms.term.str[:4].astype(int) - (~fall).astype(int)).all()
    for name, df in wh.items():  # every event row belongs to a student of its institution
        if name not in ("students", "institutions"):
            both = df.merge(wh["students"], on=["student_key", "institution"], how="left")
            assert both.birth_year.notna().all(), name


def test_same_key_same_keys_on_refresh_other_key_unlinkable(loaded, population, tmp_path):
    root = population[0]
    again = load(root, str(tmp_path / "again.sqlite"), loaded["key"], quarantine=tmp_path / "q")
    assert again.tables == loaded["result"].tables
    refreshed = read_tables(tmp_path / "again.sqlite")["students"]
    assert refreshed.equals(loaded["wh"]["students"])
    load(root, str(tmp_path / "other.sqlite"), bytes(32), quarantine=tmp_path / "q")
    other = set(read_tables(tmp_path / "other.sqlite")["students"].student_key)
    assert len(other) == refreshed.student_key.nunique()
    assert not other & set(refreshed.student_key)


def test_the_warehouse_file_is_not_world_readable_and_readers_cannot_write(
    loaded, tmp_path, population
):
    path = tmp_path / "w.sqlite"
    load(population[0], str(path), loaded["key"], quarantine=tmp_path / "q")
    assert path.stat().st_mode & 0o007 == 0
    engine = connect_readonly(str(path))
    with engine.connect() as conn, pytest.raises(sa.exc.OperationalError, match="readonly"):
        conn.execute(sa.text("DELETE FROM students"))
    engine.dispose()
    assert not list(tmp_path.glob(".w.sqlite.*"))  # no scratch file left behind


def test_summary_prints_counts_link_rates_and_ambiguity(population, key_file, tmp_path, cli):
    code, out, err = cli(
        "warehouse",
        "load",
        population[0],
        "--key",
        key_file,
        "--url",
        tmp_path / "w.sqlite",
        "--quarantine",
        tmp_path / "q.csv",
    )
    assert code == 0, err
    assert "K12-001 ~ CC-101" in out and "ambiguous matches not linked" in out
    assert "rows/s" in out and "total" in out
    total = next(line for line in out.splitlines() if line.startswith("total")).split()
    read, loaded_, rejected, dups = (int(v.replace(",", "")) for v in total[1:])
    assert read == loaded_ + rejected + dups


def test_a_failure_while_writing_leaves_the_old_warehouse_and_no_scratch_file(
    loaded, population, tmp_path, monkeypatch
):
    from enclave.warehouse.store_sqlite import SqliteSink

    path = tmp_path / "w.sqlite"
    load(population[0], str(path), loaded["key"], quarantine=tmp_path / "q")
    before = path.read_bytes()
    real_write, calls = SqliteSink.write, []

    def failing_write(self, name, df):
        calls.append(name)
        if len(calls) == 4:
            raise OSError("disk full")
        real_write(self, name, df)

    monkeypatch.setattr(SqliteSink, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        load(population[0], str(path), bytes(32), quarantine=tmp_path / "q")
    assert len(calls) == 4
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".w.sqlite")] == []


def test_a_reader_keeps_its_snapshot_while_a_reload_replaces_the_file(loaded, population, tmp_path):
    path = tmp_path / "w.sqlite"
    load(population[0], str(path), loaded["key"], quarantine=tmp_path / "q")
    engine = connect_readonly(str(path))
    with engine.connect() as conn:
        old = conn.execute(sa.text("SELECT student_key FROM students LIMIT 1")).scalar()
        load(population[0], str(path), bytes(32), quarantine=tmp_path / "q")  # new key
        still = conn.execute(sa.text("SELECT student_key FROM students LIMIT 1")).scalar()
    engine.dispose()
    assert still == old
    fresh = read_tables(path)["students"]
    assert old not in set(fresh.student_key)
