"""The session's kernel specs: only those of the session venv, whatever the environment says.

``KernelSpecManager.kernel_dirs`` is not a configurable trait and defaults to every Jupyter data
directory, the researcher's own first; a spec placed there could be started or served
(``/kernelspecs/<name>/<file>``). Here it is the venv's ``share/jupyter/kernels`` alone (root's).
"""

import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager
from traitlets import default


class EnclaveKernelSpecs(KernelSpecManager):
    @default("kernel_dirs")
    def _kernel_dirs_default(self) -> list[str]:
        return [str(Path(sys.prefix, "share", "jupyter", "kernels"))]

    @default("user_kernel_dir")
    def _user_kernel_dir_default(self) -> str:
        return self.kernel_dirs[0]
