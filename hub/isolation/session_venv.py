"""Build the venv research sessions run from (``python -m enclave.hub.isolation.session_venv``).

Researcher accounts must be able to execute it, so it is built from ``/usr/bin/python3`` (not a
pyenv Python under /root) at a fixed path outside the repository (which may sit in a 0700
directory). The third-party packages are hard links to the project venv's files (same files,
no download, seconds to build) and this project is installed non-editable, so the session
never reads the repository. A fingerprint of both makes a second run with nothing changed a
no-op. The new venv is built beside the old one and swapped in by renames.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE_VENV = Path(sys.prefix)
SCRIPTS = {
    "jupyterhub-singleuser": "jupyterhub.singleuser",
    "jupyter": "jupyter_core.command",
    "enclave": "enclave.cli",
}
FINGERPRINT = ".enclave-fingerprint"
# what importlib.metadata needs to find the project's entry points (the `enclave` command groups,
# the gate's checks); never the editable install's pointer back into the repository
DIST_INFO_FILES = ("METADATA", "entry_points.txt", "top_level.txt")


def package_dirs() -> dict[str, Path]:
    """Each installed part and its folder (pyproject.toml's ``package-dir``), ``enclave`` first."""
    with open(REPO / "pyproject.toml", "rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {name: REPO / folder for name, folder in sorted(mapping.items(), key=lambda i: i[0])}


def _site_packages(prefix: Path) -> Path:
    relative = Path(sysconfig.get_path("purelib")).relative_to(sys.prefix)
    return prefix / relative


def session_config_dir(venv: str | os.PathLike) -> Path:
    """The root-owned Jupyter config directory sessions use (``JUPYTER_CONFIG_DIR``)."""
    return _site_packages(Path(venv)) / "enclave" / "kernels" / "server" / "jupyter_config"


def _project_dist_info() -> Path:
    (found,) = _site_packages(SOURCE_VENV).glob("enclave-*.dist-info")
    return found


def _is_project_install(name: str) -> bool:
    return name.startswith(("__editable__", "enclave-")) or name == "__pycache__"


def fingerprint() -> str:
    digest = hashlib.sha256()
    for name in sorted(os.listdir(_site_packages(SOURCE_VENV))):
        if name.endswith(".dist-info") and not _is_project_install(name):
            digest.update(name.encode())
    for path in (REPO / "pyproject.toml", *package_dirs().values()):
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts:
                stat = f.stat()
                digest.update(f"{f.relative_to(REPO)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _link_tree(source: Path, target: Path, skip=lambda name: False) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in os.listdir(source):
        if not skip(name):
            subprocess.run(["cp", "-al", str(source / name), str(target / name)], check=True)


def build(target: Path) -> Path:
    new = target.with_name(target.name + ".new")
    shutil.rmtree(new, ignore_errors=True)
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(new)], check=True)
    site = _site_packages(new)
    _link_tree(_site_packages(SOURCE_VENV), site, skip=_is_project_install)
    for shared in ("share", "etc"):
        if (SOURCE_VENV / shared).is_dir():
            _link_tree(SOURCE_VENV / shared, new / shared)
    # a non-editable install: copies of the parts, each at its import name, no links back
    for name, folder in package_dirs().items():
        shutil.copytree(
            folder,
            site.joinpath(*name.split(".")),
            ignore=shutil.ignore_patterns("__pycache__"),
            dirs_exist_ok=True,
        )
    dist_info = _project_dist_info()
    (site / dist_info.name).mkdir()
    for name in DIST_INFO_FILES:
        if (dist_info / name).is_file():
            shutil.copy(dist_info / name, site / dist_info.name / name)
    # jupyter_core would otherwise try (and fail) to write this marker into the read-only dir
    (session_config_dir(new) / "migrated").write_text("enclave session config\n")
    for script, module in SCRIPTS.items():
        path = new / "bin" / script
        path.write_text(
            f"#!{target}/bin/python3\nimport sys\nfrom {module} import main\nsys.exit(main())\n"
        )
        path.chmod(0o755)
    # -I: the new venv's own copy, never a checkout in the current directory
    subprocess.run(
        [str(new / "bin" / "python3"), "-I", "-m", "enclave.kernels.install", "--prefix", str(new)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(["chmod", "-R", "a+rX,go-w", str(new)], check=True)
    # the venv's own python3 symlink points at /usr/bin/python3; paths inside use ``target``
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def ensure(target: Path) -> bool:
    """Build ``target`` unless it matches the current packages and sources; True if built."""
    wanted = fingerprint()
    stamp = target / FINGERPRINT
    if stamp.is_file() and stamp.read_text() == wanted:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o755)  # noqa: S103 (researchers must reach the venv)
    build(target)
    stamp.write_text(wanted)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", default="/opt/enclave/venv")
    args = parser.parse_args(argv)
    built = ensure(Path(args.target))
    print(f"session venv {args.target}: {'built' if built else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
