"""`enclave review check` on a path that is not a regular notebook file: one line, at once."""

import json
import os

import pytest

from enclave.cli import main


def check(capsys, *argv):
    code = main(["review", "check", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_pipe_or_a_device_is_refused_at_once(tmp_path, capsys, no_hang, kind):
    path = tmp_path / "nb.ipynb"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    with no_hang(10):
        code, out, err = check(capsys, path)
    what = "a named pipe (FIFO)" if kind == "fifo" else "a character device"
    assert (code, out) == (2, "")
    assert err == [
        f"enclave: error: {path}: is {what}, not a regular file; give the path of the file itself."
    ]


def test_a_notebook_over_the_configured_limit_is_refused(tmp_path, capsys):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "metadata": {}, "cells": []}))
    config = tmp_path / "config.py"
    config.write_text("c.FileLimits.max_notebook_bytes = 10\n")
    code, _, err = check(capsys, path, "--config", config)
    assert code == 2 and len(err) == 1
    assert "the file is larger than the 10-byte limit (FileLimits.max_notebook_bytes)" in err[0]
    assert check(capsys, path)[0] == 0  # the default limit lets it through
