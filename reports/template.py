"""A report template: a local notebook with a ``parameters`` cell, identified by its SHA-256."""

import hashlib
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import nbformat

from enclave.files import FileLimits, read_regular
from enclave.reports.errors import BadInput
from enclave.reports.parameters import Parameter, parse_parameters_cell

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
    return {
        p.stem: Path(p) for p in files("enclave.notebooks").iterdir() if p.name.endswith(".ipynb")
    }


def resolve(spec: str) -> Path:
    """A template path, or the name of a bundled template; remote locations are refused."""
    if "://" in spec:
        raise BadInput(
            f"{spec}: report templates must be local files; papermill's remote handlers are "
            "disabled in the enclave."
        )
    path = Path(spec)
    if path.is_file():
        return path
    bundled = bundled_templates()
    if spec in bundled:
        return bundled[spec]
    raise BadInput(
        f"{spec}: no such template; give a notebook path or one of: {', '.join(sorted(bundled))}."
    )


def load_template(spec: str) -> Template:
    """Read and check a template; BadInput (exit 2) with one line for anything unusable."""
    path = resolve(spec)
    try:
        raw = read_regular(
            path, FileLimits().max_notebook_bytes, "FileLimits.max_notebook_bytes", exit_code=2
        )
    except OSError as e:
        raise BadInput(f"{path}: cannot read the template ({e.strerror}).") from None
    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except (UnicodeDecodeError, json.JSONDecodeError, nbformat.ValidationError, ValueError) as e:
        reason = type(e).__name__
        raise BadInput(
            f"{path}: not a Jupyter notebook ({reason}); a template must be a valid .ipynb file."
        ) from None
    cells = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise BadInput(
            f"{path}: no cell tagged 'parameters'; tag the cell that sets the defaults "
            "(View > Cell toolbar > Tags) so runs can be checked."
        )
    if cells[0].cell_type != "code":
        raise BadInput(f"{path}: the 'parameters' cell must be a code cell.")
    try:
        parameters = parse_parameters_cell(cells[0].source)
    except ValueError as e:
        raise BadInput(f"{path}: parameters cell: {e}.") from None
    return Template(path, path.stem, hashlib.sha256(raw).hexdigest(), notebook, parameters)
