"""Shared set-up for the report benchmarks: a synthetic warehouse, a project extract, and the
session environment `enclave report` and the kernel read."""

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
ENCLAVE = str(BIN / "enclave")
PAPERMILL = str(BIN / "papermill")


def prepare(root: Path, students: int) -> dict:
    """Build the warehouse under ``root``; return the environment of a project session."""

    def enclave(*args):
        subprocess.run([ENCLAVE, "warehouse", *args], check=True, capture_output=True)

    enclave("generate", "--out", str(root / "extracts"), "--students", str(students))
    enclave("keygen", str(root / "key"))
    db = root / "warehouse.sqlite"
    enclave(
        "load",
        str(root / "extracts"),
        "--key",
        str(root / "key"),
        "--url",
        str(db),
        "--accept-rejects",
    )
    enclave(
        "grant",
        "bench",
        "--institutions",
        "K12-001,K12-002,CC-101,CC-102,UNI-201",
        "--url",
        str(db),
    )
    subprocess.run(
        [sys.executable, "-m", "enclave.kernels.install", "--sys-prefix"],
        check=True,
        capture_output=True,
    )
    return {
        **os.environ,
        "ENCLAVE_PROJECT": "bench",
        "ENCLAVE_WAREHOUSE_URL": str(root / "projects" / "bench.sqlite"),
        "ENCLAVE_QUERY_LOG_FILE": str(root / "queries.jsonl"),
    }


def template_path(name: str) -> str:
    from enclave.reports.template import bundled_templates

    return str(bundled_templates()[name])


def papermill_argv(template: str, output: Path, parameters: dict) -> list[str]:
    argv = [PAPERMILL, template, str(output), "-k", "enclave-python", "--no-progress-bar"]
    for name, value in parameters.items():
        argv += ["-p", name, str(value)]
    return argv
