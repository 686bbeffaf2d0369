"""The one error `enclave report` raises for input it cannot use: exit status 2, nothing ran."""

from enclave.errors import EnclaveError


class BadInput(EnclaveError):
    """A template, parameter, grid or session setting that cannot be used; one line, exit 2."""

    exit_code = 2
