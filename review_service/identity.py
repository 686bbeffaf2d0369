"""Who is asking: the hub's user model reduced to what the review rules need.

Roles come from custom scopes the hub grants by role (see the README); a steward's
institutions come from hub group names (``Consortium``: ``stewards-CC-101`` or the group an
institution names), and only count when the user also holds the steward scope.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

SCOPE_SUBMIT = "custom:review:submit"
SCOPE_REVIEW = "custom:review:review"
SCOPE_STEWARD = "custom:review:steward"
SCOPE_ADMIN = "custom:review:admin"

CUSTOM_SCOPES = {
    SCOPE_SUBMIT: {"description": "Submit own notebooks for output review."},
    SCOPE_REVIEW: {"description": "Review every output request and decide on it."},
    SCOPE_STEWARD: {
        "description": "Sign off, for one's own institution, requests that use its data."
    },
    SCOPE_ADMIN: {"description": "See every request and download any release."},
}


@dataclass(frozen=True)
class Actor:
    name: str
    scopes: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    # hub group -> the institution its members steward (Consortium.steward_groups());
    # None: the demo consortium's
    steward_groups: Mapping[str, str] | None = field(default=None, compare=False, hash=False)

    @classmethod
    def from_hub_model(cls, model: dict, steward_groups: Mapping[str, str]) -> "Actor":
        # a filtered custom scope (``...!user=x``) is not a role grant: only bare scopes count
        return cls(
            name=model["name"],
            scopes=frozenset(s for s in model.get("scopes", ()) if "!" not in s),
            groups=frozenset(model.get("groups") or ()),
            steward_groups=steward_groups,
        )

    @property
    def can_submit(self) -> bool:
        return SCOPE_SUBMIT in self.scopes

    @property
    def is_reviewer(self) -> bool:
        return SCOPE_REVIEW in self.scopes

    @property
    def is_admin(self) -> bool:
        return SCOPE_ADMIN in self.scopes

    @property
    def stewards(self) -> frozenset[str]:
        """Institution codes this user signs off for."""
        if SCOPE_STEWARD not in self.scopes:
            return frozenset()
        by_group = self.steward_groups
        if by_group is None:
            from enclave.consortium import demo

            by_group = demo().steward_groups()
        return frozenset(by_group[g] for g in self.groups if g in by_group)
