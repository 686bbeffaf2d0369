"""Faults of the machine during `enclave warehouse load` and the gate's outputs (issue 15): a
full disk, a read-only file system, a missing folder, a database that terminates or loses the
connection mid-load. Each is one line on stderr naming the path or the database and what to do,
a non-zero exit, nothing published, and no library's lines.

Real faults: a small or read-only tmpfs mounted in a mount namespace of the command's own
(``unshare --mount``), the PostgreSQL server terminating the loader's backend, a TCP forwarder
cut in the middle of a COPY.
"""

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time

import psycopg
import pytest
import sqlalchemy as sa

from enclave.warehouse.generate import generate

pytestmark = pytest.mark.e2e  # real commands, mounts and a real server: slow

ENCLAVE = [sys.executable, "-m", "enclave"]


@pytest.fixture(scope="module")
def bigger(tmp_path_factory):
    """Extracts whose load takes a few seconds, so that it can be hit in the middle."""
    root = tmp_path_factory.mktemp("bigger")
    generate(root, 6000, 5)
    return root


def in_mount(tmp_path, options: str, command: list[str]) -> subprocess.CompletedProcess:
    """Run ``command`` with a tmpfs (``options``) mounted on ``tmp_path/mnt`` for it alone."""
    mount = tmp_path / "mnt"
    mount.mkdir(exist_ok=True)
    script = f'mount -t tmpfs -o {options} none "$1" && shift && exec "$@"'
    return subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, "sh", str(mount), *command],
        capture_output=True,
        text=True,
    )


def one_line(run, *parts, code):
    lines = run.stderr.splitlines()
    assert run.returncode == code, run.stderr
    assert len(lines) == 1 and lines[0].startswith("enclave: error: "), run.stderr
    for part in parts:
        assert part in lines[0], lines[0]


def test_a_full_disk(extracts, key_file, tmp_path):
    target = tmp_path / "mnt" / "w.sqlite"
    run = in_mount(
        tmp_path,
        "size=300k",
        [
            *ENCLAVE,
            "warehouse",
            "load",
            str(extracts),
            "--key",
            str(key_file),
            "--url",
            str(target),
        ],
    )
    one_line(run, f"{target}: no space is left", "Nothing was loaded.", code=74)


def test_a_read_only_file_system(extracts, key_file, tmp_path):
    target = tmp_path / "mnt" / "w.sqlite"
    run = in_mount(
        tmp_path,
        "ro,size=1m",
        [
            *ENCLAVE,
            "warehouse",
            "load",
            str(extracts),
            "--key",
            str(key_file),
            "--url",
            str(target),
        ],
    )
    one_line(run, f"{target}: is on a read-only file system", "Nothing was loaded.", code=74)


def test_a_quarantine_folder_that_does_not_exist(extracts, key_file, tmp_path):
    target = tmp_path / "w.sqlite"
    report = tmp_path / "nope" / "q.csv"
    command = ["load", str(extracts), "--key", str(key_file), "--url", str(target)]
    run = subprocess.run(
        [*ENCLAVE, "warehouse", *command, "--quarantine", str(report)],
        capture_output=True,
        text=True,
    )
    one_line(run, f"{report}: the folder {report.parent} does not exist", code=2)
    assert not target.exists() and not report.parent.exists()


@pytest.mark.parametrize("options, says", [("size=12k", "no space"), ("ro", "read-only")])
def test_gate_outputs_on_a_full_or_read_only_disk(tmp_path, options, says):
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []})
    )
    out = tmp_path / "mnt" / "out.html"
    fill = [] if options == "ro" else ["dd", "if=/dev/zero", f"of={out.parent}/fill", "bs=1k"]
    script = " ".join([*fill, "2>/dev/null;"]) if fill else ""
    run = in_mount(
        tmp_path,
        options,
        ["sh", "-c", f"{script} exec {' '.join(ENCLAVE)} review render {notebook} -o {out}"],
    )
    one_line(run, f"{out}: ", says, code=74)


# --- PostgreSQL: the connection ends in the middle of the load ---------------------------------


def conninfo(url: str) -> str:
    u = sa.engine.make_url(url)
    return f"host={u.host} port={u.port} user={u.username} dbname={u.database}"


def load_process(extracts, key_file, url, tmp_path) -> subprocess.Popen:
    return subprocess.Popen(
        [*ENCLAVE, "warehouse", "load", str(extracts), "--key", str(key_file), "--url", url,
         "--accept-rejects", "--quarantine", str(tmp_path / "q.csv")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def wait_for_copy(admin, database: str, table: str, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE %s",
            (database, f'COPY "warehouse_staging"."{table}"%'),
        ).fetchone()
        if row:
            return row[0]
        time.sleep(0.01)
    raise AssertionError(f"the load never copied {table}")


def no_staging(url: str) -> None:
    with psycopg.connect(conninfo(url)) as conn:
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
    assert "warehouse_staging" not in schemas and "warehouse" not in schemas


def test_a_terminated_backend_mid_load(bigger, key_file, tmp_path, pg_db):
    database = sa.engine.make_url(pg_db).database
    with psycopg.connect(conninfo(pg_db), autocommit=True) as admin:
        load = load_process(bigger, key_file, pg_db, tmp_path)
        pid = wait_for_copy(admin, database, "cc_course_outcomes")
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        _, err = load.communicate(timeout=120)
    run = subprocess.CompletedProcess(load.args, load.returncode, "", err)
    one_line(run, f"/{database}:", "Nothing was loaded.", code=4)
    assert "error ignored" not in err  # one_line: nothing else on stderr either
    no_staging(pg_db)


class Forwarder:
    """127.0.0.1:<port> -> the server on 5432, until ``cut()`` closes every connection."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", 5432))
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass

    def cut(self):
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_a_connection_lost_mid_load(bigger, key_file, tmp_path, pg_db):
    """The case that also printed psycopg's "error ignored terminating <psycopg.Copy [BAD]>"."""
    database = sa.engine.make_url(pg_db).database
    forwarder = Forwarder()
    through = sa.engine.make_url(pg_db).set(port=forwarder.port).render_as_string(False)
    with psycopg.connect(conninfo(pg_db), autocommit=True) as admin:
        load = load_process(bigger, key_file, through, tmp_path)
        wait_for_copy(admin, database, "cc_course_outcomes")
        forwarder.cut()
        _, err = load.communicate(timeout=120)
    run = subprocess.CompletedProcess(load.args, load.returncode, "", err)
    one_line(run, f":{forwarder.port}/{database}:", "connection to the database was lost", code=4)
    assert "error ignored" not in err  # one_line: nothing else on stderr either
    deadline = time.monotonic() + 30  # the server ends the orphaned backend's transaction
    while True:
        try:
            no_staging(pg_db)
            break
        except AssertionError:
            assert time.monotonic() < deadline
            time.sleep(0.2)
