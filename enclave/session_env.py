"""The session environment contract: what a spawner gives a research session, and what the
processes in it read.

Both spawners (``hub/spawner.py``, ``hub/kube.py``) build it with ``session_environment``;
inside the session the kernel's warehouse client (``kernels/client.py``), the submit client and
the Lab button (``kernels/submit.py``, ``kernels/lab.py``), and ``enclave report run`` /
``enclave review check`` (``reports/session.py``, through ``enclave.config.load_config``) read
these names and nothing else of the hub's:

- ``ENCLAVE_PROJECT``: the session's one project;
- ``ENCLAVE_WAREHOUSE_URL``: its read-only warehouse (an ``enclave-query://`` socket or a
  PostgreSQL role URL);
- ``ENCLAVE_REVIEW_URL``: the review service as the session reaches it;
- ``ENCLAVE_OUTPUT_DIR``: the project's output area (report runs file their outputs there);
- ``ENCLAVE_SETTINGS``: the deployment's settings the session's own processes honour
  (``SESSION_SECTIONS`` and every output check's section, as JSON): the consortium, the
  disclosure policy and the gate's checks (``enclave review check`` and report runs screen
  with the hub's rules), report runs' limits, file limits. No database URL, key or token.
- ``ENCLAVE_NOTEBOOK_ROOT``: set by the Lab button for the submit client (the folder it
  serves), not by the spawner; ``JUPYTERHUB_API_TOKEN``: JupyterHub's own.
"""

from importlib.metadata import entry_points

from traitlets.config import Config

from enclave.config import SETTINGS, settings_of

PROJECT = "ENCLAVE_PROJECT"
WAREHOUSE_URL = "ENCLAVE_WAREHOUSE_URL"
REVIEW_URL = "ENCLAVE_REVIEW_URL"
OUTPUT_DIR = "ENCLAVE_OUTPUT_DIR"
NOTEBOOK_ROOT = "ENCLAVE_NOTEBOOK_ROOT"
HUB_TOKEN = "JUPYTERHUB_API_TOKEN"  # noqa: S105 (the variable's name)
SESSION_SECTIONS = (
    "Consortium",
    "DisclosurePolicy",
    "Gate",
    "OutputCheck",
    "ReportRunner",
    "FileLimits",
)
CHECKS_ENTRY_POINT = "enclave.output_checks"


def session_sections() -> tuple[str, ...]:
    """``SESSION_SECTIONS`` and each output check's class name (``c.SmallCounts...``), read
    from the entry points without importing the checks."""
    checks = [ep.value.rpartition(":")[2] for ep in entry_points(group=CHECKS_ENTRY_POINT)]
    return (*SESSION_SECTIONS, *sorted(set(checks)))


def session_settings(config: Config) -> str:
    """``ENCLAVE_SETTINGS``: the session's sections of ``config``, as JSON."""
    import json

    return json.dumps(settings_of(config, session_sections()), sort_keys=True)


def session_environment(
    config: Config, *, project: str, warehouse_url: str, review_url: str, output_dir: str
) -> dict[str, str]:
    """Everything a spawner passes a session beyond JupyterHub's own variables."""
    return {
        PROJECT: project,
        WAREHOUSE_URL: warehouse_url,
        REVIEW_URL: review_url,
        OUTPUT_DIR: output_dir,
        SETTINGS: session_settings(config),
    }
