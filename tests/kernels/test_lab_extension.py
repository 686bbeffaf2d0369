"""The session's JupyterLab extension: built from labextension/ with JupyterLab's toolchain, the
committed build current with its source, and found by JupyterLab as a federated extension.
(The browser test tests/review_service/test_session_submit.py loads it in a real JupyterLab
and submits with it.)"""

import json
import shutil

from jupyterlab_server.config import get_federated_extensions

from devstack import labextension
from enclave.kernels.lab import LABEXTENSIONS


def test_the_committed_build_is_the_build_of_the_source():
    recorded = (labextension.DIGEST).read_text().strip()
    assert recorded == labextension.source_digest(), "source changed: run `make labextension`"
    assert labextension.main(["--check"]) == 0


def test_a_changed_source_makes_the_build_stale(tmp_path, monkeypatch):
    source = tmp_path / "labextension"
    for name in labextension.INPUTS:
        original = labextension.SOURCE / name
        copy = shutil.copytree if original.is_dir() else shutil.copy
        source.mkdir(exist_ok=True)
        copy(original, source / name)
    monkeypatch.setattr(labextension, "SOURCE", source)
    assert labextension.main(["--check"]) == 0
    (source / "src" / "submit.ts").write_text("// edited\n", encoding="utf-8")
    assert labextension.main(["--check"]) == 1


def test_jupyterlab_finds_the_built_extension():
    source = json.loads((labextension.SOURCE / "package.json").read_text())
    found = get_federated_extensions([str(LABEXTENSIONS)])["enclave-review"]
    assert found["version"] == source["version"]
    build = found["jupyterlab"]["_build"]
    entry = LABEXTENSIONS / "enclave-review" / build["load"]
    assert entry.is_file() and build["extension"] == "./extension"
    scripts = list(entry.parent.glob("*.js"))
    bundled = "".join(p.read_text() for p in scripts)
    assert "enclave-review:submit" in bundled and "enclave:submit-for-review" in bundled
    # JupyterLab's own packages come from its share scope, never bundled a second time
    assert "@jupyterlab/apputils" in entry.read_text()
    assert sum(p.stat().st_size for p in scripts) < 100_000
