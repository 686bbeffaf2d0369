"""The consortium as configuration: members, sectors, steward and role groups, each bad value
refused in one line naming the setting."""

import pytest
from traitlets.config import Config

from enclave.consortium import EXTRACT_LAYOUTS, consortium, demo
from enclave.errors import EnclaveError
from enclave.warehouse.schema import RAW_TABLES


def configured(**settings) -> Config:
    c = Config()
    for name, value in settings.items():
        c.Consortium[name] = value
    return c


ADULT = {
    "sectors": {
        "k12": {"name": "Districts", "extracts": "k12"},
        "adult": {"name": "Adult schools", "extracts": "cc"},
    },
    "institutions": {
        "K12-001": {"name": "Harbor Valley USD", "sector": "k12"},
        "ADULT-301": {
            "name": "Bayline Adult School",
            "sector": "adult",
            "steward_group": "bayline-adult-data",
        },
        "ADULT-302": {"name": "Mesa Adult School", "sector": "adult"},
    },
}


def test_the_demo_consortium_is_the_default():
    members = consortium(Config())
    assert members.codes == ["K12-001", "K12-002", "CC-101", "CC-102", "UNI-201"]
    assert members.layout("CC-102") == "cc" and members.name("UNI-201").endswith("University")
    assert demo().steward_group("K12-002") == "stewards-K12-002"


def test_a_new_sector_with_its_own_steward_group():
    members = consortium(configured(**ADULT))
    assert members.in_layout("cc") == ["ADULT-301", "ADULT-302"]
    assert members.sector("ADULT-302") == "adult"
    assert members.steward_groups() == {
        "stewards-K12-001": "K12-001",
        "bayline-adult-data": "ADULT-301",
        "stewards-ADULT-302": "ADULT-302",
    }
    # the default group of an institution that names its own is no steward group
    assert members.steward_institutions(["stewards-ADULT-301", "bayline-adult-data"]) == {
        "ADULT-301"
    }


def test_role_groups_are_settings():
    members = consortium(
        configured(
            researchers_group="enclave-researchers",
            reviewers_group="enclave-reviewers",
            admins_group="enclave-admins",
            steward_group_prefix="data-steward-",
        )
    )
    assert members.roles(["enclave-researchers"]) == {"researchers"}
    assert members.roles(["researchers", "reviewers", "stewards-CC-101"]) == set()
    assert members.roles(["data-steward-CC-101", "enclave-admins"]) == {"stewards", "admins"}
    assert members.steward_institutions(["data-steward-CC-101", "data-steward-XX-1"]) == {"CC-101"}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"institutions": {}}, "Consortium.institutions: list the member institutions."),
        (
            {"institutions": {"cc-101": {"name": "x", "sector": "cc"}}},
            "Consortium.institutions: 'cc-101' is not an institution code like CC-101",
        ),
        (
            {"institutions": {"CC-101": {"name": "x", "sector": "adult"}}},
            "Consortium.institutions['CC-101'].sector: 'adult' is not a key of "
            "Consortium.sectors (k12, cc, univ).",
        ),
        (
            {"institutions": {"CC-101": {"name": "x"}}},
            "Consortium.institutions['CC-101']: give its 'sector'.",
        ),
        (
            {"institutions": {"CC-101": {"name": "x", "sector": "cc", "stewards": "y"}}},
            "Consortium.institutions['CC-101']: unknown key 'stewards'; use disclosure, name, "
            "sector, steward_group.",
        ),
        (
            {"institutions": {"CC-101": "Bayline"}},
            "Consortium.institutions['CC-101']: give a dict with name, sector.",
        ),
        (
            {
                "institutions": {
                    "CC-101": {"name": "Bayline", "sector": "cc"},
                    "CC-102": {"name": "bayline ", "sector": "cc"},
                }
            },
            "Consortium.institutions['CC-102'].name: CC-101 has that name too.",
        ),
        (
            {"sectors": {"adult": {"name": "Adult", "extracts": "adult"}}},
            "Consortium.sectors['adult'].extracts: 'adult' is not a layout; use one of k12, cc, "
            "univ.",
        ),
        ({"sectors": {"Adult": {"extracts": "cc"}}}, "Consortium.sectors['Adult']: use lowercase"),
        ({"researchers_group": "a b"}, "Consortium.researchers_group: 'a b' is not a hub group"),
        (
            {"reviewers_group": "researchers"},
            "Consortium.researchers_group, reviewers_group and admins_group must be three "
            "different groups.",
        ),
        (
            {
                "institutions": {
                    "CC-101": {"name": "A", "sector": "cc", "steward_group": "reviewers"}
                }
            },
            "Consortium.institutions['CC-101']: its steward group 'reviewers' is "
            "Consortium.reviewers_group; give it a group of its own.",
        ),
        (
            {
                "institutions": {
                    "CC-101": {"name": "A", "sector": "cc", "steward_group": "s"},
                    "CC-102": {"name": "B", "sector": "cc", "steward_group": "s"},
                }
            },
            "Consortium.institutions['CC-102']: CC-101 has the steward group 's' too",
        ),
        (
            {"institutions": {"CC-101": {"name": "A", "sector": "cc", "disclosure": 5}}},
            "Consortium.institutions['CC-101'].disclosure: give a dict of rule values",
        ),
    ],
)
def test_bad_values_are_one_line_naming_the_setting(settings, message):
    with pytest.raises(EnclaveError) as caught:
        consortium(configured(**settings))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value) and caught.value.exit_code == 2


def test_unknown_members_are_refused_naming_where():
    with pytest.raises(
        EnclaveError, match=r"^--institutions: unknown institution UNI-999; use one"
    ):
        demo().require(["CC-101", "UNI-999"], "--institutions")


def test_every_layout_is_one_the_warehouse_declares():
    assert {layout for layout, _ in RAW_TABLES} == set(EXTRACT_LAYOUTS)
