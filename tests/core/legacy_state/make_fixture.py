"""Make the state databases of enclave 0.1, before migrations, that the upgrade tests start from.

Run with the code of commit 44be478 (the last main before the re-housing, whose parts still
created their own tables), in a worktree of its own, never with this checkout's code:

    git worktree add --detach /tmp/enclave-0.1 44be478
    PYTHONPATH=/tmp/enclave-0.1 .venv/bin/python tests/core/legacy_state/make_fixture.py \\
        --out tests/core/legacy_state [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

It drives that version's own objects through a small but complete history (projects, members,
approvals, agreement acceptances, a spawn, query lineage from the kernel and from the server's
statement log, requests approved and released, changed and resubmitted, rejected, withdrawn,
comments, downloads) and writes ``state-44be478.sqlite`` and, with ``--pg``, a plain
``pg_dump`` of the same history on PostgreSQL, ``state-44be478.postgresql.sql``.
"""

import argparse
import subprocess
import sys
import tempfile
import uuid
from datetime import date
from importlib.metadata import entry_points
from pathlib import Path

import audit
import nbformat
import sqlalchemy as sa
from hub.projects import ProjectRegistry
from nbformat.v4 import new_code_cell, new_notebook, new_output
from output_review.service.config import ReviewService
from output_review.service.identity import SCOPE_REVIEW, SCOPE_STEWARD, SCOPE_SUBMIT, Actor
from output_review.service.store import FrozenStore
from output_review.service.workflow import ReviewWorkflow, Submission

import hub.isolation.postgres as pg
from enclave.state import make_engine
from hub.agreement import AgreementRecords
from output_review.gate import Gate

RITA = Actor("rita", frozenset({SCOPE_SUBMIT}), frozenset({"researchers"}))
REVIEWERS = [
    Actor(n, frozenset({SCOPE_REVIEW}), frozenset({"reviewers"})) for n in ("rev1", "rev2")
]
STEWARDS = [
    Actor(f"stew-{i.lower()}", frozenset({SCOPE_STEWARD}), frozenset({f"stewards-{i}"}))
    for i in ("CC-101", "UNI-201")
]
ROLE = "wh_sess_rita"
LOG_LINE = "2026-11-28 10:00:01.000 UTC [4242] {role}@warehouse LOG:  statement: {sql}\n"


def notebook(i: int) -> bytes:
    output = new_output("execute_result", data={"text/plain": f"term  n\n2021FA  {120 + i}"})
    return nbformat.writes(
        new_notebook(cells=[new_code_cell("by_term", outputs=[output])])
    ).encode()


def submit(wf, i: int, **fields):
    upload = wf.store.open_upload()
    upload.write(notebook(i))
    fields.setdefault("purpose", "Completion rates by term for the board report.")
    return wf.submit(
        RITA, upload, Submission(notebook=f"study_{i}.ipynb", project="study", **fields)
    )


def build(wf):
    from output_review.service.release import build_package

    from output_review.gate import read_notebook

    def builder(row, progress):
        path = wf.store.path(row.sha256)
        return build_package(row, progress, path.read_bytes(), read_notebook(path))

    return builder


def history(url: str, work: Path) -> None:
    work.mkdir(parents=True)
    engine = make_engine(url)
    registry = ProjectRegistry(engine)
    for name in ("study", "finished"):
        registry.create(name, purpose=f"{name} purpose", expires=date(2099, 12, 31), actor="ada")
        for member in ("rita", "bob"):
            registry.add_member(name, member, actor="ada")
        for institution in ("CC-101", "UNI-201"):
            registry.approve(name, institution, actor="ada", grant=lambda p, i: f"/extracts/{p}")
    registry.expire("finished", actor="ada")
    agreements = AgreementRecords(engine)
    for user in ("rita", "bob"):
        agreements.accept(user, "0123456789abcdef")
    audit.AuditLog(engine).append(
        actor="rita", action="spawn", project="study", details={"institutions": ["CC-101"]}
    )

    # the server's statement log: a session role, one statement imported into the trail
    pg.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(pg.pg_sessions.insert().values(role=ROLE, user="rita", project="study"))
    log = work / "postgresql.log"
    log.write_text(LOG_LINE.format(role=ROLE, sql="SELECT count(*) FROM warehouse.cc_terms"))
    assert pg.import_statements(str(log), engine) == 1

    # this venv's entry points name the new package's checks; the old gate has its own built in
    installed = [e.name for e in entry_points(group="enclave.output_checks")]
    gate = Gate(disabled_entry_points=installed)
    wf = ReviewWorkflow(engine, FrozenStore(work / "store"), ReviewService(), registry, gate)
    wf.record_query(
        RITA,
        {
            "project": "study",
            "notebook": "study_1.ipynb",
            "sql": "SELECT 1",
            "rows": 1,
            "institutions": ["CC-101"],
            "time": "2026-11-28T10:00:00",
        },
    )
    released = submit(wf, 1, summary="Two counts per term.")["id"]
    for person in (*REVIEWERS, *STEWARDS):
        wf.comment(person, released, f"looked at it ({person.name})", "reviewers")
        wf.decide(person, released, "approve")
    assert wf.release(released, build(wf))
    wf.download(RITA, released)

    changed = submit(wf, 2)["id"]
    wf.decide(REVIEWERS[0], changed, "approve")
    wf.decide(REVIEWERS[1], changed, "request_changes", "Round the counts.")
    submit(wf, 3, resubmit=changed)
    wf.decide(REVIEWERS[1], changed, "reject", "Still too fine-grained.")

    withdrawn = submit(wf, 4, exception_note="")["id"]
    wf.comment(RITA, withdrawn, "Withdrawing: wrong notebook.")
    wf.withdraw(RITA, withdrawn)
    submit(wf, 5)  # still waiting for reviewers
    assert audit.AuditLog(engine).verify() > 30
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pg", help="a PostgreSQL admin URL: also write the PostgreSQL dump")
    args = parser.parse_args()
    if not (Path(audit.__file__).parent.parent / "output_review" / "service").is_dir():
        raise SystemExit("run with the code of 44be478 on PYTHONPATH (see the docstring)")
    with tempfile.TemporaryDirectory() as tmp:
        target = args.out / "state-44be478.sqlite"
        target.unlink(missing_ok=True)
        history(f"sqlite:///{target.resolve()}", Path(tmp) / "sqlite")
        print(f"wrote {target}")
    if args.pg:
        name = f"enclave_fixture_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(args.pg).set(database=name)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                history(url.render_as_string(hide_password=False), Path(tmp) / "pg")
            dump = args.out / "state-44be478.postgresql.sql"
            libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
            subprocess.run(
                ["pg_dump", "--no-owner", "--no-privileges", "--file", str(dump), libpq], check=True
            )
            print(f"wrote {dump}")
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
