"""Where a report run happens: the project, its read-only warehouse, its output area.

Inside a hub session all three come from the spawner's environment; ``--project`` must then name
the session's own project. Outside (an administrator's batch), the command line gives them.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from traitlets import Int, TraitError
from traitlets.config import Configurable

from enclave.config import load_config
from enclave.reports.errors import BadInput
from enclave.session_env import OUTPUT_DIR, PROJECT, WAREHOUSE_URL
from enclave.warehouse.db import is_postgres
from enclave.warehouse.query_protocol import socket_path


class ReportRunner(Configurable):
    """Settings of ``enclave report run|batch`` (the deployment's config file)."""

    cell_timeout = Int(
        1800,
        min=1,
        help="""Seconds one cell of a report may run before the run counts as failed and
        nothing is filed (``--cell-timeout`` overrides it for one command).""",
    ).tag(config=True)


@dataclass(frozen=True)
class RunContext:
    project: str
    warehouse_url: str
    output_dir: Path
    gate_config: str | None = None  # traitlets config file for the gate (jupyterhub_config.py)
    cell_timeout: int = 1800  # seconds one cell may run (ReportRunner.cell_timeout)

    def kernel_environment(self) -> dict[str, str | None]:
        """What the report's kernel reads (see kernels/client.py); None means unset.

        Given whole, not inherited: a batch worker's environment may be older than the run's.
        """
        return {PROJECT: self.project, WAREHOUSE_URL: self.warehouse_url}


def context_from(args, environ: Mapping[str, str] | None = None) -> RunContext:
    environ = os.environ if environ is None else environ
    session_project = environ.get(PROJECT)
    project = args.project or session_project
    if not project:
        raise BadInput("--project: name the approved project this report runs for.")
    if session_project and project != session_project:
        raise BadInput(
            f"--project: this session belongs to project {session_project!r}; a report for "
            f"{project!r} must run in a session of that project."
        )
    url = args.warehouse_url or environ.get(WAREHOUSE_URL)
    if not url:
        raise BadInput(
            "--warehouse-url: no warehouse access; run inside a project session (it sets "
            "ENCLAVE_WAREHOUSE_URL) or give the project's read-only URL."
        )
    if not (is_postgres(url) or socket_path(url)):
        raise BadInput(
            "--warehouse-url: give the session's warehouse (an enclave-query:// socket or a "
            "PostgreSQL role URL); a SQLite warehouse is read only through its query process, "
            "which a project session provides."
        )
    output = args.output_dir or environ.get(OUTPUT_DIR)
    if not output:
        raise BadInput(
            "--output-dir: no output area; run inside a project session (it sets "
            "ENCLAVE_OUTPUT_DIR) or give the project's output directory."
        )
    config = load_config(args.config)
    try:
        cell_timeout = ReportRunner(config=config).cell_timeout
    except TraitError as e:
        raise BadInput(f"{args.config or '$ENCLAVE_CONFIG'}: {e}") from None
    output_dir = Path(output).resolve()
    if not output_dir.is_dir():
        raise BadInput(f"{output_dir}: the output area does not exist; create it first.")
    if args.cell_timeout is not None:
        if args.cell_timeout < 1:
            raise BadInput("--cell-timeout: give a number of seconds of 1 or more.")
        cell_timeout = args.cell_timeout
    return RunContext(project, url, output_dir, args.config, cell_timeout)
