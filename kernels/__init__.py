"""The "Enclave (Python)" kernel: an ipykernel whose sessions hold a recorded ``warehouse``."""
