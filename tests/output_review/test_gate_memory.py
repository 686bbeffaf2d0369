"""A valid 60 MB notebook is screened by the real command with peak memory under 10x its
size (measured as the peak RSS of the subprocess that screens it: VmHWM, which starts afresh
at exec; ru_maxrss would carry over the peak of the pytest process that started it)."""

import json
import subprocess
import sys

SCREEN_AND_REPORT_RSS = """
import re, sys
from enclave.cli import main
code = main(["review", "check", sys.argv[1], "--format", "json"])
status = open("/proc/self/status").read()
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status)[1]) * 1024, file=sys.stderr)
sys.exit(code)
"""


def table_cell(i: int) -> dict:
    """A DataFrame-like output in both text/plain and text/html (about 10 kB)."""
    rows = [
        (f"CC-{100 + r % 5}", f"20{15 + r % 9}FA", 100 + (i * 7 + r * 13) % 900) for r in range(40)
    ]
    plain = "institution term    students  mean_gpa\n" + "\n".join(
        f"{a:<11} {b:<6} {n:>10}  {n / 311:8.3f}" for a, b, n in rows
    )
    html = (
        '<table border="1" class="dataframe"><thead><tr><th></th><th></th><th>students</th>'
        "<th>mean_gpa</th></tr></thead><tbody>"
        + "".join(
            f"<tr><th>{a}</th><th>{b}</th><td>{n}</td><td>{n / 311:.3f}</td></tr>"
            for a, b, n in rows
        )
        + "</tbody></table>"
    )
    return {
        "cell_type": "code",
        "execution_count": i,
        "metadata": {},
        "source": f"summary_{i} = cohort.groupby(['institution', 'term']).agg(...)",
        "outputs": [
            {
                "output_type": "execute_result",
                "execution_count": i,
                "metadata": {},
                "data": {"text/plain": plain, "text/html": html},
            }
        ],
    }


def test_60_mb_notebook_screens_under_10x_its_size(tmp_path):
    path = tmp_path / "big.ipynb"
    cells = []
    size = 0
    while size < 60_000_000:
        cells.append(table_cell(len(cells)))
        size += len(json.dumps(cells[-1]))
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
    path.write_text(json.dumps(nb))
    size = path.stat().st_size
    assert size >= 60_000_000

    done = subprocess.run(
        [sys.executable, "-c", SCREEN_AND_REPORT_RSS, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert json.loads(done.stdout)["verdict"] == "pass"
    peak = int(done.stderr.strip().splitlines()[-1])
    print(f"peak RSS {peak / size:.1f}x the file")
    assert peak < 10 * size, f"peak RSS {peak / 1e6:.0f} MB for a {size / 1e6:.0f} MB notebook"
