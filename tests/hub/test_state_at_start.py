"""The hub and the review service refuse, at start and in one line, a state database that needs
`enclave upgrade-db`, and leave it as it was (a new one they create: every e2e test starts so)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.launch import ROOT_CONFIG

pytestmark = pytest.mark.e2e  # a real jupyterhub process

LEGACY = Path(__file__).parents[1] / "core" / "legacy_state" / "state-44be478.sqlite"
BIN = Path(sys.executable).parent


def start(tmp_path, command, state, timeout=60, extra=""):
    config = tmp_path / "config.py"
    config.write_text(
        f"c = get_config()  # noqa\nload_subconfig({str(ROOT_CONFIG)!r})  # noqa\n"
        f"c.EnclaveState.db_url = 'sqlite:///{state}'\n"
        "c.JupyterHub.bind_url = 'http://127.0.0.1:1'\n"  # never reached: it stops first
        f"{extra}\n"
    )
    env = {
        **os.environ,
        "ENCLAVE_HUB_DIR": str(tmp_path / "hub"),
        "ENCLAVE_CONFIG": str(config),
        "ENCLAVE_OIDC_ISSUER": "http://127.0.0.1:1",
        "OAUTH_CLIENT_ID": "x",
        "OAUTH_CLIENT_SECRET": "x",
        "OAUTH_CALLBACK_URL": "http://127.0.0.1:1/hub/oauth_callback",
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    argv = {
        "hub": [str(BIN / "jupyterhub"), "-f", str(config)],
        "review": [sys.executable, "-m", "enclave.review_service"],
    }[command]
    return subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("command", ["hub", "review"])
def test_an_out_of_date_state_database_stops_the_process_at_start(tmp_path, command):
    state = tmp_path / "enclave.sqlite"
    shutil.copy(LEGACY, state)
    before = state.read_bytes()
    result = start(tmp_path, command, state)
    assert result.returncode == 1
    (line,) = [ln for ln in result.stderr.splitlines() if "state database" in ln]
    assert "from before migrations" in line and "`enclave upgrade-db --config FILE`" in line
    assert "Traceback" not in result.stderr
    assert state.read_bytes() == before


@pytest.mark.parametrize(
    ("setting", "line"),
    [
        (
            "c.Consortium.institutions = {'CC-101': {'name': 'A', 'sector': 'adult'}}",
            "Consortium.institutions['CC-101'].sector: 'adult' is not a key of "
            "Consortium.sectors",
        ),
        ("c.EnclaveSpawner.max_proceses = 64", "c.EnclaveSpawner.max_proceses: no such setting"),
        ("c.DisclosurePolicy.min_count = 0", "c.DisclosurePolicy.min_count: The value of the"),
        ("c.SmallCounts.enabled = 'no'", "c.SmallCounts.enabled: The 'enabled' trait"),
        ("c.IdleCuller.timeout = -1", "c.IdleCuller.timeout: The value of the 'timeout'"),
        ("c.ReviewService.required_reviewer_approvals = 0", "must be at least 1"),
        # a section of a part the hub does not know: still given to its services, as JSON
        ("c.MailRelay.recipients = {'a@b.example'}", "c.MailRelay.recipients: a set cannot"),
    ],
    ids=["consortium", "typo", "min-count", "check", "culler", "approvals", "not-json"],
)  # fmt: skip
def test_a_bad_setting_stops_the_hub_at_start_in_one_line(tmp_path, setting, line):
    result = start(tmp_path, "hub", tmp_path / "enclave.sqlite", extra=setting)
    assert result.returncode == 1, result.stderr[-2000:]
    (found,) = [ln for ln in result.stderr.splitlines() if line in ln]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "enclave.sqlite").exists()  # refused before the state was opened
