"""Execute the labelled corpus (``cases.py``) in a real Enclave kernel and write
``corpus.ipynb``: one cell per case, its label in ``metadata.enclave_label``. With
``--plain``, in a plain python3 kernel (no structured data: the text heuristics alone), to
``corpus-plain.ipynb``.

    .venv/bin/python -m tests.output_review.labelled.make_corpus [--plain]
"""

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from tests.output_review.labelled.cases import cases, setup_code

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
CORPUS = HERE / "corpus.ipynb"
PLAIN = HERE / "corpus-plain.ipynb"


def build() -> nbformat.NotebookNode:
    nb = new_notebook()
    setup = new_code_cell(setup_code().strip())
    setup.metadata["enclave_label"] = {"id": "setup", "verdict": "pass", "rules": []}
    nb.cells.append(setup)
    for case_id, code, verdict, rules in cases():
        cell = new_code_cell(code)
        cell.metadata["enclave_label"] = {"id": case_id, "verdict": verdict, "rules": sorted(rules)}
        nb.cells.append(cell)
    return nb


def main() -> int:
    from enclave.kernels import install

    plain = "--plain" in sys.argv[1:]
    install.install(prefix=sys.prefix)
    nb = build()
    client = NotebookClient(
        nb,
        kernel_name="python3" if plain else "enclave-python",
        timeout=600,
        allow_errors=False,
        coalesce_streams=True,
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute(
        env={**os.environ, "ENCLAVE_QUERY_LOG_FILE": os.devnull, "PYTHONPATH": str(ROOT)}
    )
    for cell in nb.cells[1:]:  # one output each (a printed result adds its structured form)
        shown = [o for o in cell.outputs if o.get("data", {}).get("text/plain") != ""]
        if len(shown) != 1:
            sys.exit(f"{cell.metadata.enclave_label['id']}: {len(shown)} outputs, not 1")
    path = PLAIN if plain else CORPUS
    nbformat.write(nb, path)
    print(f"{path}: {len(nb.cells) - 1} labelled outputs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
