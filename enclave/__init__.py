"""enclave: a Jupyter-based secure research environment for consortium student records."""

__version__ = "0.1.0"
