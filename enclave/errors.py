"""The one error type every enclave command raises for a user's mistake.

The CLI prints it as a single line (no traceback) and exits with ``exit_code``.
Messages are full sentences naming the file or field and what to do next; they
never carry cell outputs, query results or raw identifiers.
"""


class EnclaveError(Exception):
    """A problem the user can fix; shown as one line, exit status ``exit_code``."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
