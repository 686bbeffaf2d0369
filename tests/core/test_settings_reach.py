"""Every setting reaches its process: the hub's services read the settings the hub wrote at
start (never running its config file again), a research session gets the sections its own
processes honour (never a database URL or a key), and each process reads them with the same
``load_config``."""

import json
import subprocess
import sys

import pytest
from traitlets.config import Config

from enclave.config import (
    SETTINGS,
    SETTINGS_FILE,
    load_config,
    service_environment,
    settings_of,
    write_settings,
)
from enclave.errors import EnclaveError
from enclave.session_env import (
    OUTPUT_DIR,
    PROJECT,
    REVIEW_URL,
    WAREHOUSE_URL,
    session_environment,
    session_sections,
)


def deployment() -> Config:
    c = Config()
    c.JupyterHub.template_vars = {"callable": object()}  # the hub's own: never passed on
    c.GenericOAuthenticator.client_secret = "s3cret"
    c.EnclaveSpawner.pre_spawn_hook = print
    c.EnclaveState.db_url = "postgresql+psycopg://enclave:pw@db/enclave"
    c.WarehouseSettings.url = "postgresql+psycopg://warehouse:pw@db/warehouse"
    c.DisclosurePolicy.min_count = 25
    c.SmallCounts.enabled = True
    c.ReportRunner.cell_timeout = 7
    c.Consortium.steward_group_prefix = "data-stewards-"
    c.ReviewService.service_name = "airlock"
    return c


def test_services_get_every_enclave_section_but_the_hubs_own():
    settings = settings_of(deployment())
    assert set(settings) == {
        "EnclaveState",
        "WarehouseSettings",
        "DisclosurePolicy",
        "SmallCounts",
        "ReportRunner",
        "Consortium",
        "ReviewService",
    }
    assert "s3cret" not in json.dumps(settings)


def test_a_session_gets_only_what_its_processes_honour():
    env = session_environment(
        deployment(),
        project="p",
        warehouse_url="enclave-query:///s",
        review_url="http://h/services/airlock/",
        output_dir="/w/out",
    )
    assert env[PROJECT] == "p" and env[OUTPUT_DIR] == "/w/out"
    assert env[WAREHOUSE_URL] == "enclave-query:///s" and env[REVIEW_URL].endswith("/airlock/")
    settings = json.loads(env[SETTINGS])
    assert settings == {
        "DisclosurePolicy": {"min_count": 25},
        "SmallCounts": {"enabled": True},
        "ReportRunner": {"cell_timeout": 7},
        "Consortium": {"steward_group_prefix": "data-stewards-"},
    }
    assert "pw@" not in env[SETTINGS]  # no database URL, key or token reaches a session


def test_every_output_check_section_reaches_a_session():
    from enclave.output_review.gate import BUILT_IN_CHECKS

    assert {cls.__name__ for cls in BUILT_IN_CHECKS} <= set(session_sections())


def test_a_value_no_other_process_can_get_is_refused_in_one_line():
    c = deployment()
    c.ReviewService.notify = {1, 2}  # a set: JSON cannot carry it
    with pytest.raises(EnclaveError) as caught:
        settings_of(c)
    assert str(caught.value).startswith("c.ReviewService.notify: a set cannot reach the enclave")


def test_services_are_not_told_the_config_file(monkeypatch, tmp_path):
    monkeypatch.setenv("ENCLAVE_CONFIG", "/srv/enclave/jupyterhub_config.py")
    monkeypatch.setenv("ENCLAVE_PROFILE", "local")
    env = service_environment(tmp_path)
    assert "ENCLAVE_CONFIG" not in env and env["ENCLAVE_PROFILE"] == "local"
    assert env[SETTINGS_FILE] == str(tmp_path / "enclave-settings.json")


def read_in_child(env: dict, code: str) -> str:
    """What a fresh process reads through ``load_config()`` with only ``env``."""
    done = subprocess.run(
        [sys.executable, "-c", f"from enclave.config import load_config\n{code}"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_service_reads_the_settings_file_the_hub_wrote(tmp_path):
    path = tmp_path / "enclave-settings.json"
    write_settings(path, settings_of(deployment()))
    assert path.stat().st_mode & 0o777 == 0o600
    code = (
        "from enclave.review_service.config import ReviewService\n"
        "settings = ReviewService(config=load_config())\n"
        "print(settings.service_name, sorted(settings.consortium.steward_groups())[0])"
    )
    assert read_in_child({SETTINGS_FILE: str(path)}, code) == "airlock data-stewards-CC-101"


def test_a_session_process_reads_the_session_settings():
    env = session_environment(
        deployment(), project="p", warehouse_url="x", review_url="y", output_dir="z"
    )
    code = (
        "from enclave.output_review.gate import Gate\n"
        "from enclave.reports.session import ReportRunner\n"
        "config = load_config()\n"
        "print(Gate(config=config).policy.base.min_count, ReportRunner(config=config).cell_timeout)"
    )
    assert read_in_child({SETTINGS: env[SETTINGS]}, code) == "25 7"


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"Gate": 3}'])
def test_unreadable_settings_are_one_line(monkeypatch, text):
    monkeypatch.delenv("ENCLAVE_CONFIG", raising=False)
    monkeypatch.delenv(SETTINGS_FILE, raising=False)
    monkeypatch.setenv(SETTINGS, text)
    with pytest.raises(EnclaveError, match=r"^\$ENCLAVE_SETTINGS: not the settings the hub"):
        load_config()


def test_a_missing_settings_file_names_who_writes_it(monkeypatch, tmp_path):
    monkeypatch.delenv("ENCLAVE_CONFIG", raising=False)
    monkeypatch.setenv(SETTINGS_FILE, str(tmp_path / "none.json"))
    with pytest.raises(EnclaveError, match="no settings file; the hub writes it when it starts"):
        load_config()
