"""The review service's part of ``jupyterhub_config.py``: one call adds everything.

``configure(c, hub_dir=...)`` registers the hub-managed service (its process, OAuth scopes),
the custom scopes and the roles that grant them by hub group, the scopes a research session's
token needs to submit and to record queries, and the hub home page's waiting count.
"""

import os
import socket
import sys
from pathlib import Path

from enclave.review_service.identity import (
    CUSTOM_SCOPES,
    REVIEWERS_GROUP,
    SCOPE_ADMIN,
    SCOPE_REVIEW,
    SCOPE_STEWARD,
    SCOPE_SUBMIT,
)
from enclave.templates import templates_root

TEMPLATES = templates_root()
ACCESS = "access:services!service=review"
# JupyterHub's default "server" role, plus reaching the review service to submit and log queries
SESSION_TOKEN_SCOPES = ["users:activity!user", "access:servers!server", ACCESS, SCOPE_SUBMIT]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hub_config_file() -> str:
    """The config file the hub is loading, so the service reads exactly the same settings."""
    from jupyterhub.app import JupyterHub

    if JupyterHub.initialized():
        return os.path.abspath(JupyterHub.instance().config_file)
    return str(TEMPLATES.parent / "jupyterhub_config.py")


def configure(c, *, hub_dir: Path, institutions=None) -> None:
    from enclave.review_service.hub_home import Notices, WaitingCount

    hub_dir = Path(hub_dir)
    if "store_dir" not in c.ReviewService:
        c.ReviewService.store_dir = str(hub_dir / "review")
    port = int(os.environ.get("ENCLAVE_REVIEW_PORT") or free_port())
    c.JupyterHub.services.append(
        {
            "name": "review",
            "url": f"http://127.0.0.1:{port}",
            "command": [sys.executable, "-m", "enclave.review_service"],
            "environment": {
                "ENCLAVE_CONFIG": hub_config_file(),
                "ENCLAVE_HUB_DIR": str(hub_dir),
                # the deployment's own settings; never the hub's OAuth client secret
                **{k: v for k, v in os.environ.items() if k.startswith("ENCLAVE_")},
            },
            "oauth_client_allowed_scopes": [*CUSTOM_SCOPES, ACCESS],
            "oauth_no_confirm": True,
        }
    )
    c.JupyterHub.custom_scopes.update(CUSTOM_SCOPES)
    stewards = [f"stewards-{code}" for code in institutions or default_institutions()]
    c.JupyterHub.load_roles.extend(
        [
            {"name": "review-submit", "groups": ["researchers"], "scopes": [SCOPE_SUBMIT, ACCESS]},
            {
                "name": "review-review",
                "groups": [REVIEWERS_GROUP],
                "scopes": [SCOPE_REVIEW, ACCESS],
            },
            {"name": "review-steward", "groups": stewards, "scopes": [SCOPE_STEWARD, ACCESS]},
            {"name": "review-admin", "groups": ["admins"], "scopes": [SCOPE_ADMIN, ACCESS]},
        ]
    )
    c.Spawner.server_token_scopes = SESSION_TOKEN_SCOPES
    existing = c.JupyterHub.template_paths
    c.JupyterHub.template_paths = [
        str(TEMPLATES / "service" / "hub"),
        *(existing if isinstance(existing, list) else []),
        str(TEMPLATES),  # lets templates/service/hub/home.html extend "hub/home.html"
    ]
    c.JupyterHub.template_vars.update(
        {
            "review_waiting": WaitingCount(c.EnclaveState.db_url),
            "review_notices": Notices(c.EnclaveState.db_url),
        }
    )


def default_institutions():
    from enclave.consortium import INSTITUTIONS

    return sorted(INSTITUTIONS)
