"""Help that is true: `enclave config --help-all` lists every enclave setting with its help,
`--generate-config` writes them all as a config that loads; settings checked at start."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from enclave.config import check_section
from enclave.errors import EnclaveError
from enclave.hub.config_app import PACKAGES, setting_classes

REPO = Path(__file__).resolve().parents[2]


def enclave(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "enclave", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_every_installed_package_is_searched_for_settings():
    with open(REPO / "pyproject.toml", "rb") as f:
        packages = tomllib.load(f)["tool"]["setuptools"]["packages"]
    assert set(PACKAGES) == {p for p in packages if not p.startswith("enclave.migrations")}


def test_help_all_lists_every_enclave_setting_with_its_help():
    done = enclave("config", "--help-all")
    assert done.returncode == 0, done.stderr
    names = {cls.__name__ for cls in setting_classes()}
    # the settings this issue named, each in its own part
    assert {
        "Consortium",
        "ReviewService",
        "DisclosurePolicy",
        "SmallCounts",
        "ReportRunner",
        "IdleCuller",
        "EnclaveSpawner",
        "EnclaveAuthenticator",
        "WarehouseSettings",
        "QueryProcess",
        "FileLimits",
        "AuditTrail",
    } <= names
    for cls in setting_classes():
        for name, trait in cls.class_own_traits(config=True).items():
            assert f"--{cls.__name__}.{name}=" in done.stdout, (cls, name)
            assert (trait.help or "").strip(), f"{cls.__name__}.{name} has no help"
    # what a class inherits from JupyterHub is JupyterHub's help, not listed as the enclave's
    assert "--EnclaveSpawner.cmd=" not in done.stdout


def test_generate_config_writes_every_setting_commented_and_it_loads(tmp_path):
    target = tmp_path / "enclave_settings.py"
    done = enclave("config", "--generate-config", f"--output={target}")
    assert done.returncode == 0, done.stderr
    text = target.read_text()
    assert "# c.Consortium.institutions = {" in text and "# c.IdleCuller.timeout = 3600" in text
    assert PyFileConfigLoader(target.name, path=str(tmp_path)).load_config() == Config()
    # every line uncommented: each default is a value its setting accepts
    live = tmp_path / "live.py"
    live.write_text(text.replace("\n# c.", "\nc."))
    config = PyFileConfigLoader(live.name, path=str(tmp_path)).load_config()
    assert config.DisclosurePolicy.min_count == 10
    for cls in setting_classes():
        check_section(cls, config)
    # never over an existing file
    again = enclave("config", "--generate-config", f"--output={target}")
    assert again.returncode != 0 and "exists; give --output a new file" in again.stderr
    assert target.read_text() == text


def test_enclave_help_lists_the_config_command():
    assert "config" in enclave("--help").stdout


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("Consortium", "instituions", {}, "c.Consortium.instituions: no such setting"),
        ("DisclosurePolicy", "min_count", 0, "c.DisclosurePolicy.min_count: The value of"),
        ("ReportRunner", "cell_timeout", "ten", "c.ReportRunner.cell_timeout: The 'cell_timeout'"),
    ],
)
def test_check_section_names_the_first_bad_setting(section, key, value, message):
    from enclave.consortium import Consortium
    from enclave.output_review.policy import DisclosurePolicy
    from enclave.reports.session import ReportRunner

    cls = {"Consortium": Consortium, "DisclosurePolicy": DisclosurePolicy}.get(
        section, ReportRunner
    )
    config = Config()
    config[section][key] = value
    with pytest.raises(EnclaveError) as caught:
        check_section(cls, config)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert caught.value.exit_code == 2
