"""Secure transport (issue 14 item 4): HTTPS with a certificate made here, Secure cookies and
HSTS, no plain HTTP beyond loopback, private files checked at start, TLS to PostgreSQL beyond
loopback. The checks one by one, then a real hub on TLS and real hubs refusing to start."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from traitlets.config import Config

from devstack.launch import ROOT_CONFIG, start_hub
from devstack.login import login
from devstack.oidc import OIDCProvider
from devstack.ports import free_port
from enclave.errors import EnclaveError
from enclave.hub.transport import check_private_files, check_transport, secure_tornado_settings
from enclave.state import make_engine
from enclave.tls import check_database_tls
from enclave.warehouse.db import pg_connect

BIN = Path(sys.executable).parent
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"
PROVIDER_COOKIES = {"_session", "_interaction", "_interaction_resume"}


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (0600), made by openssl."""
    cert, key = folder / "hub.crt", folder / "hub.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key


def hub(bind_url="http://127.0.0.1:8000", hub_bind_url="http://127.0.0.1:8081", **more):
    settings = dict(ssl_cert="", ssl_key="", internal_ssl=False, tornado_settings={})
    settings.update(hub_ip="127.0.0.1", hub_port=8081)
    settings.update(more)
    return SimpleNamespace(
        config=Config(), bind_url=bind_url, hub_bind_url=hub_bind_url, **settings
    )


# -- what may listen where ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", ["http://0.0.0.0:8000", "http://:8000", "http://10.0.0.5:80", "http://enclave.example"]
)
def test_plain_http_beyond_loopback_is_refused(url):
    with pytest.raises(EnclaveError) as refused:
        check_transport(hub(url))
    assert str(refused.value) == (
        f"JupyterHub.bind_url {url}: plain HTTP beyond loopback; set JupyterHub.ssl_cert and "
        "JupyterHub.ssl_key (hub/README.md, HTTPS) or listen on 127.0.0.1."
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:2"])
def test_plain_http_on_loopback_is_allowed(url):
    check_transport(hub(url))


def test_https_beyond_loopback_needs_both_files_and_they_must_exist(tmp_path):
    cert, key = certificate(tmp_path)
    check_transport(hub("https://0.0.0.0:443", ssl_cert=str(cert), ssl_key=str(key)))
    with pytest.raises(EnclaveError, match=r"^JupyterHub.ssl_key: not set; HTTPS needs both"):
        check_transport(hub("https://0.0.0.0:443", ssl_cert=str(cert)))
    with pytest.raises(EnclaveError, match=r"^JupyterHub.ssl_key /nope: no such file.$"):
        check_transport(hub("https://0.0.0.0:443", ssl_cert=str(cert), ssl_key="/nope"))


def test_the_hub_api_beyond_loopback_needs_internal_ssl():
    with pytest.raises(EnclaveError, match=r"^JupyterHub.hub_bind_url http://:8081: the hub's"):
        check_transport(hub(hub_bind_url="http://:8081"))
    with pytest.raises(EnclaveError, match=r"^JupyterHub.hub_bind_url http://0.0.0.0:8081: "):
        check_transport(hub(hub_bind_url="", hub_ip="0.0.0.0"))
    check_transport(hub(hub_bind_url=""))  # JupyterHub's default: 127.0.0.1
    check_transport(hub(hub_bind_url="http://:8081", internal_ssl=True))


def test_tls_ended_upstream_lets_kubernetes_listen_in_its_cluster():
    terminated = hub("http://:8000", hub_bind_url="http://:8081")
    terminated.config.SecureTransport.tls_terminated_upstream = True
    check_transport(terminated)


def test_on_tls_cookies_are_secure_and_pages_send_hsts(tmp_path):
    cert, key = certificate(tmp_path)
    served = hub("https://0.0.0.0:443", ssl_cert=str(cert), ssl_key=str(key))
    served.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'none'"}}
    secure_tornado_settings(served)
    headers = served.tornado_settings["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["Content-Security-Policy"] == "frame-ancestors 'none'"  # the admin's stay
    assert served.tornado_settings["cookie_options"] == {"secure": True}
    plain = hub()
    secure_tornado_settings(plain)
    assert plain.tornado_settings == {}


# -- private files -------------------------------------------------------------------------------
def private_layout(root: Path) -> Config:
    hub_dir = root / "hub"
    warehouse = hub_dir / "warehouse"
    (warehouse / "projects").mkdir(parents=True)
    hub_dir.chmod(0o700)
    (warehouse / "warehouse.sqlite").write_bytes(b"")
    (warehouse / "warehouse.sqlite").chmod(0o640)
    (hub_dir / "audit.key").write_bytes(b"k" * 32)
    (hub_dir / "audit.key").chmod(0o600)
    config = Config()
    config.EnclaveState.db_url = f"sqlite:///{hub_dir / 'enclave.sqlite'}"
    config.JupyterHub.db_url = f"sqlite:///{hub_dir / 'jupyterhub.sqlite'}"
    config.JupyterHub.cookie_secret_file = str(hub_dir / "cookie_secret")
    config.AuditTrail.key_file = str(hub_dir / "audit.key")
    config.AuditTrail.head_file = str(hub_dir / "audit-head.log")
    config.ReviewService.store_dir = str(hub_dir / "review")
    config.WarehouseSettings.url = str(warehouse / "warehouse.sqlite")
    return config


def test_the_private_files_pass_as_the_hub_makes_them(tmp_path):
    check_private_files(private_layout(tmp_path))


@pytest.mark.parametrize(
    "path, mode, what",
    [
        ("hub", 0o755, "hub's directory"),
        ("hub/audit.key", 0o640, "audit trail's key"),
        ("hub/warehouse", 0o777, "warehouse's folder"),
        ("hub/warehouse/projects", 0o775, "warehouse's folder"),
        ("hub/warehouse/warehouse.sqlite", 0o644, "warehouse file"),
    ],
)
def test_a_private_file_open_to_others_stops_the_start(tmp_path, path, mode, what):
    config = private_layout(tmp_path)
    (tmp_path / path).chmod(mode)
    with pytest.raises(EnclaveError) as refused:
        check_private_files(config)
    assert str(refused.value).startswith(f"{tmp_path / path}: the {what} has mode {mode:04o}")
    assert "chmod" in str(refused.value)


def test_a_private_file_of_another_account_or_a_link_stops_the_start(tmp_path):
    config = private_layout(tmp_path)
    key = tmp_path / "hub" / "audit.key"
    os.chown(key, 65534, 65534)
    with pytest.raises(EnclaveError, match="the audit trail's key belongs to uid 65534"):
        check_private_files(config)
    key.unlink()
    key.symlink_to("/etc/hostname")
    with pytest.raises(EnclaveError, match="the audit trail's key is a symbolic link"):
        check_private_files(config)


def test_the_tls_key_must_be_private(tmp_path):
    config = private_layout(tmp_path)
    _, key = certificate(tmp_path)
    config.JupyterHub.ssl_key = str(key)
    check_private_files(config)
    key.chmod(0o644)
    with pytest.raises(EnclaveError, match=f"^{key}: the TLS key has mode 0644"):
        check_private_files(config)


# -- PostgreSQL beyond loopback ------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://u:secret@10.1.2.3/db",
        "postgresql+psycopg://u@db.example:5432/db?sslmode=prefer",
        "postgresql://u@/db?host=db.example",
    ],
)
def test_a_database_beyond_loopback_without_tls_is_refused_before_connecting(url):
    with pytest.raises(EnclaveError) as refused:
        check_database_tls(url)
    message = str(refused.value)
    assert "beyond loopback) must use TLS; add ?sslmode=verify-full" in message
    assert "secret" not in message
    with pytest.raises(EnclaveError, match="must use TLS"):
        make_engine(url)  # the state database: refused before any connection
    with pytest.raises(EnclaveError, match="must use TLS"):
        pg_connect(url)  # the warehouse's administrative connections


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://u@127.0.0.1/db",
        "postgresql+psycopg://u@localhost/db",
        "postgresql+psycopg://u@/db",  # libpq's socket
        "postgresql://u@/db?host=/var/run/postgresql",
        "postgresql+psycopg://u@db.example/db?sslmode=verify-full",
        "postgresql+psycopg://u@10.1.2.3/db?sslmode=require",
        "sqlite:////srv/enclave/enclave.sqlite",
    ],
)
def test_loopback_sockets_and_tls_pass(url):
    check_database_tls(url)


def test_the_sslmode_reaches_the_server():
    """libpq gets the URL's sslmode (it was dropped before): the shared test server has no
    TLS, so asking for it is refused by the server, in one line."""
    pg_connect(PG).close()
    with pytest.raises(EnclaveError, match="the database refuses connections .*SSL"):
        pg_connect(f"{PG}?sslmode=require")


# -- a real hub ------------------------------------------------------------------------------------
@pytest.mark.e2e  # a real provider, hub, proxy and review service on TLS
def test_a_real_hub_serves_https_only_with_secure_cookies_and_hsts(tmp_path, monkeypatch):
    cert, key = certificate(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # trust this certificate, no other
    port = free_port()
    accounts = {"tlsuser": {"password": "pw-tls", "groups": ["reviewers"]}}
    base = Path(tempfile.mkdtemp(prefix="test-tls-", dir="/var/lib/enclave"))
    callback = f"https://127.0.0.1:{port}/hub/oauth_callback"
    try:
        with OIDCProvider(accounts, [callback]) as provider:
            running = start_hub(base / "hub", provider, port=port, tls=(cert, key))
            try:
                assert running.url == f"https://127.0.0.1:{port}"
                page = requests.get(f"{running.url}/hub/login", timeout=30)
                assert page.status_code == 200
                hsts = page.headers["Strict-Transport-Security"]
                assert hsts == "max-age=31536000; includeSubDomains"
                with pytest.raises(requests.exceptions.SSLError):  # the certificate is checked
                    requests.get(f"{running.url}/hub/login", timeout=30, verify=SYSTEM_CAS)
                with pytest.raises(requests.exceptions.ConnectionError):  # no plain HTTP
                    requests.get(f"http://127.0.0.1:{port}/hub/login", timeout=30)
                session = login(running.url, "tlsuser", "pw-tls")
                assert session.login_response.status_code == 200
                assert session.login_response.url == f"{running.url}/hub/home"
                review = session.get(f"{running.url}/services/review/", timeout=60)
                assert review.status_code == 200 and review.url.startswith(running.url)
                # every cookie of the hub and the service (not the provider's, on plain HTTP)
                ours = [c for c in session.cookies if c.name.split(".")[0] not in PROVIDER_COOKIES]
                names = {(c.name, c.path) for c in ours}
                assert {("jupyterhub-session-id", "/"), ("jupyterhub-hub-login", "/hub/"),
                        ("service-review", "/services/review/"),
                        ("_xsrf", "/services/review/")} <= names  # fmt: skip
                assert [c.name for c in ours if not c.secure] == []
            finally:
                running.stop()
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


def start_refused(tmp_path, extra: str, hub_dir: Path | None = None):
    hub_dir = hub_dir or tmp_path / "hub"
    hub_dir.mkdir(mode=0o700, exist_ok=True)
    config = tmp_path / "config.py"
    config.write_text(
        f"c = get_config()  # noqa\nload_subconfig({str(ROOT_CONFIG)!r})  # noqa\n{extra}\n"
    )
    env = {
        **os.environ,
        "ENCLAVE_HUB_DIR": str(hub_dir),
        "ENCLAVE_OIDC_ISSUER": "http://127.0.0.1:1",
        "OAUTH_CLIENT_ID": "x",
        "OAUTH_CLIENT_SECRET": "x",
        "OAUTH_CALLBACK_URL": "http://127.0.0.1:1/hub/oauth_callback",
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        [str(BIN / "jupyterhub"), "-f", str(config)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("[C ")]


@pytest.mark.e2e  # real jupyterhub processes, stopped at start
def test_a_real_hub_refuses_to_start_on_plain_http_beyond_loopback_or_an_open_directory(
    tmp_path,
):
    port = free_port()
    [line] = start_refused(tmp_path, f"c.JupyterHub.bind_url = 'http://0.0.0.0:{port}'")
    assert f"JupyterHub.bind_url http://0.0.0.0:{port}: plain HTTP beyond loopback" in line
    hub_dir = tmp_path / "hub"
    hub_dir.chmod(0o755)  # the root config makes it 0700 again: a later setting opens it
    extra = f"import os\nos.chmod({str(hub_dir)!r}, 0o755)"
    [line] = start_refused(tmp_path, extra, hub_dir)
    assert f"{hub_dir}: the hub's directory has mode 0755, open to others; chmod 0700" in line


WRITE_AND_SUBMIT = """
import os, subprocess, nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output
rows = warehouse.query("select count(*) as n from cc_enrollments")
nb = new_notebook(cells=[new_code_cell("by_term", outputs=[new_output(
    "execute_result", data={"text/plain": "term  n\\\\n2021FA  120\\\\n2022SP  140"})])],
    metadata={"kernelspec": {"name": "enclave-python", "display_name": "Enclave (Python)",
                             "language": "python"}})
nbformat.write(nb, os.path.expanduser("~/study.ipynb"))
done = subprocess.run(
    ["enclave", "review", "submit", os.path.expanduser("~/study.ipynb"), "--purpose",
     "Completion counts for the board", "--use", "internal", "--recipients", "CC-101"],
    capture_output=True, text=True)
print(os.environ["ENCLAVE_REVIEW_URL"], done.returncode, done.stdout, done.stderr)
"""


@pytest.mark.e2e  # a real hub on TLS, a real session in its sandbox, the review service
def test_a_session_of_a_hub_on_tls_reads_and_submits(tmp_path, monkeypatch):
    from devstack.enclave import running_enclave
    from devstack.researcher import Researcher

    cert, key = certificate(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    people = {"alice": ["researchers"]}
    projects = {"proj_tls": {"members": ["alice"], "institutions": ["CC-101"]}}
    with running_enclave(None, people, projects, tls=(cert, key)) as enclave:
        assert enclave.hub.url.startswith("https://")
        alice = Researcher.sign_on(enclave.hub.url, enclave.names["alice"], enclave.password)
        alice.accept_agreement()
        session = alice.start_session("proj_tls")
        try:
            out = session.execute(WRITE_AND_SUBMIT, timeout=180)
        finally:
            session.shutdown()
        assert out["error"] is None, out
        review_url, code, *said = out["stdout"].split(" ", 2)
        # the session reached the service on this machine, not through the proxy's TLS
        assert review_url.startswith("http://") and review_url.endswith("/services/review/")
        assert code == "0", out["stdout"]
