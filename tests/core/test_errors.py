"""Foreseeable faults of the OS and the databases become one line naming what and what to do.

The errors are real ones: made by the OS, by SQLite and by the PostgreSQL server on 5432.
"""

import errno
import os
import sqlite3
import threading

import psycopg
import pytest
import sqlalchemy as sa

from enclave.errors import DATABASE_ERROR, OS_ERROR, EnclaveError, explain, naming


def os_error(code: int, filename=None) -> OSError:
    return OSError(code, os.strerror(code), filename)


@pytest.mark.parametrize(
    "code, says",
    [
        (errno.ENOSPC, "no space is left on its device"),
        (errno.EROFS, "read-only file system"),
        (errno.ENOENT, "does not exist"),
        (errno.EACCES, "permission denied"),
        (errno.EPERM, "permission denied"),
        (errno.EDQUOT, "quota"),
        (errno.ENOTDIR, "not a folder"),
        (errno.ECONNREFUSED, "refused the connection"),
        (errno.ETIMEDOUT, "did not answer in time"),
    ],
)
def test_os_faults_name_the_path_and_what_to_do(code, says):
    fault = explain(os_error(code, "/srv/out/report.html"))
    assert isinstance(fault, EnclaveError) and fault.exit_code == OS_ERROR
    assert str(fault).startswith("/srv/out/report.html: ") and says in str(fault)
    assert "; " in str(fault) and str(fault).endswith(".")  # what happened; what to do


def test_a_scratch_file_is_named_by_what_it_was_building():
    fault = explain(os_error(errno.ENOSPC, "/w/.enclave-scratch-warehouse.sqlite-k2j3h4"))
    assert str(fault).startswith("/w/warehouse.sqlite: no space")


def test_an_os_error_without_a_file_takes_the_name_given():
    assert str(explain(os_error(errno.ENOSPC), "/srv/w.sqlite")).startswith("/srv/w.sqlite: ")


def test_a_bug_is_not_explained():
    assert explain(KeyError("x")) is None
    assert explain(os_error(errno.EBADF)) is None  # a bad descriptor is ours, not the machine's


def test_sqlite_faults(tmp_path):
    read_only = tmp_path / "ro.sqlite"
    sqlite3.connect(read_only).execute("CREATE TABLE t (x)").connection.close()
    conn = sqlite3.connect(f"file:{read_only}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as written:
        conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(sqlite3.Error) as junk:
        sqlite3.connect(tmp_path / "junk.sqlite").execute("SELECT 1 FROM t")
    with pytest.raises(sqlite3.Error) as missing:
        sqlite3.connect(tmp_path / "no" / "such.sqlite")
    for caught, says, code in (
        (written, "cannot be written", OS_ERROR),
        (junk, "not a SQLite database", DATABASE_ERROR),
        (missing, "cannot be opened", OS_ERROR),
    ):
        fault = explain(caught.value, "/srv/w.sqlite")
        assert fault.exit_code == code and str(fault).startswith("/srv/w.sqlite: ")
        assert says in str(fault)


def test_sqlalchemy_wrapped_errors_are_explained_as_the_drivers(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'no' / 'such.sqlite'}")
    with pytest.raises(sa.exc.OperationalError) as caught:
        engine.connect()
    assert "cannot be opened" in str(explain(caught.value, "state"))


@pytest.fixture
def pg(pg_url):
    u = sa.engine.make_url(pg_url)
    info = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
    with psycopg.connect(info, autocommit=True) as admin:
        admin.execute("CREATE TABLE t (x int)")
        yield info, admin


def test_postgres_faults_from_the_server(pg):
    info, admin = pg
    faults = []
    with psycopg.connect(info) as conn:
        conn.execute("SET statement_timeout = '50ms'")
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("SELECT pg_sleep(2)")
        faults.append((caught.value, "cancelled"))
    with psycopg.connect(info) as holder, psycopg.connect(info) as waiter:
        holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        waiter.execute("SET lock_timeout = '50ms'")
        with pytest.raises(psycopg.Error) as caught:
            waiter.execute("SELECT * FROM t")
        faults.append((caught.value, "a lock could not be had in time"))
    with psycopg.connect(info) as victim:
        pid = victim.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.Error) as caught:
            victim.execute("SELECT 1")
        faults.append((caught.value, "ended this session"))
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = on")
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("INSERT INTO t VALUES (1)")
        faults.append((caught.value, "read-only"))
    for error, says in faults:
        fault = explain(error, "postgresql://u@h/db")
        assert fault is not None, type(error)
        assert fault.exit_code == DATABASE_ERROR and says in str(fault), str(fault)


def test_a_connection_cut_without_a_word_from_the_server(pg):
    """A TCP forwarder between client and server, closed mid-session."""
    import socket

    info, _ = pg
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted = []

    def forward():
        client, _ = listener.accept()
        server = socket.create_connection(("127.0.0.1", 5432))
        accepted.append((client, server))

        def pipe(a, b):
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass

        threading.Thread(target=pipe, args=(server, client), daemon=True).start()
        pipe(client, server)

    threading.Thread(target=forward, daemon=True).start()
    conn = psycopg.connect(info.replace("port=5432", f"port={port}"))
    for sock in accepted[0]:
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
    with pytest.raises(psycopg.OperationalError) as caught:
        conn.execute("SELECT 1")
    conn.close()
    listener.close()
    assert "the connection to the database was lost" in str(explain(caught.value, "db"))


def test_naming_turns_a_fault_into_one_line_with_its_consequence():
    with pytest.raises(EnclaveError) as caught, naming("/srv/w.sqlite", "Nothing was loaded."):
        raise os_error(errno.ENOSPC)
    assert str(caught.value) == (
        "/srv/w.sqlite: no space is left on its device; free some space there (or choose "
        "another place). Nothing was loaded."
    )
    with pytest.raises(KeyError), naming("x"):  # bugs pass through
        raise KeyError("k")
