"""Nothing in a session kernel's namespace, nor ``help()`` of an enclave object, prints the
session's hub token or its warehouse password."""

import importlib
import inspect
import os
import pkgutil
import sys
import tomllib
import uuid
from pathlib import Path

import pytest
from jupyter_client import KernelManager

from enclave.kernels import install

TOKEN = uuid.uuid4().hex
PASSWORD = f"pw{uuid.uuid4().hex[:20]}"

# everything the kernel namespace holds that came from the enclave, and what each shows
SHOW_EVERYTHING = """
import pydoc
def shown(value, depth=0):
    texts = [repr(value), str(value)]
    if not isinstance(value, (str, bytes, int, float, type(None))):  # pydoc reads str as a name
        texts.append(pydoc.render_doc(value, renderer=pydoc.plaintext))
    state = getattr(value, "__dict__", None)
    if state is not None and depth < 2:
        texts.append(repr(state))
        texts.extend(shown(v, depth + 1) for v in state.values())
    return "\\n".join(texts)
print("\\n".join(
    shown(value) for name, value in list(globals().items())
    if type(value).__module__.startswith("enclave") or getattr(value, "__module__", "") == "enclave"
))
help(warehouse)
help(type(warehouse).from_environment)
"""


def modules():
    """Every installed enclave module (pyproject's packages: each part is its own folder)."""
    with open(Path(__file__).resolve().parents[2] / "pyproject.toml", "rb") as f:
        packages = tomllib.load(f)["tool"]["setuptools"]["packages"]
    for package in packages:
        if package.startswith("enclave.migrations"):
            continue  # alembic's scripts, run only inside its migration context
        yield package
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            if not info.ispkg and info.name != "__main__":
                yield f"{package}.{info.name}"


def test_no_enclave_function_has_the_environment_as_a_default():
    """``help()`` prints a default argument: ``environ=os.environ`` prints every token."""
    offenders, seen = [], 0
    for name in modules():
        seen += 1
        module = importlib.import_module(name)
        for qualname, value in vars(module).items():
            if getattr(value, "__module__", None) != name:
                continue
            functions = [value] if callable(value) and not inspect.isclass(value) else []
            if inspect.isclass(value):
                functions = [f for f in vars(value).values() if callable(f)]
                functions += [
                    f.__func__ for f in vars(value).values() if isinstance(f, classmethod)
                ]
            for function in functions:
                try:
                    parameters = inspect.signature(function).parameters.values()
                except (TypeError, ValueError):
                    continue
                if any(p.default is os.environ for p in parameters):
                    offenders.append(f"{name}.{qualname}")
    assert seen > 100  # every part's modules, not only the core's
    assert offenders == []


@pytest.fixture
def kernel(sqlite_warehouse):
    """A real kernel with a hub session's environment: a token and a warehouse password."""
    install.install(prefix=sys.prefix)
    env = {
        **os.environ,
        "JUPYTERHUB_API_TOKEN": TOKEN,
        "ENCLAVE_REVIEW_URL": "http://127.0.0.1:9/services/review/",
        "ENCLAVE_WAREHOUSE_URL": f"postgresql+psycopg://db_sess_ada:{PASSWORD}@127.0.0.1:9/w",
        "ENCLAVE_PROJECT": "study",
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


def test_the_kernel_namespace_and_help_show_no_credential(kernel):
    texts = []

    def collect(message):
        content = message["content"]
        texts.append(content.get("text", ""))
        texts.extend(content.get("data", {}).values())
        texts.extend(content.get("traceback", ()))

    reply = kernel.execute_interactive(SHOW_EVERYTHING, timeout=60, output_hook=collect)
    assert reply["content"]["status"] == "ok", reply["content"]
    printed = "\n".join(texts)
    assert TOKEN not in printed and PASSWORD not in printed
    assert "<enclave warehouse for project 'study'>" in printed  # the walk did see it
    assert "<masked>" in printed  # the warehouse's URL, with the role's password
