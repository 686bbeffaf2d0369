"""`enclave review submit` refuses a path that is not a regular file before it connects."""

import os

import pytest

from enclave.errors import EnclaveError
from enclave.kernels.submit import submit

SESSION = {"JUPYTERHUB_API_TOKEN": "t", "ENCLAVE_PROJECT": "p", "ENCLAVE_REVIEW_URL": "http://x/"}


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_pipe_or_a_device_is_refused_before_any_upload(tmp_path, no_hang, kind):
    path = tmp_path / "analysis.ipynb"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    with no_hang(10), pytest.raises(EnclaveError, match="not a regular file") as refused:
        submit(path, purpose="x", environ=SESSION)
    assert str(refused.value).startswith(f"{path}: is a ")


def test_a_missing_notebook_names_the_path(tmp_path):
    with pytest.raises(EnclaveError, match="cannot open the notebook .No such file"):
        submit(tmp_path / "gone.ipynb", purpose="x", environ=SESSION)
