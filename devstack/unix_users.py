"""Unique researcher Unix accounts for tests (created with the hub's own code), removed after."""

import contextlib
import uuid

from enclave.hub.isolation.accounts import create_account, remove_account


def unique_name(stem: str) -> str:
    """A Unix/hub/PostgreSQL-safe name unlikely to collide with parallel test runs."""
    return f"{stem[:16]}{uuid.uuid4().hex[:6]}"


@contextlib.contextmanager
def unix_users(*stems: str):
    """Create one account per stem; yield ``{stem: name}``; delete them (and homes) after."""
    names = {stem: unique_name(stem) for stem in stems}
    try:
        for name in names.values():
            create_account(name)
        yield names
    finally:
        for name in names.values():
            remove_account(name)
