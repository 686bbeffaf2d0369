"""Install the "Enclave (Python)" kernel spec into a Python environment's Jupyter data path.

    python -m enclave.kernels.install --sys-prefix     # into this venv: {sys.prefix}/share/jupyter
    python -m enclave.kernels.install --prefix /opt/enclave/venv
    python -m enclave.kernels.install --user           # ~/.local/share/jupyter

The spec runs ``python -m ipykernel_launcher --ext=enclave.kernels.extension``; jupyter_client
replaces ``python`` with the interpreter that launches the kernel, so one spec serves every venv
that has this project installed.
"""

import argparse
import sys
from importlib.resources import as_file, files

from jupyter_client.kernelspec import KernelSpecManager

KERNEL_NAME = "enclave-python"


def install(prefix: str | None = None, user: bool = False) -> str:
    """Install (or replace) the spec; return the directory it was installed to."""
    with as_file(files("enclave.kernels") / KERNEL_NAME) as source:
        return KernelSpecManager().install_kernel_spec(
            str(source), kernel_name=KERNEL_NAME, user=user, prefix=prefix
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m enclave.kernels.install", description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sys-prefix", action="store_true", help="this Python's environment")
    where.add_argument("--prefix", help="another environment's prefix (e.g. a venv)")
    where.add_argument("--user", action="store_true", help="the current user's Jupyter dir")
    args = parser.parse_args(argv)
    prefix = sys.prefix if args.sys_prefix else args.prefix
    print(install(prefix=prefix, user=args.user))
    return 0


if __name__ == "__main__":
    sys.exit(main())
