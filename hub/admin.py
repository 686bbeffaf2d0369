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


def warehouse_grant(config, url: str = ""):
    """``grant(project, scopes) -> access``: the project's warehouse access rebuilt for the
    scopes approved now (none: revoked)."""
    from enclave.consortium import consortium
    from enclave.warehouse.db import WarehouseSettings

    url = url or WarehouseSettings(config=config).url
    members = consortium(config)

    def grant(name, scopes):
        from enclave.warehouse.grant import apply_access

        return apply_access(url, name, scopes, members)

    return grant


def approve(
    registry, config, project: str, institution: str, *, actor: str, reason: str, url: str = ""
):
    """An administrator's override: record ``institution``'s approval of everything in its
    steward's place (``reason``: the institution's decision it records) and rebuild access."""
    return registry.approve_override(
        project, institution, actor=actor, reason=reason, grant=warehouse_grant(config, url)
    )


def withdraw(
    registry, config, project: str, institution: str, *, actor: str, reason: str, url: str = ""
):
    """An administrator stops a project's use of ``institution``'s data (an emergency, or on
    its steward's word outside the enclave); stewards withdraw in the review service."""
    return registry.withdraw(
        project,
        institution,
        actor=actor,
        stewards=None,
        comment=reason,
        grant=warehouse_grant(config, url),
    )
