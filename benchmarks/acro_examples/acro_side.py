"""ACRO's verdict on each of its example analyses (run by the ACRO venv: ``make acro-venv``);
prints {id: status} as JSON on stdout, ACRO's own report on stderr."""

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.acro_examples.analyses import ANALYSES, SETUP  # noqa: E402


def main() -> int:
    os.chdir(tempfile.mkdtemp(prefix="acro-"))
    statuses = {}
    with contextlib.redirect_stdout(sys.stderr):
        from acro import ACRO

        acro = ACRO(suppress=False)
        namespace = {"acro": acro}
        exec(SETUP, namespace)  # noqa: S102 (our own analyses)
        for name, acro_code, _ in ANALYSES:
            acro.suppress = name.endswith(":suppressed")
            before = len(acro.results.results)
            try:
                exec(acro_code, namespace)  # noqa: S102
                records = list(acro.results.results.values())
                statuses[name] = records[-1].status if len(records) > before else "no output"
            except Exception as e:  # reported, not hidden: an analysis ACRO cannot run
                statuses[name] = f"error: {type(e).__name__}"
    print(json.dumps(statuses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
