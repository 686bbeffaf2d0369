"""The layout is the architecture: each part imports only the parts below it.

Parts, bottom to top: the core (``enclave``), the warehouse, the gate, what runs in a session
(``enclave.kernels``), report runs, the review service, the hub. ``enclave.templates`` and
``enclave.notebooks`` are data any part may read. Dev tooling (``devstack``) and tests are not
installed and may use anything; nothing installed imports them.
"""

import ast
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYERS = [
    "enclave",
    "enclave.warehouse",
    "enclave.output_review",
    "enclave.kernels",
    "enclave.reports",
    "enclave.review_service",
    "enclave.hub",
]
DATA = {"enclave.templates", "enclave.notebooks"}


def package_dirs() -> dict[str, Path]:
    with open(REPO / "pyproject.toml", "rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {name: REPO / folder for name, folder in mapping.items()}


def part_of(module: str) -> str:
    """The part a dotted module name belongs to (its longest known prefix)."""
    for name in sorted([*LAYERS, *DATA], key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return name
    return ""


def modules():
    """(part, file, imported module) for every import in the installed parts."""
    for name, folder in package_dirs().items():
        for path in folder.rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    yield name, path, node.module
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        yield name, path, alias.name


def test_every_part_folder_is_installed():
    """Each top-level folder with Python code is a listed part (and so in the session venv)."""
    listed = {p.resolve() for p in package_dirs().values()}
    folders = {
        p.parent.resolve()
        for p in REPO.glob("*/__init__.py")
        if p.parent.name not in ("tests", "devstack", "benchmarks")
    }
    assert folders <= listed, folders - listed
    with open(REPO / "pyproject.toml", "rb") as f:
        packages = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
    for name, folder in package_dirs().items():
        for init in folder.rglob("__init__.py"):
            dotted = ".".join([name, *init.parent.relative_to(folder).parts])
            assert dotted in packages, f"{dotted} is missing from pyproject's packages"


def test_imports_run_downward_only():
    wrong = []
    for part, path, imported in modules():
        if imported.split(".")[0] in ("devstack", "tests"):
            wrong.append(f"{path.relative_to(REPO)} imports {imported} (not installed)")
            continue
        target = part_of(imported)
        if not target or target in DATA or part in DATA:
            continue
        if LAYERS.index(target) > LAYERS.index(part):
            wrong.append(f"{path.relative_to(REPO)} ({part}) imports {imported} ({target})")
    assert not wrong, "\n".join(wrong)


def test_no_generic_top_level_names_are_installed():
    assert {name.split(".")[0] for name in package_dirs()} == {"enclave"}
