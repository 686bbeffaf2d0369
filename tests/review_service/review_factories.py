"""Small builders for rows and actors, so unit tests read like the rules they check."""

import json
from types import SimpleNamespace

from enclave.review_service.identity import (
    SCOPE_ADMIN,
    SCOPE_REVIEW,
    SCOPE_STEWARD,
    SCOPE_SUBMIT,
    Actor,
)


def researcher(name="rita"):
    return Actor(name, frozenset({SCOPE_SUBMIT}), frozenset({"researchers"}))


def reviewer(name="rev1"):
    return Actor(name, frozenset({SCOPE_REVIEW}), frozenset({"reviewers"}))


def steward(institution, name=None):
    return Actor(
        name or f"steward-{institution.lower()}",
        frozenset({SCOPE_STEWARD}),
        frozenset({f"stewards-{institution}"}),
    )


def admin(name="ada"):
    return Actor(name, frozenset({SCOPE_ADMIN}), frozenset({"admins"}))


def request_row(**overrides):
    values = dict(
        id="r-test",
        author="rita",
        project="demo",
        status="submitted",
        round=1,
        sha256="0" * 64,
        institutions=json.dumps(["CC-101"]),
    )
    values.update(overrides)
    if isinstance(values["institutions"], list):
        values["institutions"] = json.dumps(values["institutions"])
    return SimpleNamespace(**values)


def decision(user, decision="approve", *, as_reviewer=True, institutions=(), round=1):
    return SimpleNamespace(
        user=user,
        decision=decision,
        as_reviewer=as_reviewer,
        institutions=json.dumps(list(institutions)),
        round=round,
    )
