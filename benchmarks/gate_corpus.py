"""The gate on the labelled corpus (tests/output_review/labelled/corpus.ipynb: outputs made
by a real Enclave kernel, labelled from the policy): precision and recall per rule, the
verdicts, and every block the gate missed. Regenerate the corpus with
``python -m tests.output_review.labelled.make_corpus [--plain]``.

    .venv/bin/python benchmarks/gate_corpus.py [--show-wrong] [--plain]
"""

import argparse
import sys
import time
from pathlib import Path

from enclave.output_review.gate import Gate, read_notebook
from enclave.output_review.measure import measure

LABELLED = Path(__file__).parents[1] / "tests/output_review/labelled"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-wrong", action="store_true", help="list each wrong finding")
    parser.add_argument(
        "--plain", action="store_true", help="the same cases run by a plain kernel (text only)"
    )
    args = parser.parse_args()
    path = LABELLED / ("corpus-plain.ipynb" if args.plain else "corpus.ipynb")
    nb = read_notebook(path)
    cpu = time.process_time()
    report = Gate().screen(nb, path.name)
    cpu = time.process_time() - cpu
    m = measure(nb, report)
    kernel = "a plain python3 kernel: text only" if args.plain else "the Enclave kernel"
    print(f"{m.outputs} labelled outputs ({kernel}), screened in {cpu:.2f} CPU s")
    print(
        f"{'rule':20s} {'labelled':>8s} {'found':>6s} {'agreed':>6s} "
        f"{'precision':>9s} {'recall':>7s}"
    )
    for rule in m.rules:
        print(
            f"{rule:20s} {m.labelled[rule]:8d} {m.found[rule]:6d} {m.agreed[rule]:6d} "
            f"{m.precision(rule):9.1%} {m.recall(rule):7.1%}"
        )
    print("verdicts (label -> gate):")
    for (label, gate), n in sorted(m.verdicts.items()):
        print(f"  {label:6s} -> {gate:6s} {n:4d}")
    print(f"recall on block labels: {m.block_recall:.1%} (goal 100%)")
    for case, _, gate, rules in m.missed:
        print(f"  missed block: {case} (gate: {gate} {rules})")
    if args.show_wrong:
        for rule, cases in sorted(m.wrong.items()):
            for case in cases:
                print(f"  {rule} not labelled: {case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
