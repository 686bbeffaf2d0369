"""Extracts and manifests that are not regular files, or too large: one line, at once."""

import json
import os

import pytest


@pytest.fixture
def load_cli(extracts, key_file, tmp_path, cli):
    def run(*extra, command="load"):
        more = ["--key", key_file, "--url", tmp_path / "w.sqlite"] if command == "load" else []
        return cli("warehouse", *extra, command, extracts, *more)

    return run


def replace_with(path, kind):
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("command", ["load", "check"])
@pytest.mark.parametrize(
    "kind, what", [("fifo", "a named pipe (FIFO)"), ("zero", "a character device")]
)
def test_an_extract_that_is_a_pipe_or_a_device(extracts, load_cli, no_hang, command, kind, what):
    replace_with(extracts / "CC-101/enrollments.csv", kind)
    with no_hang(20):
        code, _, err = load_cli(command=command)
    assert code == 2
    assert err == [
        f"enclave: error: CC-101/enrollments.csv: is {what}, not a regular file; give the path "
        "of the file itself."
    ]
    assert not (extracts.parent / "w.sqlite").exists()


def test_a_manifest_that_is_a_pipe(extracts, load_cli, no_hang):
    replace_with(extracts / "manifest.json", "fifo")
    with no_hang(20):
        code, _, err = load_cli()
    assert code == 2 and len(err) == 1
    assert "manifest.json: is a named pipe (FIFO), not a regular file" in err[0]


def test_an_extract_over_the_configured_limit(extracts, load_cli, tmp_path):
    size = (extracts / "CC-101/students.csv").stat().st_size
    config = tmp_path / "limits.py"
    config.write_text(f"c.FileLimits.max_extract_bytes = {size - 1}\n")
    code, _, err = load_cli("--config", config)
    assert code == 2
    assert err == [
        f"enclave: error: CC-101/students.csv: the file is larger than the {size - 1:,}-byte limit "
        "(FileLimits.max_extract_bytes); give a smaller file, or raise the limit in the "
        "configuration."
    ]


def test_a_manifest_over_the_text_limit(extracts, load_cli, tmp_path):
    manifest = extracts / "manifest.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()), indent=40))
    config = tmp_path / "limits.py"
    config.write_text("c.FileLimits.max_text_bytes = 1000\n")
    code, _, err = load_cli("--config", config)
    assert code == 2 and len(err) == 1
    assert "manifest.json: the file is larger than the 1,000-byte limit" in err[0]
