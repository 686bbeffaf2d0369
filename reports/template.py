"""A report template: a local notebook with a ``parameters`` cell, identified by its SHA-256."""

import hashlib
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import nbformat

from enclave.errors import EnclaveError
from reports.parameters import Parameter, parse_parameters_cell

KERNEL_NAME = "enclave-python"


@dataclass(frozen=True)
class Template:
    path: Path
    name: str  # the file's stem: what reviewers and output names show
    sha256: str  # of the file's bytes: the code that ran
    notebook: nbformat.NotebookNode
    parameters: dict[str, Parameter]


def bundled_templates() -> dict[str, Path]:
    """The consortium's report templates shipped in ``notebooks/``, by name."""
    return {p.stem: Path(p) for p in files("notebooks").iterdir() if p.name.endswith(".ipynb")}


def resolve(spec: str) -> Path:
    """A template path, or the name of a bundled template; remote locations are refused."""
    if "://" in spec:
        raise EnclaveError(
            f"{spec}: report templates must be local files; papermill's remote handlers are "
            "disabled in the enclave.",
            exit_code=2,
        )
    path = Path(spec)
    if path.is_file():
        return path
    bundled = bundled_templates()
    if spec in bundled:
        return bundled[spec]
    raise EnclaveError(
        f"{spec}: no such template; give a notebook path or one of: {', '.join(sorted(bundled))}.",
        exit_code=2,
    )


def load_template(spec: str) -> Template:
    """Read and check a template; EnclaveError(exit 2) with one line for anything unusable."""
    path = resolve(spec)
    raw = path.read_bytes()
    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except (UnicodeDecodeError, json.JSONDecodeError, nbformat.ValidationError, ValueError) as e:
        reason = type(e).__name__
        raise EnclaveError(
            f"{path}: not a Jupyter notebook ({reason}); a template must be a valid .ipynb file.",
            exit_code=2,
        ) from None
    cells = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise EnclaveError(
            f"{path}: no cell tagged 'parameters'; tag the cell that sets the defaults "
            "(View > Cell toolbar > Tags) so runs can be checked.",
            exit_code=2,
        )
    if cells[0].cell_type != "code":
        raise EnclaveError(f"{path}: the 'parameters' cell must be a code cell.", exit_code=2)
    try:
        parameters = parse_parameters_cell(cells[0].source)
    except ValueError as e:
        raise EnclaveError(f"{path}: parameters cell: {e}.", exit_code=2) from None
    return Template(path, path.stem, hashlib.sha256(raw).hexdigest(), notebook, parameters)
