# The research session's server configuration (JUPYTER_CONFIG_DIR points here; root-owned, so a
# researcher cannot override it from their home).
from pathlib import Path

c = get_config()  # noqa: F821

# no file leaves through the browser; the review gate is the only way out
c.ServerApp.jpserver_extensions = {"enclave.kernels.server.no_download": True}
# review service (issue 5): the "Submit for Output Review" JupyterLab command and its endpoint
c.ServerApp.jpserver_extensions["enclave.kernels.lab"] = True
from enclave.kernels.lab import LABEXTENSIONS  # noqa: E402

c.LabApp.extra_labextensions_path = [str(LABEXTENSIONS)]
# A terminal adds nothing a kernel lacks (`!cmd` runs the same shell): same uid, mount namespace,
# rlimits, cgroup and egress rules, and the session's environment. The accounts' login shell is
# nologin, so the shell is named here; not a login shell, since Debian's /etc/profile would reset
# PATH and drop the session venv (and with it `enclave`).
c.ServerApp.terminals_enabled = True
c.ServerApp.terminado_settings = {
    "shell_command": ["/usr/bin/env", "SHELL=/bin/bash", "/bin/bash", "--noprofile"]
}
# kernels over Unix sockets: the session's uid may not open loopback TCP to its own kernels
c.KernelManager.transport = "ipc"
c.MappingKernelManager.default_kernel_name = "enclave-python"
c.KernelSpecManager.allowed_kernelspecs = {"enclave-python"}
c.ContentsManager.allow_hidden = False
# the contents API serves notebooks and small text files only (no base64, nothing large)
c.ServerApp.contents_manager_class = "enclave.kernels.server.contents.EnclaveContentsManager"
# an enclave has no network: no news fetched, no update checks, and no "Jupyter news?" prompt
# (labsettings/overrides.json answers it); the enclave's mark in Lab (custom/custom.css)
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.app_settings_dir = str(Path(__file__).resolve().parent / "labsettings")
c.LabApp.custom_css = True
