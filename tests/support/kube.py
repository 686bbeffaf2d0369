"""KubeSpawner without a cluster: a kubeconfig naming an address nothing listens on (the
spawner loads one at construction; building manifests never connects), and manifests as the
plain dicts the Kubernetes API receives."""

import yaml
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.config import kube_config

K8S_VERSION = "1.30"  # the schema manifests are validated against (kubernetes-validate, offline)
KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
    "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
    "current-context": "none",
    "users": [{"name": "none", "user": {"token": "none"}}],
}


def use_kubeconfig(tmp_path, monkeypatch):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    # read at import time from $KUBECONFIG; KubeSpawner loads it once per process
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    return path


async def as_dict(model) -> dict:
    """A kubernetes_asyncio model as the JSON the API server is sent."""
    async with ApiClient() as api:
        return api.sanitize_for_serialization(model)
