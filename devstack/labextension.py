"""``make labextension``: build the session's JupyterLab extension with JupyterLab's toolchain.

The source is ``labextension/`` (TypeScript, an npm package); ``npm ci`` installs its
dependencies (JupyterLab's packages for their types, ``@jupyter/builder``, TypeScript: several
hundred MB, kept in ``labextension/node_modules``), ``tsc`` compiles it and ``jupyter-builder``
(the Python side of JupyterLab's extension builder) bundles it as a federated extension into
``kernels/labextensions/enclave-review``, which is committed: CI and the session venv need no
Node build. The SHA-256 of the source is written beside the build (``SOURCE_SHA256``); a test
fails when the source changed and the build was not redone (``--check``).
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "labextension"
BUILT = REPO / "kernels" / "labextensions" / "enclave-review"
DIGEST = BUILT / "SOURCE_SHA256"
INPUTS = ("package.json", "package-lock.json", "tsconfig.json", "src", "style")


def source_digest() -> str:
    """SHA-256 over every source file's path and bytes (not node_modules, not lib/)."""
    digest = hashlib.sha256()
    for name in INPUTS:
        path = SOURCE / name
        for f in sorted([path] if path.is_file() else path.rglob("*")):
            if f.is_file():
                digest.update(f.relative_to(SOURCE).as_posix().encode() + b"\0")
                digest.update(f.read_bytes() + b"\0")
    return digest.hexdigest()


def build() -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=SOURCE, env=env, check=True)
    shutil.rmtree(SOURCE / "lib", ignore_errors=True)
    (SOURCE / "tsconfig.tsbuildinfo").unlink(missing_ok=True)
    subprocess.run(["npm", "run", "build"], cwd=SOURCE, env=env, check=True)
    DIGEST.write_text(source_digest() + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the build is stale")
    args = parser.parse_args(argv)
    if args.check:
        if not DIGEST.is_file() or DIGEST.read_text().strip() != source_digest():
            print(f"{BUILT}: built from another source; run `make labextension`.", file=sys.stderr)
            return 1
        return 0
    build()
    print(f"built {BUILT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
