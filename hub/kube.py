"""The same sessions on Kubernetes (``ENCLAVE_PROFILE=kubernetes``; see ``deploy/``).

``EnclaveKubeSpawner`` is KubeSpawner with the enclave's ``SessionPolicy``: the same refusals
before anything starts, and the same per-user PostgreSQL login role for the chosen project.
Isolation that the local spawner builds from Unix accounts, nftables and namespaces comes from
the cluster instead: one pod per session running as a non-root uid, no service-account token,
and the NetworkPolicy in ``deploy/`` (egress only to the hub and the warehouse). Importing this
module needs the ``jupyterhub-kubespawner`` package, which the hub image installs.
"""

import asyncio

from kubespawner import KubeSpawner
from traitlets import Unicode, default

from enclave.hub.context import enclave_context
from enclave.hub.isolation.postgres import SessionRoles
from enclave.hub.policy import SessionPolicy, refuse


class EnclaveKubeSpawner(SessionPolicy, KubeSpawner):
    """A session pod with one project's read-only warehouse role."""

    warehouse_host = Unicode(
        "enclave-postgres",
        help="""Host name sessions reach the PostgreSQL warehouse at (the database service;
        the NetworkPolicy allows exactly this egress besides the hub).""",
    ).tag(config=True)

    warehouse_admin_url = Unicode(
        help="""Administrative URL of the warehouse database (creates and locks the session
        roles). Never given to a session.""",
    ).tag(config=True)

    query_log_url = Unicode(
        "http://proxy-public/services/review/api/queries",
        help="The review service's query endpoint, as sessions reach it ($ENCLAVE_QUERY_LOG_URL).",
    ).tag(config=True)

    @default("options_form")
    def _options_form_default(self):
        return self.project_form

    async def start(self):
        ctx, project = self.check_may_start()
        if not self.warehouse_admin_url:
            raise refuse("The warehouse is not configured; ask an administrator.", "warehouse")
        roles = SessionRoles(self.warehouse_admin_url, ctx.projects.engine)
        login = await asyncio.to_thread(
            roles.open,
            self.user.name,
            project.name,
            project.warehouse_access,
            host=self.warehouse_host,
        )
        self.environment = {
            **self.environment,
            "ENCLAVE_PROJECT": project.name,
            "ENCLAVE_WAREHOUSE_URL": login.url,
            "ENCLAVE_QUERY_LOG_URL": self.query_log_url,
            "ENCLAVE_OUTPUT_DIR": f"/home/jovyan/projects/{project.name}/outputs",
        }
        self.record_spawn(ctx, project)
        return await super().start()

    async def stop(self, now=False):
        try:
            await super().stop(now=now)
        finally:
            if self.warehouse_admin_url:
                state = enclave_context(self.config).projects.engine
                roles = SessionRoles(self.warehouse_admin_url, state)
                await asyncio.to_thread(roles.close, self.user.name)
