"""Managed services: polled every ManagedServices.poll_interval, stopped quickly, never restarted
once the hub has stopped them (hub/services.py). The restart through a real hub is in
test_stopping.py."""

import sys
import time

import pytest
from jupyterhub.app import JupyterHub
from jupyterhub.objects import Hub
from jupyterhub.services import service
from jupyterhub.services.service import _MockUser
from traitlets.config import Config

from enclave.hub.services import ManagedServices, SupervisedServiceSpawner, supervise


@pytest.fixture
def hub_app():
    """The hub's application singleton, as in the hub process; removed afterwards."""
    config = Config()
    config.ManagedServices.poll_interval = 2
    config.ManagedServices.stop_timeout = 1
    app = JupyterHub.instance(config=config)
    original = service._ServiceSpawner
    yield app
    service._ServiceSpawner = original
    JupyterHub.clear_instance()


def service_spawner(name: str, code: str):
    spawner_class = service._ServiceSpawner  # the class Service.start() builds
    return spawner_class(
        cmd=[sys.executable, "-c", code],
        _service_name=name,
        hub=Hub(),
        user=_MockUser(name=""),
        api_token="t",
        oauth_client_id=f"service-{name}",
    )


def test_the_hub_builds_its_services_with_the_configured_poll_interval(hub_app):
    supervise()
    spawner = service_spawner("poll", "pass")
    assert isinstance(spawner, SupervisedServiceSpawner)
    assert (spawner.poll_interval, spawner.poll_jitter) == (2, 0)
    assert (spawner.interrupt_timeout, spawner.term_timeout, spawner.kill_timeout) == (1, 1, 1)


def test_outside_the_hub_nothing_is_replaced():
    original = service._ServiceSpawner
    supervise()
    assert service._ServiceSpawner is original


def test_defaults_notice_a_dead_service_within_five_seconds():
    assert ManagedServices().poll_interval <= 5
    assert ManagedServices().stop_timeout * 3 < 10  # SIGINT, SIGTERM, SIGKILL: within 10 s


async def test_a_stopped_service_is_not_started_again(hub_app):
    """A restart scheduled just before the hub stopped the service must not spawn a new one."""
    supervise()
    running = service_spawner("stopped", "import time; time.sleep(60)")
    running.start()
    await running.stop()
    assert running.proc.poll() is not None
    restart = service_spawner("stopped", "import time; time.sleep(60)")
    with pytest.raises(RuntimeError, match="was stopped; not restarting it"):
        restart.start()
    assert restart.proc is None


async def test_a_service_that_ignores_sigint_is_stopped_within_the_timeout(hub_app):
    supervise()
    stubborn = service_spawner(
        "stubborn",
        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)",
    )
    stubborn.start()
    time.sleep(0.5)  # let it install its handler
    began = time.monotonic()
    await stubborn.stop()
    took = time.monotonic() - began
    assert stubborn.proc.poll() is not None
    assert 1 <= took < 1.5  # SIGINT ignored for stop_timeout, then SIGTERM noticed at once
