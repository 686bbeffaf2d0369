"""The same sessions on Kubernetes (``ENCLAVE_PROFILE=kubernetes``; see ``deploy/``).

``EnclaveKubeSpawner`` is KubeSpawner with the enclave's ``SessionPolicy``: the same refusals
before anything starts, the same reasons to end a running session in ``poll()`` (agreement,
project, role), and the same per-user PostgreSQL login role for the chosen project. Isolation
that the local spawner builds from Unix accounts, nftables and namespaces comes from the cluster
instead, and the spawner fixes it in every pod it makes, whatever the configuration says:

- **a workspace per project**: one PersistentVolumeClaim per researcher and project
  (``workspace_pvc_template``), mounted as the home directory, so a project-A session never
  has project B's files at hand (as ``hub/isolation/workspaces.py`` does locally); an init
  container creates the project's output directory in it;
- **an unprivileged pod**: a non-root uid (a spawn is refused otherwise), no privilege
  escalation, every capability dropped, the runtime's seccomp profile, a read-only root
  filesystem with a private ``/tmp`` (``scratch_size``), no service-account token;
- **the session label** ``enclave/session: "true"`` that the NetworkPolicies in ``deploy/``
  select (egress only to the hub and the warehouse).

Importing this module needs the ``jupyterhub-kubespawner`` package (the hub image installs it;
the test extra does too).
"""

import asyncio

from kubernetes_asyncio.client import (
    V1Container,
    V1EmptyDirVolumeSource,
    V1PersistentVolumeClaimVolumeSource,
    V1Volume,
    V1VolumeMount,
)
from kubespawner import KubeSpawner
from kubespawner.slugs import safe_slug
from traitlets import Unicode, default

from enclave.hub.context import enclave_context
from enclave.hub.isolation.postgres import SessionRoles
from enclave.hub.policy import SessionPolicy, refuse
from enclave.session_env import session_environment

SESSION_LABEL = {"enclave/session": "true"}  # what deploy/'s NetworkPolicies select
PROJECT_LABEL = "enclave/project"
WORKSPACE_VOLUME = "enclave-workspace"
SCRATCH_VOLUME = "enclave-scratch"
# every container of a session pod, whatever KubeSpawner's settings say
CONTAINER_SECURITY = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


class EnclaveKubeSpawner(SessionPolicy, KubeSpawner):
    """A session pod with one project's workspace and read-only warehouse role."""

    warehouse_host = Unicode(
        "enclave-postgres",
        help="""Host name sessions reach the PostgreSQL warehouse at (the database service;
        the NetworkPolicy allows exactly this egress besides the hub).""",
    ).tag(config=True)

    warehouse_admin_url = Unicode(
        help="""Administrative URL of the warehouse database (creates and locks the session
        roles). Never given to a session.""",
    ).tag(config=True)

    review_url = Unicode(
        help="""The review service, as sessions reach it ($ENCLAVE_REVIEW_URL). Defaults to
        ``http://proxy-public/services/<ReviewService.service_name>/``.""",
    ).tag(config=True)

    @default("review_url")
    def _review_url_default(self):
        from enclave.review_service.config import ReviewService

        return f"http://proxy-public/services/{ReviewService(config=self.config).service_name}/"

    workspace_pvc_template = Unicode(
        "workspace-{username}--{project}",
        help="""Name of the PersistentVolumeClaim holding one researcher's workspace for one
        project, mounted as the session's home directory (``workspace_path``). KubeSpawner's
        ``{username}`` and the others expand as in ``pvc_name_template``; ``{project}`` is
        the project's name made safe for Kubernetes. Created at the first session of that
        project (``storage_capacity``, ``storage_class``), kept afterwards.""",
    ).tag(config=True)

    workspace_path = Unicode(
        "/home/jovyan",
        help="Where the project's workspace is mounted in the session pod (its home).",
    ).tag(config=True)

    scratch_size = Unicode(
        "512Mi",
        help="""Size limit of the session's private ``/tmp`` (an ``emptyDir``: the root
        filesystem is read-only).""",
    ).tag(config=True)

    @default("options_form")
    def _options_form_default(self):
        return self.project_form

    @default("storage_capacity")
    def _storage_capacity_default(self):
        return "10Gi"

    @default("storage_pvc_ensure")
    def _storage_pvc_ensure_default(self):
        return True

    @default("remember_pvc_name")
    def _remember_pvc_name_default(self):
        return False  # the claim follows the project chosen at each start

    @default("delete_pvc")
    def _delete_pvc_default(self):
        return False  # workspaces outlive the hub's user record, as local homes do

    @default("cmd")
    def _cmd_default(self):
        return ["jupyterhub-singleuser"]

    @default("default_url")
    def _default_url_default(self):
        return "/lab"

    # -- start and stop --------------------------------------------------------------------------
    async def start(self):
        ctx, project = self.check_may_start()
        if not self.warehouse_admin_url:
            raise refuse("The warehouse is not configured; ask an administrator.", "warehouse")
        self.pvc_name = self.workspace_pvc_name(project.name)
        self._pvc_exists = False  # KubeSpawner then ensures this project's claim exists
        roles = SessionRoles(self.warehouse_admin_url, ctx.projects.engine)
        login = await asyncio.to_thread(
            roles.open,
            self.user.name,
            project.name,
            project.warehouse_access,
            host=self.warehouse_host,
        )
        self._warehouse_url = login.url
        self.record_spawn(ctx, project)
        try:
            return await super().start()
        except BaseException:
            await asyncio.to_thread(roles.close, self.user.name)  # no access left open
            raise

    async def stop(self, now=False):
        try:
            await super().stop(now=now)
        finally:
            if self.warehouse_admin_url:
                state = enclave_context(self.config).projects.engine
                roles = SessionRoles(self.warehouse_admin_url, state)
                await asyncio.to_thread(roles.close, self.user.name)

    def workspace_pvc_name(self, project: str) -> str:
        template = self.workspace_pvc_template.replace("{project}", safe_slug(project))
        return self._expand_user_properties(template)

    @property
    def output_dir(self) -> str:
        return f"{self.workspace_path}/projects/{self.session_project}/outputs"

    # -- the pod ---------------------------------------------------------------------------------
    def get_env(self):
        env = super().get_env()
        env.update(
            session_environment(
                self.config,
                project=self.session_project,
                warehouse_url=getattr(self, "_warehouse_url", None),
                review_url=self.review_url,
                output_dir=self.output_dir,
            )
        )
        return env

    async def get_pod_manifest(self):
        """KubeSpawner's pod, with the workspace, the scratch space, the session label and
        the security settings no configuration can loosen."""
        pod = await super().get_pod_manifest()
        spec = pod.spec
        pod.metadata.labels = {**(pod.metadata.labels or {}), **SESSION_LABEL}
        pod.metadata.labels[PROJECT_LABEL] = safe_slug(self.session_project)
        spec.automount_service_account_token = False
        spec.volumes = [
            v for v in spec.volumes or [] if v.name not in (WORKSPACE_VOLUME, SCRATCH_VOLUME)
        ] + [
            V1Volume(
                name=WORKSPACE_VOLUME,
                persistent_volume_claim=V1PersistentVolumeClaimVolumeSource(
                    claim_name=self.pvc_name
                ),
            ),
            V1Volume(
                name=SCRATCH_VOLUME,
                empty_dir=V1EmptyDirVolumeSource(size_limit=self.scratch_size),
            ),
        ]
        mounts = [
            V1VolumeMount(name=WORKSPACE_VOLUME, mount_path=self.workspace_path),
            V1VolumeMount(name=SCRATCH_VOLUME, mount_path="/tmp"),  # noqa: S108 (private)
        ]
        notebook = spec.containers[0]
        home_or_tmp = {self.workspace_path, "/tmp"}  # noqa: S108
        notebook.volume_mounts = [
            m for m in notebook.volume_mounts or [] if m.mount_path not in home_or_tmp
        ] + mounts
        workspace = V1Container(
            name="enclave-workspace",
            image=notebook.image,
            image_pull_policy=notebook.image_pull_policy,
            command=["mkdir", "-p", self.output_dir],
            volume_mounts=mounts[:1],
            security_context=dict(notebook.security_context or {}),
        )
        spec.init_containers = [workspace, *(spec.init_containers or [])]
        for container in [*spec.init_containers, *spec.containers]:
            container.security_context = self._hardened(container)
        return pod

    def _hardened(self, container) -> dict:
        context = {**(container.security_context or {}), **CONTAINER_SECURITY}
        if context.get("runAsUser") in (None, 0):
            self.log.error(
                "Container %s of %s's session would run as root: set KubeSpawner.uid",
                container.name,
                self.user.name,
            )
            raise refuse(
                "Sessions are refused: this enclave's session pods are not configured to run "
                "as an unprivileged user; ask an administrator (KubeSpawner.uid).",
                reason="configuration",
            )
        return context

    def get_pvc_manifest(self):
        pvc = super().get_pvc_manifest()
        pvc.metadata.labels[PROJECT_LABEL] = safe_slug(self.session_project)
        return pvc
