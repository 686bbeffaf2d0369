"""The gate against ACRO on ACRO's own example analyses (benchmarks/acro_examples): ACRO runs
its calls in its own venv (``make acro-venv``; ACRO pins pandas <= 2.3.3), the same analyses
written as plain pandas/statsmodels run in a real Enclave kernel, and each output goes through
the gate on its own (ACRO judges each output alone). Prints both verdicts and the agreement.

    .venv/bin/python benchmarks/acro_agreement.py [--acro-python .venv-acro/bin/python]
"""

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.acro_examples.analyses import ANALYSES, SETUP  # noqa: E402
from enclave.output_review.gate import Gate  # noqa: E402

AS_ACRO = {"block": "fail", "review": "review", "pass": "pass"}


def acro_verdicts(python: str) -> dict:
    done = subprocess.run(
        [python, str(ROOT / "benchmarks/acro_examples/acro_side.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def gate_verdicts() -> tuple[dict, dict]:
    from enclave.kernels import install

    install.install(prefix=sys.prefix)
    nb = new_notebook(cells=[new_code_cell(SETUP.strip())])
    nb.cells += [new_code_cell(plain) for _, _, plain in ANALYSES]
    client = NotebookClient(
        nb,
        kernel_name="enclave-python",
        timeout=600,
        coalesce_streams=True,
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute(
        env={**os.environ, "ENCLAVE_QUERY_LOG_FILE": os.devnull, "PYTHONPATH": str(ROOT)}
    )
    gate, verdicts, rules = Gate(), {}, {}
    setup = copy.deepcopy(nb.cells[0])
    setup.outputs = []
    for (name, _, _), cell in zip(ANALYSES, nb.cells[1:], strict=True):
        alone = new_notebook(cells=[setup, cell])  # each output judged on its own, as ACRO does
        report = gate.screen(alone)
        verdicts[name] = AS_ACRO[report.verdict]
        rules[name] = sorted({f.rule for f in report.findings})
    return verdicts, rules


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--acro-python",
        default=str(ROOT / ".venv-acro/bin/python"),
        help="ACRO's interpreter (make acro-venv)",
    )
    args = parser.parse_args()
    cpu = time.process_time()
    acro = acro_verdicts(args.acro_python)
    gate, rules = gate_verdicts()
    print(f"{'analysis':46s} {'ACRO':8s} {'gate':8s} gate rules")
    compared = agreed = 0
    for name, _, _ in ANALYSES:
        theirs, ours = acro[name], gate[name]
        mark = "" if theirs == ours else "  <- differs"
        if theirs.startswith("error"):
            mark = "  (ACRO could not run it)"
        else:
            compared += 1
            agreed += theirs == ours
        print(f"{name:46s} {theirs:8s} {ours:8s} {','.join(rules[name])}{mark}")
    print(f"agreement: {agreed}/{compared} = {agreed / compared:.1%} (goal >= 95%)")
    print(f"CPU of this process {time.process_time() - cpu:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
