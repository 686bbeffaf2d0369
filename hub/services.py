"""Managed services (review service, idle culler): restarted within seconds, stopped for good.

JupyterHub runs each managed service through ``jupyterhub.services.service._ServiceSpawner`` and
restarts it when that spawner's poll finds the process gone. The spawner is built without the
hub's configuration, so it polls at ``Spawner.poll_interval``'s default, every 30 s (± 10 %):
a killed review service stayed down for up to half a minute, refusing every submission. It
also stops a service by SIGINT with 10 s, then SIGTERM with 5 s of patience, checked at
growing intervals, and a restart scheduled just before the hub stops spawned a new service
after the hub had stopped the old one: it outlived the hub.

``supervise()`` (called from ``jupyterhub_config.py``) has the hub build its services with
:class:`SupervisedServiceSpawner` instead: polled every ``ManagedServices.poll_interval``
seconds, stopped within ``ManagedServices.stop_timeout``, and never restarted once the hub has
begun stopping it. JupyterHub offers no setting for this; the class is swapped in the one
module that names it, and ``tests/hub/test_managed_services.py`` fails if that name moves.
"""

import asyncio
import time

from jupyterhub.services.service import _ServiceSpawner
from traitlets import Integer, default
from traitlets.config import Configurable

STOP_CHECK_SECONDS = 0.05


class ManagedServices(Configurable):
    """How the hub watches and stops the services it runs."""

    poll_interval = Integer(
        1,
        min=1,
        help="""Seconds between the hub's checks that each managed service (review service,
        idle culler) still runs; a service found dead is started again at once, so a crash
        costs this plus the service's start-up time. JupyterHub's own default is 30 s.""",
    ).tag(config=True)

    stop_timeout = Integer(
        3,
        min=1,
        help="""Seconds a managed service gets to exit after SIGINT when the hub stops (then
        SIGTERM, and SIGKILL after as long again).""",
    ).tag(config=True)


def _settings() -> ManagedServices:
    from jupyterhub.app import JupyterHub

    config = JupyterHub.instance().config if JupyterHub.initialized() else None
    return ManagedServices(config=config)


def wait_for_exit(spawner, timeout: float):
    """Poll ``spawner`` every few milliseconds until its process is gone (True) or ``timeout``.

    JupyterHub's own wait doubles its interval each time (0.1, 0.2, 0.4, ... 5 s): a process
    that exits after 1.7 s is only noticed after 3.1 s.
    """

    async def wait() -> bool:
        deadline = time.monotonic() + timeout
        while await spawner.poll() is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(STOP_CHECK_SECONDS)
        return True

    return wait()


def supervise() -> None:
    """In the hub process: build managed services with :class:`SupervisedServiceSpawner`.

    A no-op elsewhere (commands and services load the same configuration file)."""
    from jupyterhub.app import JupyterHub
    from jupyterhub.services import service

    if JupyterHub.initialized():
        service._ServiceSpawner = SupervisedServiceSpawner


class SupervisedServiceSpawner(_ServiceSpawner):
    """A managed service's spawner with ``ManagedServices`` settings (see the module docstring)."""

    _stopped: set[str] = set()  # services the hub has stopped: none of them starts again

    @default("poll_interval")
    def _poll_interval_default(self):
        return _settings().poll_interval

    @default("poll_jitter")
    def _poll_jitter_default(self):
        return 0.0

    @default("interrupt_timeout")
    def _interrupt_timeout_default(self):
        return _settings().stop_timeout

    @default("term_timeout")
    def _term_timeout_default(self):
        return _settings().stop_timeout

    @default("kill_timeout")
    def _kill_timeout_default(self):
        return _settings().stop_timeout

    def start(self):
        if self._service_name in self._stopped:
            # a restart scheduled just before the hub stopped this service: not any more
            raise RuntimeError(f"service {self._service_name} was stopped; not restarting it")
        return super().start()

    async def stop(self, now=False):
        # only the hub's clean-up (and a service's removal) stops a managed service
        self._stopped.add(self._service_name)
        return await super().stop(now=now)

    def wait_for_death(self, timeout=10):
        return wait_for_exit(self, timeout)
