"""Every malformed input: exit 2, one line on stderr naming the file and the problem, no
traceback, nothing on stdout."""

import io
import json
import subprocess
import sys
import zipfile

import pytest

from enclave.cli import main


def minimal(**changes):
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}
    nb.update(changes)
    return nb


def code_cell(**changes):
    cell = {"cell_type": "code", "source": "1", "metadata": {}, "outputs": [], "execution_count": 1}
    cell.update(changes)
    return cell


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("nb.ipynb", json.dumps(minimal()))
    return buffer.getvalue()


def nested(depth: int) -> bytes:
    """A valid notebook but for one JSON output nested ``depth`` lists deep."""
    data = "[" * depth + "]" * depth
    output = '{"output_type": "display_data", "metadata": {}, "data": {"application/json": ' + data
    cell = '{"cell_type": "code", "source": "", "metadata": {}, "outputs": [' + output + "}}]}"
    return (
        '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [' + cell + "]}"
    ).encode()


CASES = {
    "invalid-json": (b'{"cells": [', "not valid JSON"),
    "empty": (b"", "empty"),
    "whitespace-only": (b"  \n", "empty"),
    "non-utf8": ('{"a": "caf\u00e9"}'.encode("latin-1"), "not UTF-8"),
    "zip": (zipped(), "zip archive"),
    "nbformat-3": (json.dumps(minimal(nbformat=3)).encode(), "version 3 is not supported"),
    "not-an-object": (b"[1, 2]", "not a JSON object"),
    "missing-cells": (json.dumps({"nbformat": 4, "metadata": {}}).encode(), "'cells'"),
    "missing-cell-type": (
        json.dumps(minimal(cells=[{"source": "x", "metadata": {}}])).encode(),
        "cells[0]: missing key 'cell_type'",
    ),
    "missing-outputs": (
        json.dumps(minimal(cells=[{"cell_type": "code", "source": "", "metadata": {}}])).encode(),
        "cells[0]",
    ),
    "missing-output-data": (
        json.dumps(
            minimal(cells=[code_cell(outputs=[{"output_type": "display_data", "metadata": {}}])])
        ).encode(),
        "cells[0].outputs[0]: missing key 'data'",
    ),
    "unknown-output-type": (
        json.dumps(minimal(cells=[code_cell(outputs=[{"output_type": "bogus"}])])).encode(),
        "unknown type",
    ),
    "bad-source-type": (
        json.dumps(minimal(cells=[code_cell(source=42)])).encode(),
        "cells[0].source",
    ),
    "nested-beyond-parser": (nested(200_000), "nested too deeply"),
    "nested-beyond-limit": (nested(150), "nested deeper than"),
}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_malformed_input_is_one_line_and_exit_2(case, tmp_path, capsys):
    content, problem = CASES[case]
    path = tmp_path / f"{case}.ipynb"
    path.write_bytes(content)
    code = main(["review", "check", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert str(path) in err and problem in err
    assert "Traceback" not in err


def test_missing_file(tmp_path, capsys):
    assert main(["review", "check", str(tmp_path / "absent.ipynb")]) == 2
    assert "cannot be read" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["zip", "nested-beyond-parser"])
def test_real_command_prints_no_traceback(case, tmp_path):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(CASES[case][0])
    done = subprocess.run(
        [sys.executable, "-m", "enclave", "review", "check", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_bad_policy_value_is_one_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(minimal()))
    config = tmp_path / "config.py"
    config.write_text("c.DisclosurePolicy.min_count = 'ten'\n")
    assert main(["review", "check", str(path), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "min_count" in err


def test_attachments_must_be_mimebundles(tmp_path, capsys):
    path = tmp_path / "nb.ipynb"
    cell = {"cell_type": "markdown", "source": "x", "metadata": {}, "attachments": ["a.png"]}
    path.write_text(json.dumps(minimal(cells=[cell])))
    assert main(["review", "check", str(path)]) == 2
    assert "cells[0].attachments" in capsys.readouterr().err
