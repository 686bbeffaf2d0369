"""Bounded reads of the files users and institutions give: regular files only, within a limit."""

import os
import socket

import pytest

from enclave.files import FileLimits, FileRefused, open_regular, read_regular

LIMIT = 1000


@pytest.fixture
def odd_files(tmp_path):
    """A named pipe, a device behind a symbolic link, a socket and a folder."""
    fifo = tmp_path / "extract.csv"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    sock_path = tmp_path / "sock.csv"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with sock:
        yield {
            "a named pipe (FIFO)": fifo,
            "a character device": zero,
            "a socket": sock_path,
            "a folder": folder,
        }


@pytest.mark.parametrize(
    "kind", ["a named pipe (FIFO)", "a character device", "a socket", "a folder"]
)
def test_non_regular_files_are_refused_at_once(odd_files, no_hang, kind):
    path = odd_files[kind]
    with no_hang(5), pytest.raises(FileRefused) as refused:
        read_regular(path, LIMIT, "FileLimits.max_text_bytes", exit_code=2)
    message = str(refused.value)
    assert message == f"{path}: is {kind}, not a regular file; give the path of the file itself."
    assert refused.value.exit_code == 2


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (LIMIT + 1))
    with pytest.raises(FileRefused, match=r"1,000-byte limit \(FileLimits.max_extract_bytes\)"):
        open_regular(big, LIMIT, "FileLimits.max_extract_bytes", name="CC-101/big.csv")
    assert read_regular(big, LIMIT + 1, "x") == b"x" * (LIMIT + 1)


def test_a_file_that_grows_while_it_is_read_stops_at_the_limit(tmp_path):
    path = tmp_path / "growing.csv"
    path.write_bytes(b"a" * 10)
    with open_regular(path, LIMIT, "FileLimits.max_text_bytes") as f:
        with open(path, "ab") as writer:  # someone appends after the size was checked
            writer.write(b"b" * LIMIT)
        with pytest.raises(FileRefused, match="grew beyond the 1,000-byte limit"):
            f.read()


def test_reading_in_pieces_stays_within_the_limit(tmp_path):
    path = tmp_path / "exact.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with open_regular(path, 1024, "x") as f:
        pieces = iter(lambda: f.read(100), b"")
        assert b"".join(pieces) == bytes(range(256)) * 4


def test_a_missing_file_is_an_os_error_for_the_caller_to_word(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing.csv", LIMIT, "x")


def test_limits_are_settings_with_help():
    limits = FileLimits()
    for name in ("max_extract_bytes", "max_notebook_bytes", "max_text_bytes"):
        trait = limits.traits()[name]
        assert trait.metadata.get("config") and len(trait.help) > 40
        assert getattr(limits, name) > 0
