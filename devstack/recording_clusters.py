"""The PostgreSQL clusters that recorded sessions need, for tests and benchmarks: a warehouse
primary and its hot standby, both with pgAudit, on ports of their own.

Research sessions read from a hot standby: a server in recovery cannot write at all, so no
setting a session changes (``default_transaction_read_only``) gives it a writable transaction,
a large object, a temporary table or a LISTEN/NOTIFY channel. pgAudit on the standby records
every read in its JSON log (``READER_AUDIT_LOG``), which the hub imports.

``make recording-clusters`` runs this as root, idempotently: it installs Debian's
``postgresql-15-pgaudit``, creates ``15/enclave`` (primary) and ``15/enclave_reader`` (a
streaming replica made with ``pg_basebackup``), writes their settings, and starts whichever is
down. The shared cluster on 5432 is never touched.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

VERSION = "15"
PRIMARY, PRIMARY_PORT = "enclave", 5440
READER, READER_PORT = "enclave_reader", 5441
READER_LOG_DIR = Path(f"/var/log/postgresql/{VERSION}-{READER}")
READER_AUDIT_LOG = READER_LOG_DIR / "postgresql.json"  # jsonlog: log_filename + ".json"
PRIMARY_URL = f"postgresql+psycopg://postgres@127.0.0.1:{PRIMARY_PORT}/postgres"
READER_URL = f"postgresql+psycopg://postgres@127.0.0.1:{READER_PORT}/postgres"
PACKAGE = f"postgresql-{VERSION}-pgaudit"

COMMON_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "shared_preload_libraries": "'pgaudit'",
    "max_connections": "200",
}
PRIMARY_SETTINGS = {"wal_level": "replica", "max_wal_senders": "5"}
READER_SETTINGS = {
    "hot_standby": "on",
    "logging_collector": "on",
    "log_destination": "'jsonlog'",
    "log_directory": f"'{READER_LOG_DIR}'",
    "log_filename": "'postgresql.log'",
    "log_file_mode": "0600",
    # one file that only grows: the importer keeps its offset in it
    "log_rotation_age": "0",
    "log_rotation_size": "0",
}
# the admin (tests, the hub) over loopback; every other role needs its password. The hub adds
# its own block for sessions on top (hub/isolation/postgres.py).
HBA = """\
local all postgres peer
host all postgres 127.0.0.1/32 trust
host replication postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


def run(*command: str, user: str | None = None) -> str:
    if user is not None:
        command = ("runuser", "-u", user, "--", *command)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def config_dir(name: str) -> Path:
    return Path(f"/etc/postgresql/{VERSION}/{name}")


def data_dir(name: str) -> Path:
    return Path(f"/var/lib/postgresql/{VERSION}/{name}")


def running(name: str) -> bool:
    status = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", VERSION, name, "status"],
        capture_output=True,
        check=False,
    )
    return status.returncode == 0


def pg_ctl(name: str, action: str) -> None:
    run("pg_ctlcluster", "--skip-systemctl-redirect", VERSION, name, action)


def install_package() -> None:
    if Path(f"/usr/share/postgresql/{VERSION}/extension/pgaudit.control").is_file():
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", PACKAGE]):
        if subprocess.run(command, env=env, check=False).returncode:
            sys.exit(f"{' '.join(command)} failed: cannot install {PACKAGE}.")


def write_settings(name: str, settings: dict[str, str]) -> bool:
    """Our settings in ``conf.d/enclave.conf``; True when they changed."""
    path = config_dir(name) / "conf.d" / "enclave.conf"
    text = "# written by devstack/recording_clusters.py\n" + "".join(
        f"{key} = {value}\n" for key, value in settings.items()
    )
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    shutil.chown(path, "postgres", "postgres")
    return True


def write_hba(name: str) -> None:
    path = config_dir(name) / "pg_hba.conf"
    path.write_text(HBA)
    shutil.chown(path, "postgres", "postgres")
    path.chmod(0o640)


def create_primary() -> None:
    if not config_dir(PRIMARY).is_dir():
        run("pg_createcluster", VERSION, PRIMARY, "--port", str(PRIMARY_PORT))
        write_hba(PRIMARY)
    changed = write_settings(PRIMARY, COMMON_SETTINGS | PRIMARY_SETTINGS)
    if running(PRIMARY) and changed:
        pg_ctl(PRIMARY, "restart")
    elif not running(PRIMARY):
        pg_ctl(PRIMARY, "start")


def create_reader() -> None:
    if not config_dir(READER).is_dir():
        run("pg_createcluster", VERSION, READER, "--port", str(READER_PORT))
        write_hba(READER)
        data = data_dir(READER)
        shutil.rmtree(data)  # replaced by a copy of the primary that streams its changes
        data.mkdir(mode=0o700)
        shutil.chown(data, "postgres", "postgres")
        run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(PRIMARY_PORT), "-U", "postgres"),
            *("-D", str(data), "-R", "-X", "stream"),
            user="postgres",
        )
    READER_LOG_DIR.mkdir(parents=True, exist_ok=True)
    shutil.chown(READER_LOG_DIR, "postgres", "postgres")
    READER_LOG_DIR.chmod(0o750)
    changed = write_settings(READER, COMMON_SETTINGS | READER_SETTINGS)
    if running(READER) and changed:
        pg_ctl(READER, "restart")
    elif not running(READER):
        pg_ctl(READER, "start")


def wait_ready(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while subprocess.run(
        ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)], check=False
    ).returncode:
        if time.monotonic() > deadline:
            sys.exit(f"PostgreSQL on port {port} did not accept connections in {seconds:g} s.")
        time.sleep(0.2)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("recording_clusters: run as root (it creates PostgreSQL clusters).")
    install_package()
    create_primary()
    wait_ready(PRIMARY_PORT)
    create_reader()
    wait_ready(READER_PORT)
    print(f"recording clusters: primary :{PRIMARY_PORT}, hot standby :{READER_PORT} (pgAudit)")


if __name__ == "__main__":
    main()
