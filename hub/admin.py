"""Administrators' changes to projects, shared by ``enclave project ...`` and the hub's admin pages.

Each change goes through the project registry, which writes its audit event (actor = the
administrator) in the same transaction as the change.
"""

from datetime import date

from enclave.errors import EnclaveError


def parse_expiry(text: str, field: str = "--expires") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise EnclaveError(f"{field} {text!r}: not a date; use YYYY-MM-DD.") from None


def add_member(registry, project: str, user: str, *, actor: str):
    """Add ``user`` to ``project``; creates their Unix account first (deliberately, here)."""
    from enclave.hub.isolation.accounts import check_username, create_account

    check_username(user)
    if registry.get(project) is None:
        raise EnclaveError(f"project {project!r}: no such project; see `enclave project list`.")
    account = create_account(user)
    return account, registry.add_member(project, user, actor=actor)


def approve(registry, config, project: str, institution: str, *, actor: str, url: str = ""):
    """Record ``institution``'s approval and (re)build the project's warehouse access."""
    from enclave.warehouse.db import WarehouseSettings
    from enclave.warehouse.grant import grant_project

    url = url or WarehouseSettings(config=config).url
    return registry.approve(
        project,
        institution,
        actor=actor,
        grant=lambda name, institutions: grant_project(url, name, institutions),
    )
