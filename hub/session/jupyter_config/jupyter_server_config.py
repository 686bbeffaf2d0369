# The research session's server configuration (JUPYTER_CONFIG_DIR points here; root-owned, so a
# researcher cannot override it from their home).
c = get_config()  # noqa: F821

# no file leaves through the browser; the review gate is the only way out
c.ServerApp.jpserver_extensions = {"hub.session.no_download": True}
# review service (issue 5): the "Submit for Output Review" JupyterLab command and its endpoint
c.ServerApp.jpserver_extensions["output_review.service.labext"] = True
from output_review.service.labext import LABEXTENSIONS  # noqa: E402

c.LabApp.extra_labextensions_path = [str(LABEXTENSIONS)]
# a terminal would be a way around the kernel's query recording and the download guard
c.ServerApp.terminals_enabled = False
# kernels over Unix sockets: the session's uid may not open loopback TCP to its own kernels
c.KernelManager.transport = "ipc"
c.MappingKernelManager.default_kernel_name = "enclave-python"
c.KernelSpecManager.allowed_kernelspecs = {"enclave-python"}
c.ContentsManager.allow_hidden = False
# the contents API serves notebooks and small text files only (no base64, nothing large)
c.ServerApp.contents_manager_class = "hub.session.contents.EnclaveContentsManager"
