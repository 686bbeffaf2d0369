"""The idle culler: ``jupyterhub-idle-culler`` as a hub-managed service, with traitlets.

A session left open keeps its warehouse access and its memory; the culler stops servers idle for
``IdleCuller.timeout`` seconds. The service runs ``python -m enclave.hub.culler``, which reads the
settings the hub wrote at start (``$ENCLAVE_SETTINGS_FILE``) and then becomes the culler with
them — so ``c.IdleCuller.*`` works wherever the hub's configuration sets it.
"""

import os
import sys

from traitlets import Integer
from traitlets.config import Configurable

NAME = "idle-culler"


class IdleCuller(Configurable):
    timeout = Integer(
        3600,
        min=1,
        help="Seconds a session may stay idle before the culler stops its server.",
    ).tag(config=True)

    cull_every = Integer(
        300,
        min=1,
        help="Seconds between two culler passes (a session ends within timeout + this).",
    ).tag(config=True)

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={self.timeout}",
            f"--cull-every={self.cull_every}",
        ]


def service(hub_dir) -> dict:
    """The ``JupyterHub.services`` entry (settings: the file the hub writes in ``hub_dir``)."""
    from enclave.config import service_environment

    return {
        "name": NAME,
        "command": [sys.executable, "-m", "enclave.hub.culler"],
        "environment": service_environment(hub_dir),
    }


def role() -> dict:
    """The ``JupyterHub.load_roles`` entry: what the culler needs, nothing more."""
    return {
        "name": NAME,
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": [NAME],
    }


def main() -> None:
    from enclave.config import load_config

    command = IdleCuller(config=load_config()).command()
    # become the culler: the service's environment (its API token) carries over
    os.execv(command[0], command)  # noqa: S606 (a fixed command, no shell)


if __name__ == "__main__":
    main()
