"""EnclaveKubeSpawner's pods and workspaces, built without a cluster from the deployment's own
configuration (jupyterhub_config.py, Kubernetes profile), checked and validated against the
Kubernetes schema (kubernetes-validate, offline).

start() runs for real up to KubeSpawner's own start, which here builds the manifests instead of
sending them; the session role's opening (PostgreSQL in the cluster) is recorded.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import kubernetes_validate
import pytest
import yaml
from jupyterhub.spawner import SpawnException
from kubespawner import KubeSpawner
from kubespawner.slugs import safe_slug
from traitlets.config.loader import PyFileConfigLoader

from enclave.hub import kube
from enclave.hub.context import enclave_context
from enclave.hub.isolation.postgres import SessionLogin
from enclave.hub.kube import EnclaveKubeSpawner
from tests.support.kube import K8S_VERSION, as_dict, use_kubeconfig

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path, monkeypatch):
    use_kubeconfig(tmp_path, monkeypatch)
    monkeypatch.setenv("ENCLAVE_PROFILE", "kubernetes")
    monkeypatch.setenv("ENCLAVE_HUB_DIR", str(tmp_path / "hub"))
    c = PyFileConfigLoader("jupyterhub_config.py", path=str(REPO)).load_config()
    c.EnclaveState.db_url = f"sqlite:///{tmp_path / 'state.sqlite'}"  # no cluster database
    ctx = enclave_context(c)
    expires = (datetime.now(UTC) + timedelta(days=30)).date()
    for project in ("study", "transfer_2027"):
        ctx.projects.create(project, purpose="p", expires=expires, actor="admin")
        ctx.projects.add_member(project, "alice", actor="admin")
        ctx.projects.approve_override(
            project,
            "CC-101",
            actor="admin",
            reason="recorded in a test",
            grant=lambda p, i: f"{p}_role",
        )
    ctx.acceptances.accept("alice", ctx.agreement.version)
    return c


@pytest.fixture
def cluster(monkeypatch):
    """What start() would send to the cluster, and the session roles it opened and closed."""
    sent = SimpleNamespace(pods=[], pvcs=[], opened=[], closed=[])

    async def kube_start(self):
        sent.pvcs.append(await as_dict(self.get_pvc_manifest()))
        sent.pods.append(await as_dict(await self.get_pod_manifest()))
        return ("10.0.0.7", 8888)

    def open_role(roles, user, project, access, host):
        sent.opened.append((user, project, access, host))
        return SessionLogin(f"db_sess_{user}", "pw", f"postgresql://db_sess_{user}:pw@{host}/db")

    monkeypatch.setattr(KubeSpawner, "start", kube_start)
    monkeypatch.setattr(kube.SessionRoles, "open", open_role)
    monkeypatch.setattr(kube.SessionRoles, "close", lambda roles, user: sent.closed.append(user))
    return sent


def spawner(config, project="study", **traits) -> EnclaveKubeSpawner:
    user = SimpleNamespace(
        name="alice", id=1, url="/user/alice/", groups=[SimpleNamespace(name="researchers")]
    )
    s = EnclaveKubeSpawner(config=config, user=user, _mock=True, **traits)
    s.user_options = {"project": project}
    return s


def notebook(pod: dict) -> dict:
    (container,) = [c for c in pod["spec"]["containers"] if c["name"] == "notebook"]
    return container


async def test_a_session_pod_is_unprivileged_limited_and_labelled(config, cluster):
    await spawner(config).start()
    (pod,) = cluster.pods
    spec, container = pod["spec"], notebook(pod)
    assert spec["automountServiceAccountToken"] is False
    for c in spec["containers"] + spec["initContainers"]:
        security = c["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] == 1000
        assert security["allowPrivilegeEscalation"] is False and security["privileged"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["securityContext"]["fsGroup"] == 100
    assert container["resources"]["limits"] == {"memory": 2 * 1024**3, "cpu": 1.0}
    assert container["image"] == config.KubeSpawner.image
    labels = pod["metadata"]["labels"]
    assert labels["enclave/session"] == "true" and labels["enclave/project"] == "study"
    assert labels["component"] == "singleuser-server"  # what the chart's own policy selects
    # what the chart's hub and proxy policies admit (the hub API; the review service)
    assert labels["hub.jupyter.org/network-access-hub"] == "true"
    assert labels["hub.jupyter.org/network-access-proxy-http"] == "true"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ENCLAVE_PROJECT"] == "study"
    assert env["ENCLAVE_WAREHOUSE_URL"] == "postgresql://db_sess_alice:pw@enclave-postgres/db"
    assert env["ENCLAVE_OUTPUT_DIR"] == "/home/jovyan/projects/study/outputs"
    assert cluster.opened == [("alice", "study", "study_role", "enclave-postgres")]


async def test_the_network_policies_select_every_session_pod(config, cluster):
    await spawner(config).start()
    labels = cluster.pods[0]["metadata"]["labels"]
    standalone = yaml.safe_load((REPO / "deploy" / "networkpolicy.yaml").read_text())
    assert standalone["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    database = next(
        d
        for d in yaml.safe_load_all((REPO / "deploy" / "postgres.yaml").read_text())
        if d["kind"] == "NetworkPolicy"
    )
    admitted = [
        rule["podSelector"]["matchLabels"] for rule in database["spec"]["ingress"][0]["from"]
    ]
    assert any(selector.items() <= labels.items() for selector in admitted)


async def test_each_project_has_its_own_workspace_claim(config, cluster):
    await spawner(config, "study").start()
    await spawner(config, "transfer_2027").start()
    claims = [pvc["metadata"]["name"] for pvc in cluster.pvcs]
    assert claims[0] == "workspace-alice--study" and claims[1].startswith("workspace-alice--")
    assert claims[0] != claims[1]
    for pod, pvc, project in zip(
        cluster.pods, cluster.pvcs, ("study", "transfer_2027"), strict=True
    ):
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        claimed = [
            v["persistentVolumeClaim"]["claimName"]
            for v in volumes.values()
            if "persistentVolumeClaim" in v
        ]
        assert claimed == [pvc["metadata"]["name"]]  # only this project's workspace
        mounts = {m["mountPath"]: m["name"] for m in notebook(pod)["volumeMounts"]}
        assert volumes[mounts["/home/jovyan"]]["persistentVolumeClaim"]["claimName"] == claimed[0]
        assert "emptyDir" in volumes[mounts["/tmp"]]  # the read-only root's scratch space
        (init,) = pod["spec"]["initContainers"]
        assert init["command"] == ["mkdir", "-p", f"/home/jovyan/projects/{project}/outputs"]
        assert pvc["metadata"]["labels"]["enclave/project"] == safe_slug(project)
        assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"


async def test_the_workspace_claim_follows_the_project_after_a_restart(config, cluster):
    first = spawner(config, "study")
    await first.start()
    restored = spawner(config, "transfer_2027")
    restored.load_state(first.get_state())
    restored.clear_state()  # the server stopped; its next start is for another project
    await restored.start()
    assert cluster.pvcs[1]["metadata"]["name"] != "workspace-alice--study"


async def test_configuration_cannot_loosen_the_pod(config, cluster):
    config.KubeSpawner.privileged = True
    config.KubeSpawner.allow_privilege_escalation = True
    config.KubeSpawner.automount_service_account_token = True
    config.KubeSpawner.container_security_context = {"readOnlyRootFilesystem": False}
    config.KubeSpawner.extra_labels = {}
    config.KubeSpawner.volumes = []
    await spawner(config).start()
    (pod,) = cluster.pods
    security = notebook(pod)["securityContext"]
    assert security["privileged"] is False and security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert pod["metadata"]["labels"]["enclave/session"] == "true"
    assert any(v["name"] == "enclave-workspace" for v in pod["spec"]["volumes"])


@pytest.mark.parametrize("uid", [0, None])
async def test_a_pod_that_would_run_as_root_is_refused(config, cluster, uid):
    config.KubeSpawner.uid = uid
    with pytest.raises(SpawnException) as refused:
        await spawner(config).start()
    assert refused.value.status_code == 403 and "unprivileged" in refused.value.message
    assert cluster.pods == [] and cluster.closed == ["alice"]  # the role opened is locked again


async def test_manifests_are_valid_kubernetes_objects(config, cluster):
    await spawner(config).start()
    for manifest in cluster.pods + cluster.pvcs:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
