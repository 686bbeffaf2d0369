"""The consortium: its sectors, member institutions, their stewards' groups and the role groups.

One Configurable, set in ``jupyterhub_config.py``::

    c.Consortium.sectors = {"adult": {"name": "Adult schools", "extracts": "cc"}, ...}
    c.Consortium.institutions = {
        "ADULT-301": {"name": "Bayline Adult School", "sector": "adult"},
        "CC-101": {"name": "Bayline Community College", "sector": "cc",
                   "steward_group": "bayline-data-stewards", "disclosure": {"min_count": 11}},
        ...
    }

Every process that needs the members builds it from that one file (``consortium(config)``):
login and roles, the hub's pages, the review service (steward groups, the steward rule, names in
output tables), the warehouse's loader, grants and generator, and the gate's per-institution
disclosure rules. A bad value stops the process at start with one line naming the setting.

A sector says which records its members send (``extracts``: one of ``EXTRACT_LAYOUTS``, the
layouts the warehouse declares in ``warehouse/schema.py``); its members' events land in that
layout's tables (``cc_enrollments`` holds community colleges' and adult schools' rows alike,
``institutions.sector`` tells them apart).
"""

import re
from functools import cache

from traitlets import Dict, TraitError, Unicode, validate
from traitlets.config import Config, Configurable

from enclave.errors import EnclaveError

# the record layouts the warehouse knows (warehouse/schema.py declares each one's files)
EXTRACT_LAYOUTS = {
    "k12": "school districts: students, enrollments, assessments, graduations",
    "cc": "colleges: students, enrollments, course_outcomes, awards (terms, units)",
    "univ": "universities: students, admissions, enrollments, degrees",
}
# a code is a PostgreSQL literal, a hub group name's suffix and a folder name in an extract
CODE = re.compile(r"[A-Z][A-Z0-9]{0,15}(-[A-Z0-9]{1,16}){0,2}")
SECTOR = re.compile(r"[a-z][a-z0-9_]{0,19}")
GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
INSTITUTION_KEYS = {"name", "sector", "steward_group", "disclosure"}
SECTOR_KEYS = {"name", "extracts"}

# the fictional five-member consortium the demo and the tests use
DEMO_SECTORS = {
    "k12": {"name": "K-12 school districts", "extracts": "k12"},
    "cc": {"name": "Community colleges", "extracts": "cc"},
    "univ": {"name": "Universities", "extracts": "univ"},
}
DEMO_INSTITUTIONS = {
    "K12-001": {"name": "Harbor Valley Unified School District", "sector": "k12"},
    "K12-002": {"name": "Mesa Ridge Unified School District", "sector": "k12"},
    "CC-101": {"name": "Bayline Community College", "sector": "cc"},
    "CC-102": {"name": "Sierra Foothill Community College", "sector": "cc"},
    "UNI-201": {"name": "Pacific Coast State University", "sector": "univ"},
}


class Consortium(Configurable):
    """The consortium's members and the hub groups that carry the enclave's roles."""

    sectors = Dict(
        DEMO_SECTORS,
        key_trait=Unicode(),
        help="""Kinds of member institution: code -> ``{"name": shown name, "extracts":
        layout}``. ``extracts`` names the records the sector's members send: ``k12`` (school
        districts: students, enrollments, assessments, graduations, keyed by ``ssid``), ``cc``
        (colleges: students, enrollments, course_outcomes, awards by term, keyed by
        ``college_id``) or ``univ`` (universities: students, admissions, enrollments, degrees,
        keyed by ``univ_id``). A new kind, e.g. ``{"adult": {"name": "Adult schools",
        "extracts": "cc"}}``, needs no code. Codes: lowercase letters, digits, ``_``.""",
    ).tag(config=True)

    institutions = Dict(
        DEMO_INSTITUTIONS,
        key_trait=Unicode(),
        help="""The member institutions, in the order reports list them: code ->
        ``{"name": ..., "sector": a key of Consortium.sectors}``, optionally
        ``"steward_group"`` (the hub group of its data stewards; default
        ``steward_group_prefix`` + code) and ``"disclosure"`` (rules stricter than the
        consortium's for outputs that use its data: a dict of ``DisclosurePolicy`` names, e.g.
        ``{"min_count": 11}``). Codes: capitals and digits in up to three parts joined by
        ``-``, e.g. ``CC-101``. The default is the demo's fictional consortium of five.""",
    ).tag(config=True)

    researchers_group = Unicode(
        "researchers",
        help="""Hub group (synced from the sign-on provider's groups) of researchers: they may
        start data sessions for their approved projects and submit outputs.""",
    ).tag(config=True)

    reviewers_group = Unicode(
        "reviewers",
        help="""Hub group of output reviewers (the review service); no data sessions.""",
    ).tag(config=True)

    admins_group = Unicode(
        "admins",
        help="""Hub group of administrators (JupyterHub admins, the review service's admin
        scope); no data sessions unless also researchers.""",
    ).tag(config=True)

    steward_group_prefix = Unicode(
        "stewards-",
        help="""An institution's stewards are the hub group PREFIX + its code (e.g.
        ``stewards-CC-101``) unless its entry in Consortium.institutions names its own
        ``steward_group``.""",
    ).tag(config=True)

    # -- validation: each value one line naming the setting -------------------------------------
    @validate("sectors")
    def _check_sectors(self, proposal):
        sectors = proposal.value
        if not sectors:
            raise TraitError("Consortium.sectors: give at least one sector.")
        for code, entry in sectors.items():
            where = f"Consortium.sectors[{code!r}]"
            if not SECTOR.fullmatch(code):
                raise TraitError(f"{where}: use lowercase letters, digits and '_' (up to 20).")
            _check_keys(where, entry, SECTOR_KEYS, required={"extracts"})
            if entry["extracts"] not in EXTRACT_LAYOUTS:
                raise TraitError(
                    f"{where}.extracts: {str(entry['extracts'])[:20]!r} is not a layout; use "
                    f"one of {', '.join(EXTRACT_LAYOUTS)}."
                )
            if not isinstance(entry.get("name", code), str):
                raise TraitError(f"{where}.name: give a text.")
        return sectors

    @validate("institutions")
    def _check_institutions(self, proposal):
        institutions = proposal.value
        if not institutions:
            raise TraitError("Consortium.institutions: list the member institutions.")
        names = {}
        for code, entry in institutions.items():
            where = f"Consortium.institutions[{code!r}]"
            if not CODE.fullmatch(code):
                raise TraitError(
                    f"Consortium.institutions: {code[:40]!r} is not an institution code like "
                    "CC-101 (capitals and digits, up to three parts joined by '-')."
                )
            _check_keys(where, entry, INSTITUTION_KEYS, required={"name", "sector"})
            if entry["sector"] not in self.sectors:
                raise TraitError(
                    f"{where}.sector: {str(entry['sector'])[:20]!r} is not a key of "
                    f"Consortium.sectors ({', '.join(self.sectors)})."
                )
            name = entry["name"]
            if not isinstance(name, str) or not name.strip():
                raise TraitError(f"{where}.name: give the institution's name.")
            if name.strip().lower() in names:
                raise TraitError(f"{where}.name: {names[name.strip().lower()]} has that name too.")
            names[name.strip().lower()] = code
            group = entry.get("steward_group")
            if group is not None and not (isinstance(group, str) and GROUP.fullmatch(group)):
                raise TraitError(f"{where}.steward_group: give a hub group name.")
            if not isinstance(entry.get("disclosure", {}), dict):
                raise TraitError(
                    f"{where}.disclosure: give a dict of rule values, e.g. {{'min_count': 11}}."
                )
        return institutions

    @validate("researchers_group", "reviewers_group", "admins_group", "steward_group_prefix")
    def _check_group(self, proposal):
        name = proposal.trait.name
        if not GROUP.fullmatch(proposal.value):
            raise TraitError(f"Consortium.{name}: {proposal.value[:40]!r} is not a hub group name.")
        return proposal.value

    def check(self) -> "Consortium":
        """What no single setting shows: every group carries one role."""
        roles = {
            self.researchers_group: "researchers_group",
            self.reviewers_group: "reviewers_group",
            self.admins_group: "admins_group",
        }
        if len(roles) < 3:
            raise TraitError(
                "Consortium.researchers_group, reviewers_group and admins_group must be three "
                "different groups."
            )
        seen = {}
        for code in self.institutions:
            group = self.steward_group(code)
            if group in roles:
                raise TraitError(
                    f"Consortium.institutions[{code!r}]: its steward group {group!r} is "
                    f"Consortium.{roles[group]}; give it a group of its own."
                )
            if group in seen:
                raise TraitError(
                    f"Consortium.institutions[{code!r}]: {seen[group]} has the steward group "
                    f"{group!r} too; each institution needs its own."
                )
            seen[group] = code
        return self

    # -- reading -------------------------------------------------------------------------------
    @property
    def codes(self) -> list[str]:
        """Member codes in the configured order."""
        return list(self.institutions)

    def __contains__(self, code) -> bool:
        return code in self.institutions

    def name(self, code: str) -> str:
        return self.institutions[code]["name"]

    def names(self) -> dict[str, str]:
        """code -> name (the steward rule finds both in output tables)."""
        return {code: entry["name"] for code, entry in self.institutions.items()}

    def sector(self, code: str) -> str:
        return self.institutions[code]["sector"]

    def layout(self, code: str) -> str:
        """The record layout ``code`` sends (``EXTRACT_LAYOUTS``), from its sector."""
        return self.sectors[self.sector(code)]["extracts"]

    def in_layout(self, layout: str) -> list[str]:
        """Members whose records have ``layout``, in the configured order."""
        return [code for code in self.institutions if self.layout(code) == layout]

    def steward_group(self, code: str) -> str:
        entry = self.institutions.get(code) or {}  # a former member: the default name
        return entry.get("steward_group") or self.steward_group_prefix + code

    def steward_groups(self) -> dict[str, str]:
        """Hub group -> the institution its members steward."""
        return {self.steward_group(code): code for code in self.institutions}

    def steward_institutions(self, groups) -> set[str]:
        """The institutions whose steward a member of ``groups`` is."""
        by_group = self.steward_groups()
        return {by_group[g] for g in groups or () if g in by_group}

    def roles(self, groups) -> set[str]:
        """The enclave roles these hub groups carry (``researchers``, ``reviewers``,
        ``stewards``, ``admins``); empty: no role, refused at login."""
        groups = set(groups or ())
        roles = {
            role
            for role, group in (
                ("researchers", self.researchers_group),
                ("reviewers", self.reviewers_group),
                ("admins", self.admins_group),
            )
            if group in groups
        }
        if self.steward_institutions(groups):
            roles.add("stewards")
        return roles

    def disclosure(self) -> dict[str, dict]:
        """code -> its stricter disclosure settings (only the members that set some)."""
        return {
            code: entry["disclosure"]
            for code, entry in self.institutions.items()
            if entry.get("disclosure")
        }

    def require(self, codes, where: str, exit_code: int = 1) -> None:
        """Refuse codes that are not members, in one line naming ``where``."""
        unknown = [c for c in codes if c not in self.institutions]
        if unknown:
            raise EnclaveError(
                f"{where}: unknown institution {', '.join(map(str, unknown[:3]))}; use one of "
                f"{_listed(self.codes)} (Consortium.institutions).",
                exit_code,
            )


def _listed(codes: list[str], most: int = 12) -> str:
    shown = ", ".join(codes[:most])
    return shown if len(codes) <= most else f"{shown} and {len(codes) - most} more"


def _check_keys(where: str, entry, allowed: set, required: set) -> None:
    if not isinstance(entry, dict):
        raise TraitError(f"{where}: give a dict with {', '.join(sorted(required))}.")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise TraitError(f"{where}: unknown key {unknown[0]!r}; use {', '.join(sorted(allowed))}.")
    missing = sorted(required - set(entry))
    if missing:
        raise TraitError(f"{where}: give its {missing[0]!r}.")


def consortium(config: Config | None = None) -> Consortium:
    """The consortium ``config`` sets (the demo consortium without one), checked: a bad value
    is one EnclaveError naming the setting (exit 2)."""
    if config is None:
        return demo()
    try:
        return Consortium(config=config).check()
    except TraitError as e:
        raise EnclaveError(str(e).splitlines()[0], exit_code=2) from None


@cache
def demo() -> Consortium:
    """The demo consortium (every default), made once."""
    return Consortium().check()
