"""One configuration surface: a traitlets Python config file (``jupyterhub_config.py``).

Command-line tools read the same file as the hub: ``--config FILE``, else
``$ENCLAVE_CONFIG``, else no file (every setting at its default).
"""

import os
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

from enclave.errors import EnclaveError


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load a traitlets config file; a missing or broken file is a one-line EnclaveError."""
    path = path or os.environ.get("ENCLAVE_CONFIG")
    if not path:
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
