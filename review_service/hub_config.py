"""The review service's part of ``jupyterhub_config.py``: one call adds everything.

``configure(c, hub_dir=...)`` registers the hub-managed service (its process, OAuth scopes),
the custom scopes and the roles that grant them by hub group, the scopes a research session's
token needs to submit and to record queries, and the hub home page's waiting count.
"""

import os
import socket
import sys
from pathlib import Path

from enclave.config import service_environment
from enclave.review_service.identity import (
    CUSTOM_SCOPES,
    SCOPE_ADMIN,
    SCOPE_REVIEW,
    SCOPE_STEWARD,
    SCOPE_SUBMIT,
)
from enclave.templates import templates_root

TEMPLATES = templates_root()
SERVICE_COMMAND = [sys.executable, "-m", "enclave.review_service"]


def access_scope(service_name: str) -> str:
    """The scope that lets a token reach the review service (``ReviewService.service_name``)."""
    return f"access:services!service={service_name}"


def session_token_scopes(service_name: str) -> list[str]:
    """JupyterHub's default "server" role, plus reaching the review service to submit."""
    return [
        "users:activity!user",
        "access:servers!server",
        access_scope(service_name),
        SCOPE_SUBMIT,
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configure(c, *, hub_dir: Path) -> None:
    """The roles name the consortium's groups and the service's name as the config says now;
    at start they follow what the whole config says (``settle_at_start``)."""
    from enclave.consortium import consortium
    from enclave.review_service.config import ReviewService
    from enclave.review_service.hub_home import Notices, WaitingCount

    hub_dir = Path(hub_dir)
    if "store_dir" not in c.ReviewService:
        c.ReviewService.store_dir = str(hub_dir / "review")
    name = ReviewService(config=c).service_name
    members = consortium(c)
    access = access_scope(name)
    port = int(os.environ.get("ENCLAVE_REVIEW_PORT") or free_port())
    c.JupyterHub.services.append(
        {
            "name": name,
            "url": f"http://127.0.0.1:{port}",
            "command": SERVICE_COMMAND,
            # the hub's settings as the hub writes them at start (check_at_start)
            "environment": {**service_environment(hub_dir), "ENCLAVE_HUB_DIR": str(hub_dir)},
            "oauth_client_allowed_scopes": [*CUSTOM_SCOPES, access],
            "oauth_no_confirm": True,
        }
    )
    c.JupyterHub.custom_scopes.update(CUSTOM_SCOPES)
    c.JupyterHub.load_roles.extend(review_roles(members, access))
    c.Spawner.server_token_scopes = session_token_scopes(name)
    existing = c.JupyterHub.template_paths
    c.JupyterHub.template_paths = [
        str(TEMPLATES / "service" / "hub"),
        *(existing if isinstance(existing, list) else []),
        str(TEMPLATES),  # lets templates/service/hub/home.html extend "hub/home.html"
    ]
    c.JupyterHub.template_vars.update(
        {
            "review_waiting": WaitingCount(c),
            "review_notices": Notices(c),
            "review_service_name": name,  # templates/service/hub/home.html links to it
        }
    )


def review_roles(members, access: str) -> list[dict]:
    """The hub roles that grant the review scopes, by the consortium's groups."""
    stewards = sorted(members.steward_groups())
    return [
        {
            "name": "review-submit",
            "groups": [members.researchers_group],
            "scopes": [SCOPE_SUBMIT, access],
        },
        {
            "name": "review-review",
            "groups": [members.reviewers_group],
            "scopes": [SCOPE_REVIEW, access],
        },
        {"name": "review-steward", "groups": stewards, "scopes": [SCOPE_STEWARD, access]},
        {"name": "review-admin", "groups": [members.admins_group], "scopes": [SCOPE_ADMIN, access]},
    ]


def settle_at_start(hub) -> None:
    """At hub start, once every config file is read (a site's config may set ``c.Consortium``
    or the service's name after ``configure()``, as devstack's does): the review roles, the
    service's name and scopes and the sessions' token scopes follow the final settings. The
    hub's authenticator calls it when JupyterHub creates it, before the roles and services
    are loaded."""
    from enclave.consortium import consortium
    from enclave.review_service.config import ReviewService

    name = ReviewService(config=hub.config).service_name
    access = access_scope(name)
    final = {role["name"]: role for role in review_roles(consortium(hub.config), access)}
    for role in hub.load_roles:  # in place: JupyterHub has copied the list, not the roles
        if role.get("name") in final:
            role.update(final[role["name"]])
    for service in hub.services:
        if service.get("command") == SERVICE_COMMAND:
            service["name"] = name
            service["oauth_client_allowed_scopes"] = [*CUSTOM_SCOPES, access]
    hub.config.Spawner.server_token_scopes = session_token_scopes(name)
    hub.template_vars["review_service_name"] = name
