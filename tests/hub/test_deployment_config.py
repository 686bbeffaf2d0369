"""The Kubernetes path: the deployment's config in its Kubernetes profile, the chart values
generated from it, and every manifest in deploy/ against the Kubernetes schema."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

from devstack import z2jh
from tests.support.kube import K8S_VERSION

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


@pytest.fixture
def kube_config(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCLAVE_PROFILE", "kubernetes")
    monkeypatch.setenv("ENCLAVE_HUB_DIR", str(tmp_path / "hub"))
    return PyFileConfigLoader("jupyterhub_config.py", path=str(REPO)).load_config()


def test_profile_uses_the_enclave_kube_spawner_and_postgresql(kube_config):
    c = kube_config
    assert c.JupyterHub.spawner_class == "enclave-kubernetes"
    assert c.JupyterHub.authenticator_class == "enclave"
    assert c.JupyterHub.db_url.startswith("postgresql+psycopg://")
    assert c.EnclaveState.db_url.startswith("postgresql+psycopg://")
    assert c.EnclaveKubeSpawner.warehouse_admin_url.startswith("postgresql+psycopg://")
    assert c.EnclaveKubeSpawner.warehouse_host == "enclave-postgres"


def test_session_pods_are_unprivileged_and_limited(kube_config):
    k = kube_config.KubeSpawner
    assert k.uid != 0 and k.allow_privilege_escalation is False
    assert k.automount_service_account_token is False
    assert k.mem_limit == "2G" and k.cpu_limit == 1.0
    assert k.extra_labels["enclave/session"] == "true"
    assert k.environment["JUPYTER_CONFIG_DIR"].endswith("enclave/kernels/server/jupyter_config")


def test_local_profile_is_the_default(tmp_path, monkeypatch):
    monkeypatch.delenv("ENCLAVE_PROFILE", raising=False)
    monkeypatch.setenv("ENCLAVE_HUB_DIR", str(tmp_path / "hub"))
    c = PyFileConfigLoader("jupyterhub_config.py", path=str(REPO)).load_config()
    assert c.JupyterHub.spawner_class == "enclave"
    assert (tmp_path / "hub").stat().st_mode & 0o777 == 0o700
    assert [s["name"] for s in c.JupyterHub.services] == ["idle-culler", "review"]
    role = next(r for r in c.JupyterHub.load_roles if r["name"] == "idle-culler")
    assert "delete:servers" in role["scopes"] and role["services"] == ["idle-culler"]


def test_idle_culler_reads_its_traitlets_from_the_hub_config(tmp_path, monkeypatch):
    from enclave.config import load_config, settings_of, write_settings
    from enclave.hub.culler import IdleCuller

    monkeypatch.delenv("ENCLAVE_PROFILE", raising=False)
    monkeypatch.setenv("ENCLAVE_HUB_DIR", str(tmp_path / "hub"))
    site = tmp_path / "site_config.py"
    site.write_text(
        f"load_subconfig({str(REPO / 'jupyterhub_config.py')!r})\n"
        "c.IdleCuller.timeout = 900\n"
        "c.IdleCuller.cull_every = 60\n"
    )
    command = IdleCuller(config=load_config(site)).command()
    assert command[1:] == ["-m", "jupyterhub_idle_culler", "--timeout=900", "--cull-every=60"]
    c = PyFileConfigLoader(site.name, path=str(tmp_path)).load_config()
    culler = next(s for s in c.JupyterHub.services if s["name"] == "idle-culler")
    assert culler["command"][1:] == ["-m", "enclave.hub.culler"]
    # the settings the hub writes at start, never its config file (which makes folders, ports)
    assert "ENCLAVE_CONFIG" not in culler["environment"]
    settings = tmp_path / "hub" / "enclave-settings.json"
    assert culler["environment"]["ENCLAVE_SETTINGS_FILE"] == str(settings)
    write_settings(settings, settings_of(c))
    monkeypatch.setenv("ENCLAVE_SETTINGS_FILE", str(settings))
    monkeypatch.delenv("ENCLAVE_CONFIG", raising=False)
    assert IdleCuller(config=load_config()).command()[2:] == command[2:]


def test_unknown_profile_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCLAVE_PROFILE", "cloud")
    monkeypatch.setenv("ENCLAVE_HUB_DIR", str(tmp_path / "hub"))
    with pytest.raises(Exception, match="ENCLAVE_PROFILE"):
        PyFileConfigLoader("jupyterhub_config.py", path=str(REPO)).load_config()


def test_values_match_the_profile(kube_config):
    values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
    single = values["singleuser"]
    assert f"{single['image']['name']}:{single['image']['tag']}" == kube_config.KubeSpawner.image
    assert single["uid"] == kube_config.KubeSpawner.uid
    assert single["memory"]["limit"] == kube_config.KubeSpawner.mem_limit
    assert single["extraLabels"] == kube_config.KubeSpawner.extra_labels
    assert single["extraEnv"] == kube_config.KubeSpawner.environment
    assert values["hub"]["db"] == {"type": "postgres", "url": kube_config.JupyterHub.db_url}
    assert values["hub"]["extraEnv"]["ENCLAVE_PROFILE"] == "kubernetes"
    mounted = values["hub"]["extraFiles"]["enclave-config"]["mountPath"]
    assert values["hub"]["extraConfig"]["enclave"] == f'load_subconfig("{mounted}")'


def test_values_are_generated_from_the_configuration():
    assert (DEPLOY / "values.yaml").read_text() == z2jh.render(), "run `make deploy-values`"
    assert z2jh.main(["--check"]) == 0


def test_a_setting_repeated_in_the_chart_values_is_refused():
    chart = yaml.safe_load((DEPLOY / "chart-values.yaml").read_text())
    chart["singleuser"]["uid"] = 1000  # also set by jupyterhub_config.py
    with pytest.raises(ValueError, match="'uid' is derived from jupyterhub_config.py"):
        z2jh.merge(chart, z2jh.derived(z2jh.hub_config(chart), chart))


def test_values_leave_session_storage_and_culling_to_the_enclave():
    values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
    single = values["singleuser"]
    assert single["storage"] == {"type": "none"}  # EnclaveKubeSpawner's per-project claims
    assert single["cloudMetadata"]["blockWithIptables"] is False  # a root init container
    assert values["cull"] == {"enabled": False}  # the enclave's own IdleCuller service


def test_chart_policy_allows_egress_only_to_hub_and_warehouse():
    policy = yaml.safe_load((DEPLOY / "values.yaml").read_text())["singleuser"]["networkPolicy"]
    assert policy["enabled"] is True
    rules = policy["egressAllowRules"]
    assert [k for k, v in rules.items() if v] == ["dnsPortsKubeSystemNamespace"]
    (warehouse,) = policy["egress"]
    assert warehouse["to"][0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "enclave-postgres"
    }
    assert warehouse["ports"] == [{"port": 5432, "protocol": "TCP"}]


def test_standalone_policy_allows_only_hub_proxy_warehouse_and_dns():
    policy = yaml.safe_load((DEPLOY / "networkpolicy.yaml").read_text())
    assert policy["kind"] == "NetworkPolicy"
    assert policy["spec"]["podSelector"]["matchLabels"] == {"enclave/session": "true"}
    assert "Egress" in policy["spec"]["policyTypes"]
    destinations = {
        (next(iter(rule["to"][0]["podSelector"]["matchLabels"].values())), port["port"])
        for rule in policy["spec"]["egress"]
        for port in rule["ports"]
    }
    assert destinations == {
        ("hub", 8081),
        ("proxy", 8000),
        ("enclave-postgres", 5432),
        ("kube-dns", 53),
    }
    assert all("ipBlock" not in to for rule in policy["spec"]["egress"] for to in rule["to"])


def test_postgres_manifest_has_no_trust_authentication():
    documents = list(yaml.safe_load_all((DEPLOY / "postgres.yaml").read_text()))
    hba = next(d for d in documents if d["kind"] == "ConfigMap")["data"]["pg_hba.conf"]
    assert "trust" not in hba and "scram-sha-256" in hba
    # over the network only TLS (every enclave URL asks sslmode=require: enclave/tls.py)
    assert [line.split()[0] for line in hba.splitlines() if "0.0.0.0/0" in line] == ["hostssl"]
    kinds = {d["kind"] for d in documents}
    assert {"StatefulSet", "Service", "NetworkPolicy"} <= kinds


def deploy_manifests() -> list[dict]:
    return [
        doc
        for path in sorted(DEPLOY.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and "apiVersion" in doc  # not the chart values
    ]


def test_every_manifest_in_deploy_is_a_valid_kubernetes_object():
    manifests = deploy_manifests()
    kinds = {m["kind"] for m in manifests}
    assert kinds >= {"NetworkPolicy", "StatefulSet", "Service", "ConfigMap"}
    for manifest in manifests:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_schema_validation_catches_a_broken_manifest():
    broken = yaml.safe_load((DEPLOY / "networkpolicy.yaml").read_text())
    broken["spec"]["egress"][0]["ports"][0]["port"] = {"number": 8081}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    misspelt = yaml.safe_load((DEPLOY / "networkpolicy.yaml").read_text())
    misspelt["spec"]["podSelektor"] = misspelt["spec"].pop("podSelector")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, K8S_VERSION, strict=True)


def test_the_warehouse_egress_rule_selects_the_warehouse_pods(kube_config):
    (rule,) = yaml.safe_load((DEPLOY / "values.yaml").read_text())["singleuser"]["networkPolicy"][
        "egress"
    ]
    statefulset = next(m for m in deploy_manifests() if m["kind"] == "StatefulSet")
    pods = statefulset["spec"]["template"]["metadata"]["labels"]
    assert rule["to"][0]["podSelector"]["matchLabels"].items() <= pods.items()
    service = next(m for m in deploy_manifests() if m["kind"] == "Service")
    assert service["metadata"]["name"] == kube_config.EnclaveKubeSpawner.warehouse_host


def test_sessions_reach_the_review_service_through_the_chart_proxy(kube_config):
    """Submissions go to the review service behind the chart's proxy (a hub service on the
    hub's loopback is out of a session pod's reach)."""
    from types import SimpleNamespace
    from urllib.parse import urlparse

    from enclave.hub.kube import EnclaveKubeSpawner

    def default(config):  # the trait's dynamic default, without a cluster to spawn on
        return EnclaveKubeSpawner._review_url_default(SimpleNamespace(config=config))

    url = kube_config.EnclaveKubeSpawner.get("review_url") or default(kube_config)
    assert urlparse(url).hostname == "proxy-public"
    assert url.endswith("/services/review/")
    # the service's name, wherever it is set, is the one sessions reach
    kube_config.ReviewService.service_name = "airlock"
    assert default(kube_config) == "http://proxy-public/services/airlock/"
