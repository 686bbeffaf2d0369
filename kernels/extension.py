"""IPython extension the kernel spec loads: puts ``warehouse`` into every session's namespace,
records how pandas/numpy/statsmodels results are computed, and attaches the structured form
of every displayed table (``provenance.py``, ``structured.py``)."""

from enclave.kernels import provenance, structured
from enclave.kernels.client import Warehouse


def load_ipython_extension(ipython) -> None:
    # connects lazily: a session without warehouse access still starts, and says why on first use
    warehouse = Warehouse.from_environment()
    warehouse.on_result = provenance.note_query
    ipython.push({"warehouse": warehouse})
    provenance.install()
    structured.install(ipython)
