"""What a request still needs: distinct reviewer approvals and one steward per institution.

Pure functions over rows, so the rule is tested without a database. A single person may be
both a reviewer and a steward: their approval then counts for both roles (documented in the
README); nobody's approval counts on their own request (permissions refuse it earlier).
"""

import json
from dataclasses import dataclass, field


@dataclass
class Progress:
    reviewers: list[str] = field(default_factory=list)  # who approved as reviewer
    reviewers_needed: int = 0  # how many more reviewer approvals are needed
    stewards: dict[str, str] = field(default_factory=dict)  # institution -> approving steward
    institutions_outstanding: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.reviewers_needed == 0 and not self.institutions_outstanding

    @property
    def approvers(self) -> list[str]:
        return sorted(set(self.reviewers) | set(self.stewards.values()))


def progress(request, decisions, required_reviewers: int) -> Progress:
    """Approvals of the request's current round, and what is still missing."""
    required = json.loads(request.institutions)
    p = Progress()
    for d in decisions:
        if d.round != request.round or d.decision != "approve" or d.user == request.author:
            continue
        if d.as_reviewer and d.user not in p.reviewers:
            p.reviewers.append(d.user)
        for institution in json.loads(d.institutions):
            if institution in required:
                p.stewards.setdefault(institution, d.user)
    p.reviewers_needed = max(0, required_reviewers - len(p.reviewers))
    p.institutions_outstanding = [i for i in required if i not in p.stewards]
    return p
