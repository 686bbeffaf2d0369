"""The state database's schema: created by the migrations, upgraded by `enclave upgrade-db`.

The starting points are databases made by enclave 0.1 before migrations existed (commit
44be478, whose parts each created their own tables): ``legacy_state/`` holds one on SQLite and a
``pg_dump`` of one on PostgreSQL, both made by ``legacy_state/make_fixture.py`` with that
commit's code. Every test runs on SQLite and on the real PostgreSQL.
"""

import shutil
import stat
import subprocess
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from enclave import migrations
from enclave.audit.log import AuditLog
from enclave.cli import main
from enclave.projects import ProjectRegistry
from enclave.state import StateSchemaError, make_engine, raw_engine, read_schema
from enclave.tables import audit_events, metadata, review_requests, review_rounds

LEGACY = Path(__file__).parent / "legacy_state"
LEGACY_EVENTS = 43  # what make_fixture.py's history writes
# tables later revisions add: absent from a database made before migrations
ADDED_SINCE = {
    "review_rounds",
    "review_output_decisions",
    "review_seen",
    "user_directory",
    "mail_outbox",
    "project_access",
    "review_reexecutions",
}
# columns later revisions add to tables that were there before
ADDED_COLUMNS = {"projects": {"requested_by"}, "review_requests": {"release_use", "recipients"}}


@pytest.fixture
def legacy_url(db_url):
    """A state database exactly as enclave 0.1 (44be478) left it."""
    url = sa.engine.make_url(db_url)
    if url.get_backend_name() == "sqlite":
        shutil.copy(LEGACY / "state-44be478.sqlite", url.database)
    else:
        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        dump = LEGACY / "state-44be478.postgresql.sql"
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(dump), libpq],
            check=True,
            capture_output=True,
        )
    return db_url


def legacy_columns(table) -> list[str]:
    return [c.name for c in table.columns if c.name not in ADDED_COLUMNS.get(table.name, ())]


def rows(url, table, columns=None):
    """``table``'s rows in key order (``columns``: only those; default: the columns a database
    from before migrations has)."""
    engine = raw_engine(url)
    columns = columns or [table.c[name] for name in legacy_columns(table)]
    try:
        with engine.connect() as conn:
            order = list(table.primary_key.columns)
            return [tuple(r) for r in conn.execute(sa.select(*columns).order_by(*order))]
    finally:
        engine.dispose()


def schema_differences(url) -> list:
    engine = raw_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": migrations.VERSION_TABLE}
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def upgrade_db(capsys, *args) -> tuple[int, str, str]:
    code = main(["upgrade-db", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_head_constant_is_the_scripts_single_head():
    assert migrations.script_head() == migrations.HEAD


def test_a_new_database_is_created_at_head_and_is_exactly_the_tables(db_url):
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert read_schema(conn).is_current
    engine.dispose()
    assert schema_differences(db_url) == []
    make_engine(db_url).dispose()  # a second process opens it as it is


def test_many_processes_may_create_a_new_database_at_once(db_url):
    errors = []

    def open_it():
        try:
            engine = make_engine(db_url)
            AuditLog(engine).append(actor="t", action="spawn")
            engine.dispose()
        except Exception as e:  # collected: the assertion names it
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    engine = make_engine(db_url)
    assert AuditLog(engine).verify() == 4
    with engine.connect() as conn:
        versions = conn.execute(sa.text(f"SELECT * FROM {migrations.VERSION_TABLE}")).all()
    assert versions == [(migrations.HEAD,)]
    engine.dispose()


def test_upgrade_keeps_every_audit_row_of_a_database_made_before_migrations(
    legacy_url, capsys, tmp_path
):
    legacy_tables = [t for t in metadata.sorted_tables if t.name not in ADDED_SINCE]
    before = {table: rows(legacy_url, table) for table in legacy_tables}
    assert len(before[audit_events]) == LEGACY_EVENTS
    approvals = sa.Table(  # 0003 replaces it with project_access
        "project_approvals",
        sa.MetaData(),
        *(sa.Column(name, sa.String, primary_key=True) for name in ("project", "institution")),
        sa.Column("approved_by", sa.String),
    )
    approved_before = rows(legacy_url, approvals, list(approvals.c))
    assert approved_before

    code, out, err = upgrade_db(capsys, "--db", legacy_url, "--by", "ops")
    assert (code, err) == (0, "")
    assert f"upgraded (it was from before migrations), now at revision {migrations.HEAD}" in out

    after = {table: rows(legacy_url, table) for table in metadata.sorted_tables}
    assert after[audit_events][:LEGACY_EVENTS] == before[audit_events]  # every row, unchanged
    (upgrade_event,) = after[audit_events][LEGACY_EVENTS:]
    assert upgrade_event[2:4] == ("ops", "state.upgrade")
    for table in legacy_tables:
        if table is not audit_events:
            assert after[table] == before[table], table.name
    # 0002: each request's current round, as the request row held it
    requests = {r[0]: r for r in before[review_requests]}
    assert {(r[0], r[1]) for r in after[review_rounds]} == {
        (rid, r[legacy_columns(review_requests).index("round")]) for rid, r in requests.items()
    }
    # 0003: each approval an approved row of everything, marked as an administrator's override
    access = metadata.tables["project_access"]
    c = access.c
    assert rows(legacy_url, access, [c.project, c.institution, c.decided_by]) == approved_before
    assert set(rows(legacy_url, access, [c.status, c.requested, c.approved, c.override])) == {
        ("approved", '"*"', '"*"', True)
    }
    assert schema_differences(legacy_url) == []  # the same schema as a new database

    assert main(["audit", "verify", "--db", legacy_url]) == 0
    assert capsys.readouterr().out == f"audit trail intact: {LEGACY_EVENTS + 1} events\n"
    engine = make_engine(legacy_url)  # today's code works on it
    assert ProjectRegistry(engine).get("study").members == ("bob", "rita")
    engine.dispose()

    if legacy_url.startswith("sqlite"):
        (backup,) = Path(sa.engine.make_url(legacy_url).database).parent.glob("*.backup-*")
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        assert rows(f"sqlite:///{backup}", audit_events) == before[audit_events]
        assert f"backup {backup}" in out
    else:
        assert "no backup taken (not SQLite)" in out

    code, out, _ = upgrade_db(capsys, "--db", legacy_url)
    assert code == 0 and f"already at revision {migrations.HEAD}; nothing to do" in out


def test_an_out_of_date_database_is_refused_with_one_line_naming_upgrade_db(legacy_url, capsys):
    with pytest.raises(StateSchemaError, match=r"from before migrations.*`enclave upgrade-db"):
        make_engine(legacy_url)
    assert main(["audit", "verify", "--db", legacy_url]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("enclave: error: ") and "`enclave upgrade-db --config FILE`" in line

    code, out, _ = upgrade_db(capsys, "--db", legacy_url, "--check")
    assert code == 1 and "from before migrations (run `enclave upgrade-db`)" in out
    assert rows(legacy_url, audit_events)[-1][3] != "state.upgrade"  # checking changed nothing


def test_upgrade_db_never_creates_a_database_where_there_is_none(tmp_path, capsys):
    missing = tmp_path / "nowhere.sqlite"
    code, _, err = upgrade_db(capsys, "--db", f"sqlite:///{missing}")
    assert code == 1 and "there is no state database there" in err and len(err.splitlines()) == 1
    assert not missing.exists()


def test_a_database_from_a_newer_enclave_is_refused_and_left_alone(db_url, capsys):
    make_engine(db_url).dispose()
    engine = raw_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = '0999'"))
    engine.dispose()
    with pytest.raises(StateSchemaError, match="newer than this enclave knows"):
        make_engine(db_url)
    code, _, err = upgrade_db(capsys, "--db", db_url)
    assert code == 1 and len(err.splitlines()) == 1 and "revision 0999" in err


def test_a_failed_upgrade_changes_nothing(legacy_url, capsys):
    """A legacy table without a column 0.1 had: refused in one line, nothing written."""
    engine = raw_engine(legacy_url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE pg_log_offsets DROP COLUMN inode"))
    engine.dispose()
    before = rows(legacy_url, audit_events)
    code, _, err = upgrade_db(capsys, "--db", legacy_url)
    assert code == 1 and len(err.splitlines()) == 1
    assert "table pg_log_offsets has no column inode" in err
    assert rows(legacy_url, audit_events) == before
    engine = raw_engine(legacy_url)
    with engine.connect() as conn:
        assert read_schema(conn).revision is None
    engine.dispose()
    if legacy_url.startswith("sqlite"):
        assert not list(Path(sa.engine.make_url(legacy_url).database).parent.glob("*.backup-*"))


def test_a_migration_that_touches_the_audit_trail_is_rolled_back(legacy_url, monkeypatch):
    from alembic import command

    real_upgrade = command.upgrade

    def rewriting_upgrade(config, revision):
        real_upgrade(config, revision)
        conn = config.attributes["connection"]
        conn.execute(audit_events.update().where(audit_events.c.seq == 3).values(actor="x"))

    monkeypatch.setattr(command, "upgrade", rewriting_upgrade)
    before = rows(legacy_url, audit_events)
    with pytest.raises(migrations.AuditTrailChanged):
        from enclave.state import upgrade

        upgrade(legacy_url, actor="ops")
    assert rows(legacy_url, audit_events) == before
