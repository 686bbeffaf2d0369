# The enclave's JupyterHub deployment, top to bottom.
#
# Deployment-specific values come from the environment (the secrets never live in this file):
#   ENCLAVE_HUB_DIR       the hub's own 0700 directory (hub database, cookie secret, state db)
#   ENCLAVE_OIDC_ISSUER   the consortium's OpenID Connect provider
#   OAUTH_CLIENT_ID / OAUTH_CLIENT_SECRET / OAUTH_CALLBACK_URL   the hub's client at that provider
#   ENCLAVE_PROFILE       "local" (default: LocalProcess sessions on this machine) or
#                         "kubernetes" (KubeSpawner; see deploy/)
# Every enclave setting is a traitlet with help text: `enclave config --help-all` lists them, and
# `enclave config --generate-config` writes them all commented (JupyterHub's own settings:
# `jupyterhub --help-all`). The hub checks them at start and stops on a bad one, in one line.
import os
from pathlib import Path

from enclave.templates import template_dir

c = get_config()  # noqa: F821
REPO = Path(__file__).resolve().parent

HUB_DIR = Path(os.environ.get("ENCLAVE_HUB_DIR", "/srv/enclave"))
PROFILE = os.environ.get("ENCLAVE_PROFILE", "local")

# --- the hub's own directory: 0700, it holds the client secret, tokens and every record ---------
HUB_DIR.mkdir(parents=True, exist_ok=True)
os.chmod(HUB_DIR, 0o700)
# --- how the hub is reached (hub/transport.py, checked at start) ---------------------------------
# Plain HTTP only on loopback. Beyond it, HTTPS with the consortium's certificate:
#   ENCLAVE_TLS_CERT / ENCLAVE_TLS_KEY   PEM certificate chain and key (key 0600, the hub's)
#   ENCLAVE_BIND_URL                     e.g. https://0.0.0.0:443 (default http://127.0.0.1:8000)
# On TLS the hub's cookies are Secure and its pages send HSTS (c.SecureTransport.hsts_max_age).
c.JupyterHub.bind_url = os.environ.get("ENCLAVE_BIND_URL", "http://127.0.0.1:8000")
if os.environ.get("ENCLAVE_TLS_CERT"):
    c.JupyterHub.ssl_cert = os.environ["ENCLAVE_TLS_CERT"]
    c.JupyterHub.ssl_key = os.environ.get("ENCLAVE_TLS_KEY", "")
c.JupyterHub.db_url = f"sqlite:///{HUB_DIR / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(HUB_DIR / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(HUB_DIR / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(HUB_DIR / "jupyterhub-proxy.pid")
c.ConfigurableHTTPProxy.command = [str(REPO / "node_modules" / ".bin" / "configurable-http-proxy")]
c.EnclaveState.db_url = f"sqlite:///{HUB_DIR / 'enclave.sqlite'}"
# the audit trail's HMAC key and its signed head log, outside the state database
# (enclave/audit/keying.py): a database writer can neither rewrite nor truncate the trail unseen
c.AuditTrail.key_file = str(HUB_DIR / "audit.key")
c.AuditTrail.head_file = str(HUB_DIR / "audit-head.log")

# --- the consortium: members, sectors, stewards' and role groups (enclave/consortium.py) -------
# c.Consortium.sectors = {"adult": {"name": "Adult schools", "extracts": "cc"}, ...}
# c.Consortium.institutions = {"CC-101": {"name": "...", "sector": "cc"}, ...}  (default: the
#   demo's five fictional members). Here or in a site config that loads this file.

# --- sign-on: the consortium's OpenID Connect provider; groups become roles ---------------------
c.JupyterHub.authenticator_class = "enclave"  # enclave.hub.authenticator (an entry point)
# EnclaveAuthenticator: the Consortium's researchers | reviewers | steward | admins groups;
# everyone else is refused.
# Its OIDC defaults (scopes, groups claim, basic auth) are in hub/authenticator.py.
# Auth state (the provider's tokens) encrypted with a key only the hub reads; the provider is
# asked again every Authenticator.auth_refresh_age (300 s): whom it drops loses sessions,
# tokens and cookies (hub/authenticator.py)
c.EnclaveAuthenticator.auth_state_key_file = str(HUB_DIR / "auth-state.key")

# --- the hub's pages: start page (agreement -> project -> session), agreement, errors, branding --
from enclave.hub.start_page import start_page  # noqa: E402

c.JupyterHub.template_paths = [str(template_dir("hub"))]
c.JupyterHub.template_vars = {"enclave": start_page}  # hub/start_page.py
c.JupyterHub.logo_file = str(template_dir("hub") / "enclave-logo.svg")
c.JupyterHub.extra_handlers = [
    (r"/agreement", "enclave.hub.pages.AgreementHandler"),
    # the administrators' pages, admin role only: hub/admin_pages.py
    (r"/enclave-admin/projects", "enclave.hub.admin_pages.ProjectsPage"),
    (r"/enclave-admin/agreements", "enclave.hub.admin_pages.AgreementsPage"),
    (r"/enclave-admin/audit", "enclave.hub.admin_pages.AuditPage"),
]
# c.EnclavePages.site_name | contact_name | contact_email | access_request_url: hub/start_page.py
# c.DataUseAgreement.text_file | version | effective: hub/agreement.py

# --- isolated research sessions -------------------------------------------------------------------
c.JupyterHub.spawner_class = "enclave"  # enclave.hub.spawner.EnclaveSpawner (an entry point)
c.Spawner.mem_limit = "2G"
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
# a stopping session gets 3 s after SIGINT, 2 s after SIGTERM; then SIGKILL, and the stop kills
# whatever is left in its cgroup: stopping the hub with sessions running stays under 10 s
c.LocalProcessSpawner.interrupt_timeout = 3
c.LocalProcessSpawner.term_timeout = 2
c.EnclaveSpawner.max_processes = 256
c.EnclaveSpawner.max_open_files = 1024
c.JupyterHub.allow_named_servers = False  # one session, one project, at a time
c.JupyterHub.redirect_to_server = False
# SQLite sessions read through a query process that records every statement here first
c.QueryProcess.log_file = str(HUB_DIR / "query-log.jsonl")
# raw extracts (names, dates of birth, the institutions' ids) go once `enclave warehouse load`
# has loaded them, each file's size and hash recorded (warehouse/closure.py)
c.WarehouseSettings.remove_raw_after_load = True
# `enclave project close-expired`: notice at expiry, destruction after c.ProjectClosure.grace_days

# --- services ----------------------------------------------------------------------------------
from enclave.hub import culler, services  # noqa: E402
from enclave.review_service.hub_config import configure as configure_review  # noqa: E402

# the hub checks its services every c.ManagedServices.poll_interval (1 s) and restarts a dead one,
# stops them within c.ManagedServices.stop_timeout, and never restarts one after (hub/services.py)
services.supervise()
# the idle culler reads c.IdleCuller.timeout | cull_every from the settings the hub writes at start
# (hub/culler.py); no service runs this file again
c.JupyterHub.services = [culler.service(HUB_DIR)]
# administrators manage people and servers but do not enter researchers' sessions;
# admin_role(enter_sessions=True) allows it, each entry then audited (hub/authenticator.py)
from enclave.hub.authenticator import admin_role  # noqa: E402

c.JupyterHub.load_roles = [culler.role(), admin_role()]
# review service (issue 5): its process, custom scopes, roles by group, session token scopes,
# and the hub home page's waiting count -- all in review_service/hub_config.py
configure_review(c, hub_dir=HUB_DIR)
# e-mail notifications (enclave/notify.py), sent by the review service from the state database's
# outbox: off until an SMTP server is named. Addresses come from the provider's email claim.
# c.Mail.smtp_host = "smtp.consortium.example"   # | smtp_port | security (starttls, tls, none)
# c.Mail.sender = "enclave@consortium.example"   # | username | password_file (0600) | ca_file
# c.Mail.base_url = "https://enclave.consortium.example/"   # the start of every link
# c.Mail.send_to = ["researchers", "reviewers", "stewards", "admins", "members"]

# --- Kubernetes (deploy/values.yaml carries the same settings for Zero-to-JupyterHub) -----------
if PROFILE == "kubernetes":
    # TLS ends at the chart's ingress (proxy.https); in the cluster the hub listens on plain HTTP
    # behind the NetworkPolicy, and every PostgreSQL connection asks for TLS (sslmode)
    c.SecureTransport.tls_terminated_upstream = True
    # one pod per session; the NetworkPolicy (values.yaml, networkpolicy.yaml) replaces nftables
    c.JupyterHub.spawner_class = "enclave-kubernetes"  # enclave.hub.kube.EnclaveKubeSpawner
    c.JupyterHub.db_url = os.environ.get(
        "ENCLAVE_HUB_DB_URL", "postgresql+psycopg://hub@enclave-postgres/hub?sslmode=require"
    )
    c.EnclaveState.db_url = os.environ.get(
        "ENCLAVE_STATE_DB_URL",
        "postgresql+psycopg://enclave@enclave-postgres/enclave?sslmode=require",
    )
    c.WarehouseSettings.url = os.environ.get(
        "ENCLAVE_WAREHOUSE_ADMIN_URL",
        "postgresql+psycopg://warehouse@enclave-postgres/warehouse?sslmode=require",
    )
    c.EnclaveKubeSpawner.warehouse_admin_url = c.WarehouseSettings.url
    c.EnclaveKubeSpawner.warehouse_host = "enclave-postgres"
    c.KubeSpawner.image = "ghcr.io/consortium/enclave-session:0.1.0"
    c.KubeSpawner.uid = 1000
    c.KubeSpawner.fs_gid = 100
    c.KubeSpawner.mem_limit = "2G"
    c.KubeSpawner.cpu_limit = 1.0
    c.KubeSpawner.extra_labels = {
        "enclave/session": "true",  # what deploy/'s NetworkPolicies select
        # what the chart's own policies admit: the hub API, and the proxy (the review service)
        "hub.jupyter.org/network-access-hub": "true",
        "hub.jupyter.org/network-access-proxy-http": "true",
    }
    c.KubeSpawner.allow_privilege_escalation = False
    c.KubeSpawner.automount_service_account_token = False
    c.KubeSpawner.environment = {
        # the session image installs this project into /opt/enclave/venv, as make session-venv
        "JUPYTER_CONFIG_DIR": "/opt/enclave/venv/lib/python3.11/site-packages/"
        "enclave/kernels/server/jupyter_config"
    }
elif PROFILE != "local":
    raise ValueError(f"ENCLAVE_PROFILE={PROFILE!r}: use 'local' or 'kubernetes'.")
