# The research session's server configuration (JUPYTER_CONFIG_DIR points here; root-owned, so a
# researcher cannot override it from their home).
c = get_config()  # noqa: F821

# no file leaves through the browser; the review gate is the only way out
c.ServerApp.jpserver_extensions = {"hub.session.no_download": True}
# a terminal would be a way around the kernel's query recording and the download guard
c.ServerApp.terminals_enabled = False
# kernels over Unix sockets: the session's uid may not open loopback TCP to its own kernels
c.KernelManager.transport = "ipc"
c.MappingKernelManager.default_kernel_name = "enclave-python"
c.KernelSpecManager.allowed_kernelspecs = {"enclave-python"}
c.ContentsManager.allow_hidden = False
