"""Report templates (``*.ipynb``) shipped with the enclave; found with importlib.resources."""
