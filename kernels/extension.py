"""IPython extension the kernel spec loads: puts ``warehouse`` into every session's namespace."""

from enclave.kernels.client import Warehouse


def load_ipython_extension(ipython) -> None:
    # connects lazily: a session without warehouse access still starts, and says why on first use
    ipython.push({"warehouse": Warehouse.from_environment()})
