"""Parameterized report runs: papermill inside the enclave, then the review gate."""
