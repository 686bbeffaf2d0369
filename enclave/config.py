"""One configuration surface: a traitlets Python config file (``jupyterhub_config.py``).

Command-line tools read the same file as the hub: ``--config FILE``, else ``$ENCLAVE_CONFIG``.
The hub's own processes get its settings as values, never by running the file again (which
makes directories, picks ports and registers services): its services read the JSON file the hub
writes at start (``$ENCLAVE_SETTINGS_FILE``), a research session the settings its processes
honour (``$ENCLAVE_SETTINGS``, see ``enclave/session_env.py``). Else: every setting at its
default.
"""

import json
import os
from pathlib import Path

from traitlets import TraitError
from traitlets.config import Config
from traitlets.config.loader import ConfigFileNotFound, LazyConfigValue, PyFileConfigLoader

from enclave.errors import EnclaveError

CONFIG_FILE = "ENCLAVE_CONFIG"
SETTINGS_FILE = "ENCLAVE_SETTINGS_FILE"  # the hub's services: the settings it wrote at start
SETTINGS = "ENCLAVE_SETTINGS"  # a research session: the settings its processes honour
# sections the hub keeps to itself (its database, tokens, OAuth client secret, spawner hooks)
HUB_OWN = ("JupyterHub", "Authenticator", "Spawner", "Proxy")


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load a traitlets config file, else the settings the hub gave this process; a missing or
    broken one is a one-line EnclaveError."""
    path = path or os.environ.get(CONFIG_FILE)
    if not path:
        if os.environ.get(SETTINGS_FILE):
            return _settings_file(Path(os.environ[SETTINGS_FILE]))
        if os.environ.get(SETTINGS):
            return settings_config(os.environ[SETTINGS], f"${SETTINGS}")
        return Config()
    path = Path(path)
    if not path.is_file():
        raise EnclaveError(f"{path}: config file not found; pass an existing file to --config.")
    loader = PyFileConfigLoader(path.name, path=str(path.parent.resolve()))
    try:
        return loader.load_config()
    except ConfigFileNotFound as e:
        raise EnclaveError(f"{path}: config file not found ({e}).") from e
    except Exception as e:  # a config file is code: report where it broke, briefly
        raise EnclaveError(
            f"{path}: config file could not be loaded: {type(e).__name__}: {e}"
        ) from e


def service_environment(hub_dir: str | os.PathLike) -> dict[str, str]:
    """A hub-managed service's environment: the deployment's ``ENCLAVE_*`` variables (never
    the hub's OAuth client secret) and where the hub writes its settings at start; not the
    config file, whose start-up side effects (folders, ports, services) are the hub's."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k.startswith("ENCLAVE_") and k not in (CONFIG_FILE, SETTINGS, SETTINGS_FILE)
    }
    return {**inherited, SETTINGS_FILE: str(Path(hub_dir) / "enclave-settings.json")}


def settings_of(config: Config, sections=None) -> dict:
    """The enclave's settings in ``config`` as plain values for another process: ``sections``
    (names), else every section but the hub's own (``HUB_OWN``). A value JSON cannot carry is
    one line naming the setting: the other process would otherwise run without it."""
    out = {}
    for name, section in config.items():
        wanted = name in sections if sections is not None else not name.endswith(HUB_OWN)
        if not wanted or not isinstance(section, dict):
            continue
        for key, value in section.items():
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                raise EnclaveError(
                    f"c.{name}.{key}: a {type(value).__name__} cannot reach the enclave's other "
                    "processes; give a plain value (text, number, list or dict).",
                    exit_code=2,
                ) from None
        out[name] = dict(section)
    return out


def settings_config(text: str, where: str) -> Config:
    try:
        values = json.loads(text)
        if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
            raise ValueError
    except ValueError:
        raise EnclaveError(
            f"{where}: not the settings the hub writes (JSON sections); restart the hub.",
            exit_code=2,
        ) from None
    return Config(values)


def _settings_file(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EnclaveError(
            f"{path}: no settings file; the hub writes it when it starts ({SETTINGS_FILE})."
        ) from None
    return settings_config(text, str(path))


def write_settings(path: Path, settings: dict) -> None:
    """Write ``settings`` (``settings_of``) where the hub's services read them: 0600, whole."""
    from enclave.scratch import Scratch

    path = Path(path)
    with Scratch(path.parent, path.name) as scratch:
        scratch.path.write_text(json.dumps(settings, indent=1, sort_keys=True), encoding="utf-8")
        scratch.replace(path)


def check_section(cls, config: Config) -> None:
    """``c.<cls>.*`` at start, before anything uses it: every key a setting of ``cls`` (a typo
    would otherwise be ignored), every value valid for it; one line naming the first that is
    not (exit 2)."""
    section = dict.get(config, cls.__name__) or {}
    traits = cls.class_traits(config=True)
    probe = cls.__new__(cls)  # validation only: no __init__, no side effects
    for key, value in section.items():
        where = f"c.{cls.__name__}.{key}"
        if key not in traits:
            raise EnclaveError(
                f"{where}: no such setting; `enclave config --help-all` lists them.", exit_code=2
            )
        if isinstance(value, LazyConfigValue):  # .append() and the like: checked where used
            continue
        try:
            traits[key].validate(probe, value)
        except TraitError as e:
            raise EnclaveError(f"{where}: {str(e).splitlines()[0]}", exit_code=2) from None
