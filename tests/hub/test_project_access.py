"""Data-access requests decided by each institution's steward (``enclave.projects``): approve,
approve narrower, decline, withdraw, remove a member, an administrator's override; each bad
input one line with nothing recorded; ``enclave project request|show|withdraw|remove-member``."""

from datetime import UTC, datetime, timedelta

import pytest

from enclave.audit import AuditLog
from enclave.cli import main
from enclave.errors import EnclaveError
from enclave.projects import ALL, ProjectRegistry, access_within, parse_tables
from enclave.state import make_engine
from enclave.warehouse.grant import catalog

NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).date()
CATALOG = catalog()
ASKED = {
    "CC-101": {"students": None, "cc_course_outcomes": None},
    "UNI-201": {"students": None, "univ_degrees": None},
}


@pytest.fixture
def registry(tmp_path):
    return ProjectRegistry(make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}"))


class Grants(list):
    """Records each rebuild of the project's access (scopes approved at that moment)."""

    def __call__(self, project, scopes):
        self.append(dict(scopes))
        return f"/srv/extracts/{project}.sqlite" if scopes else None


def requested(registry, **kwargs):
    args = (
        dict(
            purpose="transfer outcomes",
            expires=NEXT_YEAR,
            members=["rita", "ravi"],
            scopes=ASKED,
            actor="rita",
            catalog=CATALOG,
        )
        | kwargs
    )
    return registry.request("study", **args)


def decide(registry, institution, decision="approve", **kwargs):
    args = dict(actor=f"steward-{institution}", stewards=[institution], catalog=CATALOG)
    return registry.decide("study", institution, decision, **(args | kwargs))


def events(registry):
    return [e.action for e in AuditLog(registry.engine).events(project="study")]


def test_a_request_waits_for_every_steward_and_grants_nothing(registry):
    project = requested(registry)
    assert project.requested_by == "rita" and project.members == ("ravi", "rita")
    assert [(a.institution, a.status) for a in project.access] == [
        ("CC-101", "pending"),
        ("UNI-201", "pending"),
    ]
    assert project.status == "awaiting approval" and not registry.user_can_use("rita", "study")
    assert events(registry) == ["project.create", "project.request"]


def test_approved_narrower_by_one_and_in_full_by_another(registry):
    requested(registry)
    grants = Grants()
    narrow = {"students": ["birth_year", "gender"]}
    decide(registry, "CC-101", scope=narrow, comment="no course grades", grant=grants)
    project = decide(registry, "UNI-201", grant=grants)
    assert project.scopes == {"CC-101": narrow, "UNI-201": ASKED["UNI-201"]}
    assert grants == [{"CC-101": narrow}, project.scopes]
    assert project.warehouse_access == "/srv/extracts/study.sqlite"
    assert registry.user_can_use("ravi", "study")
    cc = project.access_of("CC-101")
    assert (cc.decided_by, cc.comment, cc.override) == ("steward-CC-101", "no course grades", False)
    assert events(registry)[-2:] == ["project.approve-narrower", "project.approve"]
    assert AuditLog(registry.engine).verify() == 4


def test_a_withdrawal_rebuilds_access_without_it_and_runs_its_follow_up_in_the_transaction(
    registry,
):
    requested(registry)
    grants = Grants()
    decide(registry, "CC-101", grant=grants)
    decide(registry, "UNI-201", grant=grants)
    seen = []
    project = registry.withdraw(
        "study",
        "CC-101",
        actor="steward-CC-101",
        stewards=["CC-101"],
        comment="consent revoked",
        grant=grants,
        then=lambda conn, p: seen.append(p.institutions),
    )
    assert seen == [("UNI-201",)] and grants[-1] == {"UNI-201": ASKED["UNI-201"]}
    withdrawn = project.access_of("CC-101")
    assert (withdrawn.status, withdrawn.approved) == ("withdrawn", ASKED["CC-101"])  # the record
    assert project.scopes_ever_approved == ASKED and "CC-101" not in project.scopes
    registry.withdraw(
        "study",
        "UNI-201",
        actor="steward-UNI-201",
        stewards=["UNI-201"],
        comment="ended",
        grant=grants,
    )
    project = registry.get("study")
    assert grants[-1] == {} and project.warehouse_access is None
    assert not registry.user_can_use("rita", "study")
    assert events(registry).count("project.withdraw") == 2


def test_a_failed_follow_up_undoes_the_withdrawal(registry):
    requested(registry)
    decide(registry, "CC-101")

    def broken(conn, project):
        raise EnclaveError("cannot return the submissions")

    with pytest.raises(EnclaveError, match="cannot return"):
        registry.withdraw(
            "study", "CC-101", actor="s", stewards=["CC-101"], comment="x", then=broken
        )
    assert registry.get("study").institutions == ("CC-101",)
    assert "project.withdraw" not in events(registry)


def test_a_declined_institution_may_be_asked_again(registry):
    requested(registry)
    decide(registry, "CC-101", "decline", comment="not for this purpose")
    project = registry.request_access(
        "study", "CC-101", {"students": None}, actor="rita", catalog=CATALOG
    )
    assert project.access_of("CC-101").status == "pending"
    assert events(registry)[-2:] == ["project.decline", "project.request-access"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: requested(r, scopes={"CC-999": ALL}),
            "--institution: unknown institution CC-999; use one of",
        ),
        (
            lambda r: requested(r, scopes={"CC-101": {"grades": None}}),
            "'grades' is not a warehouse table",
        ),
        (
            lambda r: requested(r, scopes={"CC-101": {"students": ["ssn"]}}),
            "students: 'ssn' is not one of its columns",
        ),
        (lambda r: requested(r, members=[]), "at least one member"),
        (lambda r: requested(r, members=["Bad Name"]), "not a valid researcher name"),
    ],
)
def test_a_bad_request_is_one_line_and_records_nothing(registry, change, message):
    with pytest.raises(EnclaveError, match=message) as refused:
        change(registry)
    assert "\n" not in str(refused.value)
    assert registry.all() == [] and events(registry) == []


@pytest.mark.parametrize(
    ("act", "message"),
    [
        # a steward of another institution
        (
            lambda r: decide(r, "CC-101", actor="sue", stewards=["UNI-201"]),
            "sue is a steward of UNI-201; only CC-101's stewards decide",
        ),
        (lambda r: decide(r, "CC-101", stewards=[]), "not a steward"),
        (lambda r: decide(r, "K12-001"), "K12-001 was not asked for its data"),
        (
            lambda r: decide(r, "CC-101", scope={"univ_degrees": None}, comment="x"),
            "no more than was asked for",
        ),
        (lambda r: decide(r, "CC-101", scope={"students": None}), "comment: say why"),
        (lambda r: decide(r, "CC-101", "decline"), "comment: say why"),
        (lambda r: decide(r, "CC-101", "maybe"), "not one of approve, decline"),
        # a withdrawal of an approval that does not exist
        (
            lambda r: r.withdraw("study", "CC-101", actor="s", stewards=["CC-101"], comment="x"),
            "CC-101 has no approval to withdraw \\(pending\\)",
        ),
        (
            lambda r: r.withdraw("study", "K12-001", actor="s", stewards=["K12-001"], comment="x"),
            "K12-001 has no approval to withdraw \\(never asked\\)",
        ),
        (
            lambda r: r.withdraw("study", "CC-101", actor="s", stewards=["UNI-201"], comment="x"),
            "only CC-101's stewards",
        ),
        (lambda r: r.remove_member("study", "mallory", actor="admin"), "'mallory' is not a member"),
        (
            lambda r: r.remove_member("study", "ravi", actor="sue", stewards=["CC-101"]),
            "only a steward of an institution whose approval stands",
        ),
        (
            lambda r: r.approve_override("study", "CC-101", actor="admin", reason=" "),
            "--reason: an administrator's approval stands in for the steward's",
        ),
    ],
)
def test_a_refused_decision_is_one_line_and_changes_nothing(registry, act, message):
    before = requested(registry)
    with pytest.raises(EnclaveError, match=message) as refused:
        act(registry)
    assert "\n" not in str(refused.value)
    assert registry.get("study") == before and events(registry) == [
        "project.create",
        "project.request",
    ]


def test_a_decided_institution_cannot_decide_again_until_it_withdraws(registry):
    requested(registry)
    decide(registry, "CC-101")
    with pytest.raises(EnclaveError, match="CC-101's access is approved; it cannot take 'approve'"):
        decide(registry, "CC-101")


def test_members_are_removed_by_an_administrator_or_an_approving_steward(registry):
    requested(registry)
    decide(registry, "CC-101")
    registry.remove_member("study", "ravi", actor="steward-CC-101", stewards=["CC-101"])
    project = registry.remove_member("study", "rita", actor="admin")
    assert project.members == ()
    assert events(registry)[-2:] == ["project.remove-member", "project.remove-member"]


def test_an_override_is_marked_and_its_steward_may_withdraw_it(registry):
    requested(registry)
    project = registry.approve_override("study", "CC-101", actor="admin", reason="form 7")
    access = project.access_of("CC-101")
    assert (access.status, access.approved, access.override) == ("approved", ALL, True)
    assert access.comment == "form 7"
    registry.withdraw("study", "CC-101", actor="s", stewards=["CC-101"], comment="not agreed")
    assert events(registry)[-2:] == ["project.approve-override", "project.withdraw"]


def test_scopes_compare_by_table_and_column():
    everything = {"students": None}
    assert access_within({"CC-101": {"students": ["gender"]}}, {"CC-101": everything}, CATALOG)
    assert not access_within({"CC-101": everything}, {"CC-101": {"students": ["gender"]}}, CATALOG)
    assert not access_within({"CC-101": everything}, {}, CATALOG)
    assert access_within({}, {"CC-101": everything}, CATALOG)
    assert access_within({"CC-101": everything}, {"CC-101": ALL}, CATALOG)
    assert parse_tables("students,cc_awards:term+award_type", CATALOG) == {
        "cc_awards": ["award_type", "term"],
        "students": None,
    }


# -- the command line ------------------------------------------------------------------------------
@pytest.fixture
def config(tmp_path):
    path = tmp_path / "enclave_config.py"
    path.write_text(
        f"c.EnclaveState.db_url = 'sqlite:///{tmp_path / 'state.sqlite'}'\n"
        f"c.WarehouseSettings.url = '{tmp_path / 'missing-warehouse.sqlite'}'\n"
    )
    return str(path)


def cli(config, *argv) -> int:
    return main(["project", *argv, "--config", config])


def cli_request(config, *institutions):
    institutions = institutions or ("CC-101=students:gender+birth_year", "UNI-201")
    return cli(
        config,
        "request",
        "study",
        "--purpose",
        "transfer outcomes",
        "--expires",
        NEXT_YEAR.isoformat(),
        "--members",
        "rita,ravi",
        "--by",
        "admin",
        *(a for i in institutions for a in ("--institution", i)),
    )


def test_cli_request_and_show(config, capsys):
    assert cli_request(config) == 0
    assert "steward decides in the review service" in capsys.readouterr().out
    assert cli(config, "show", "study") == 0
    out = capsys.readouterr().out
    assert "CC-101   pending  : students (birth_year, gender)" in out
    assert "UNI-201  pending  : every table" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--institution", "CC-101=grades"], "'grades' is not a warehouse table"),
        (["--institution", "CC-101=students:ssn"], "'ssn' is not one of its columns"),
        (["--institution", "XX-1"], "unknown institution"),
        (["withdraw", "--institution", "CC-101", "--reason", "r"], "no approval to withdraw"),
        (["remove-member", "nobody"], "'nobody' is not a member"),
        (["show", "nothing"], "no such project"),
    ],
)
def test_cli_bad_input_is_one_line_and_nonzero(config, capsys, argv, message):
    if argv[0].startswith("--"):
        status = cli_request(config, argv[1])
    else:
        assert cli_request(config) == 0
        capsys.readouterr()
        status = cli(config, argv[0], *(["study"] if argv[0] != "show" else []), *argv[1:])
    err = capsys.readouterr().err
    assert status != 0 and message in err and len(err.strip().splitlines()) == 1
