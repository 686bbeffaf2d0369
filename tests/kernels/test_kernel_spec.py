"""The "Enclave (Python)" kernel spec: installable into any environment; a real kernel started
from it has a working `warehouse` through its query process, every query recorded."""

import json
import os
import sys

import pytest
from jupyter_client import KernelManager

from enclave.kernels import install


def test_install_into_another_prefix(tmp_path):
    assert install.main(["--prefix", str(tmp_path)]) == 0
    spec = json.loads((tmp_path / "share/jupyter/kernels/enclave-python/kernel.json").read_text())
    assert spec["display_name"] == "Enclave (Python)"
    # "python" is mapped to the interpreter that launches the kernel: one spec for every venv
    assert spec["argv"][:3] == ["python", "-m", "ipykernel_launcher"]
    assert "--ext=enclave.kernels.extension" in spec["argv"]


@pytest.fixture
def enclave_kernel(sqlite_warehouse, query_process):
    install.install(prefix=sys.prefix)
    env = {
        **os.environ,
        "ENCLAVE_WAREHOUSE_URL": query_process(sqlite_warehouse["cc101"], project="cconly"),
        "ENCLAVE_PROJECT": "cconly",
    }
    km = KernelManager(kernel_name="enclave-python", transport="ipc")
    km.start_kernel(env=env)
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield client
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def run(client, code: str) -> dict:
    outputs = []
    reply = client.execute_interactive(code, timeout=60, output_hook=outputs.append)
    assert reply["content"]["status"] == "ok", reply["content"]
    results = [
        m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"
    ]
    return results[-1]


def test_kernel_session_has_a_recorded_warehouse(enclave_kernel, query_log):
    assert run(enclave_kernel, "warehouse") == "<enclave warehouse for project 'cconly'>"
    assert "'cc_course_outcomes'" in run(enclave_kernel, "warehouse.tables()")
    shown = run(
        enclave_kernel,
        "df = warehouse.query('SELECT institution, COUNT(*) AS n FROM cc_enrollments "
        "GROUP BY institution')\n(type(df).__name__, df.institution.tolist())",
    )
    assert shown == "('DataFrame', ['CC-101'])"
    (record,) = query_log[1]()
    assert record["project"] == "cconly"
    assert record["relations"] == ["warehouse.cc_enrollments"]
    assert record["institutions"] == ["CC-101"]


def test_shell_commands_work_from_a_cell_although_the_login_shell_is_nologin(tmp_path):
    """Session accounts' login shell is nologin (`!cmd` said "This account is currently not
    available"); the kernel spec names bash, so `!enclave review check` runs from a cell."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    install.install(prefix=sys.prefix)
    nb = new_notebook(
        cells=[
            new_code_cell(
                "df",
                execution_count=5,
                outputs=[
                    new_output(
                        "execute_result",
                        data={"text/plain": "stu_0123456789abcdefghjkmnpqrs"},
                        execution_count=5,
                    )
                ],
            )
        ]
    )
    nbformat.write(nb, tmp_path / "small.ipynb")
    env = {
        **os.environ,
        "SHELL": "/usr/sbin/nologin",
        "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    km = KernelManager(kernel_name="enclave-python", transport="ipc")
    km.start_kernel(env=env)
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        streams = []
        reply = client.execute_interactive(
            f"!enclave review check {tmp_path / 'small.ipynb'}",
            timeout=120,
            output_hook=lambda m: streams.append(m["content"].get("text", "")),
        )
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
    text = "".join(streams)
    assert "not available" not in text
    assert "small.ipynb: BLOCK" in text  # a student key
    assert "cell 1 [5]" in text  # the cell as JupyterLab shows it
