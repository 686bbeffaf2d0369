# The research session's server configuration (JUPYTER_CONFIG_DIR points here; root-owned, so a
# researcher cannot override it from their home).
import ctypes
import sys
from pathlib import Path

from jupyter_core.paths import jupyter_runtime_dir

from enclave.kernels.lab import LABEXTENSIONS

c = get_config()  # noqa: F821

# The kernels and terminals run as the same uid as this server: without this, any of them could
# ptrace it (there is no Yama here) or read /proc/<pid>/mem and environ, and serve what it likes.
PR_SET_DUMPABLE = 4
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)

# Every path the server serves from or loads code and settings from is root-owned (the session
# venv); the researcher's home holds only what JupyterLab saves for them (below). The spawner
# pins the same paths in the environment (JUPYTER_DATA_DIR, ..., hub/spawner.py).
VENV_DATA = Path(sys.prefix, "share", "jupyter")
c.ServerApp.extra_static_paths = []
c.ServerApp.extra_template_paths = []
c.ServerApp.kernel_spec_manager_class = "enclave.kernels.server.kernelspecs.EnclaveKernelSpecs"
c.KernelSpecManager.ensure_native_kernel = False
c.KernelSpecManager.allowed_kernelspecs = {"enclave-python"}
c.MappingKernelManager.default_kernel_name = "enclave-python"
c.LabApp.app_dir = str(VENV_DATA / "lab")
c.LabApp.labextensions_path = [str(VENV_DATA / "labextensions")]
# review service (issue 5): the "Submit for Output Review" JupyterLab command and its endpoint
c.LabApp.extra_labextensions_path = [str(LABEXTENSIONS)]
# the one writable place: JupyterLab's own settings and layouts, in the project's workspace
# (hidden from the file browser); the settings and workspaces APIs serve them only as bounded,
# well-formed JSON (kernels/server/lab_state.py)
LAB_STATE = Path.home() / ".enclave-lab"
c.LabApp.user_settings_dir = str(LAB_STATE / "user-settings")
c.LabApp.workspaces_dir = str(LAB_STATE / "workspaces")

# no file leaves through the browser; the review gate is the only way out
c.ServerApp.jpserver_extensions = {
    "enclave.kernels.server.no_download": True,
    "enclave.kernels.lab": True,
    "enclave.kernels.server.lab_state": True,
    "jupyter_lsp": False,  # no language servers in a session
}
# A terminal adds nothing a kernel lacks (`!cmd` runs the same shell): same uid, sandbox,
# rlimits and cgroup, and the session's environment. The accounts' login shell is nologin, so
# the shell is named here; not a login shell, since Debian's /etc/profile would reset PATH and
# drop the session venv (and with it `enclave`).
c.ServerApp.terminals_enabled = True
c.ServerApp.terminado_settings = {
    "shell_command": ["/usr/bin/env", "SHELL=/bin/bash", "/bin/bash", "--noprofile"]
}
# output reaches the browser at a bounded rate: jupyter_server's own iopub limits, pinned (its
# data limit counts stream output only and resets when the kernel goes idle; the hub's cap per
# session, EnclaveSpawner.max_output_bytes, bounds the total whatever its kind)
c.ZMQChannelsWebsocketConnection.limit_rate = True
c.ZMQChannelsWebsocketConnection.iopub_data_rate_limit = 1_000_000  # bytes/s
c.ZMQChannelsWebsocketConnection.iopub_msg_rate_limit = 1000  # messages/s
c.ZMQChannelsWebsocketConnection.rate_limit_window = 3.0  # s
# kernels over Unix sockets in the sandbox's private runtime directory
c.KernelManager.transport = "ipc"
c.ContentsManager.allow_hidden = False
# notebook trust: signatures kept in memory, its key in the sandbox's private runtime directory
# (the data directory is root's); a notebook is trusted only in the session that signed it
c.NotebookNotary.db_file = ":memory:"
c.NotebookNotary.data_dir = jupyter_runtime_dir()
# the contents API serves notebooks and small text files only (no base64, nothing large)
c.ServerApp.contents_manager_class = "enclave.kernels.server.contents.EnclaveContentsManager"
# an enclave has no network: no news fetched, no update checks, and no "Jupyter news?" prompt
# (labsettings/overrides.json answers it); the enclave's mark in Lab (custom/custom.css)
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.app_settings_dir = str(Path(__file__).resolve().parent / "labsettings")
c.LabApp.custom_css = True
