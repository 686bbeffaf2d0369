"""Disclosure policy: the consortium's rules, and the stricter ones a member institution sets.

``DisclosurePolicy`` holds the consortium's defaults (traitlets, ``c.DisclosurePolicy.min_count
= 10``), taken from ACRO's ``default.yaml`` where ACRO has the rule. A member institution may
set stricter values in its entry of the consortium (``disclosure``: a dict of the same names,
e.g. a district whose statute makes cells of 1-4 confidential and forbids 0% and 100%:
``{"min_count": 5, "extreme_share": 0.01}``). An output is judged by the strictest value of
each rule among the institutions whose data it used.
"""

from dataclasses import dataclass, fields, replace

from traitlets import Enum, Float, Int
from traitlets.config import Configurable

from enclave.errors import EnclaveError

SEVERITIES = ("pass", "review", "block")


@dataclass(frozen=True)
class Rules:
    """The rule values one output is judged by (see ``DisclosurePolicy`` for each)."""

    min_count: int = 10
    min_dof: int = 10
    nk_n: int = 2
    nk_k: float = 0.9
    p_ratio: float = 0.10
    zeros: str = "block"
    single_record: str = "review"
    extreme_share: float = 0.0

    def stricter(self, other: "Rules") -> "Rules":
        """Each rule at the stricter of the two values."""
        worst = max  # for thresholds, severities (ranked) and shares alike: larger is stricter
        return Rules(
            min_count=worst(self.min_count, other.min_count),
            min_dof=worst(self.min_dof, other.min_dof),
            nk_n=worst(self.nk_n, other.nk_n),
            nk_k=min(self.nk_k, other.nk_k),
            p_ratio=worst(self.p_ratio, other.p_ratio),
            zeros=worst(self.zeros, other.zeros, key=SEVERITIES.index),
            single_record=worst(self.single_record, other.single_record, key=SEVERITIES.index),
            extreme_share=worst(self.extreme_share, other.extreme_share),
        )


RULE_NAMES = tuple(f.name for f in fields(Rules))


class PolicyError(EnclaveError):
    exit_code = 2


class DisclosurePolicy(Configurable):
    """The consortium's disclosure rules; an institution's ``disclosure`` settings may only
    make them stricter for outputs that use its data."""

    min_count = Int(
        10,
        min=1,
        help="""Fewest records a released count, or the statistic of a table cell (mean, sum,
        median...), may rest on (ACRO ``safe_threshold``). Smaller counts block.""",
    ).tag(config=True)

    min_dof = Int(
        10,
        min=1,
        help="""Fewest residual degrees of freedom a released model may have (ACRO
        ``safe_dof_threshold``); a standard deviation or variance needs ``min_dof`` + 1
        records, as in ACRO.""",
    ).tag(config=True)

    nk_n = Int(
        2,
        min=1,
        max=2,
        help="""N of the N-K dominance rule (ACRO ``safe_nk_n``): the largest N contributions
        to a sum or mean may not make up ``nk_k`` or more of it. The kernel records the two
        largest contributions of each cell, so N is 1 or 2.""",
    ).tag(config=True)

    nk_k = Float(
        0.9,
        min=0.0,
        max=1.0,
        help="K of the N-K dominance rule (ACRO ``safe_nk_k``), as a share of the cell's total.",
    ).tag(config=True)

    p_ratio = Float(
        0.10,
        min=0.0,
        max=1.0,
        help="""The p% rule (ACRO ``safe_pratio_p``): a cell is dominated when the total less
        its two largest contributions is below this share of the largest one.""",
    ).tag(config=True)

    zeros = Enum(
        list(SEVERITIES),
        "block",
        help="""What a zero count, or a proportion of 0 or 1, needs (ACRO
        ``zeros_are_disclosive: True``): a zero tells everyone in one group apart from the
        others (class disclosure).""",
    ).tag(config=True)

    single_record = Enum(
        list(SEVERITIES),
        "review",
        help="""What a statistic that is one record's value needs (min, max, median and other
        quantiles, first, last, mode): a reviewer confirms it discloses no one.""",
    ).tag(config=True)

    extreme_share = Float(
        0.0,
        min=0.0,
        max=0.5,
        help="""Proportions below this share or above 1 minus it block and must be reported as
        e.g. "<1%" / ">99%" (0: no such rule; a district whose statute forbids 0% and 100%
        sets 0.01).""",
    ).tag(config=True)

    def rules(self) -> Rules:
        return Rules(**{name: getattr(self, name) for name in RULE_NAMES})


def institution_rules(base: Rules, entries: dict) -> dict[str, Rules]:
    """Each institution's rules: the consortium's, made stricter by its ``disclosure``
    settings (``entries``: code -> that dict). Bad settings are a one-line error naming them."""
    out = {}
    for code, settings in entries.items():
        where = f"Consortium.institutions[{code!r}].disclosure"
        if not isinstance(settings, dict):
            raise PolicyError(f"{where}: give a dict of rule values, e.g. {{'min_count': 11}}.")
        unknown = sorted(set(settings) - set(RULE_NAMES))
        if unknown:
            raise PolicyError(f"{where}: unknown rule {unknown[0]!r}; use {', '.join(RULE_NAMES)}.")
        probe = DisclosurePolicy()
        for name, value in settings.items():
            try:
                setattr(probe, name, value)
            except Exception:
                raise PolicyError(
                    f"{where}.{name}: {str(value)[:20]!r} is not a valid value; see "
                    f"DisclosurePolicy.{name} (enclave config --help-all)."
                ) from None
        own = replace(base, **{name: getattr(probe, name) for name in settings})
        out[code] = base.stricter(own)
    return out


class PolicyResolver:
    """The rules an output is judged by, from the institutions whose data it used."""

    def __init__(self, base: Rules, by_institution: dict[str, Rules], members: list[str]):
        self.base = base
        self.by_institution = by_institution
        self.members = members
        self._cache: dict[tuple, Rules] = {}

    def for_institutions(self, institutions) -> Rules:
        """Strictest rules among ``institutions``; with none known, among all members (an
        output whose sources are unknown may have used anyone's data)."""
        key = tuple(sorted(set(institutions or ()))) or tuple(self.members)
        if key not in self._cache:
            rules = self.base
            for code in key:
                rules = rules.stricter(self.by_institution.get(code, self.base))
            self._cache[key] = rules
        return self._cache[key]
