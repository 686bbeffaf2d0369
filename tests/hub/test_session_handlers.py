"""No route of the session server hands out a file the researcher placed (issue 10, item 2).

A real session: its kernel plants files, each holding a marker, wherever Jupyter looks for things
to serve (its data, config, kernel-spec, lab-extension, static, template and settings places in
the home, the workspace itself, its private /tmp). Then every URL pattern the running server
routes (listed by building the same server with the running one's environment and arguments) is
requested with each planted path, and each tail of it, in every place the pattern takes a path.
No answer may carry a marker. The files are binary, so the contents API's documented service of
small text files and notebooks does not apply to them.
"""

import base64
import itertools
import json
import os
import re
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from devstack.enclave import running_enclave
from devstack.kernel import run
from devstack.researcher import Researcher

pytestmark = pytest.mark.e2e  # a real hub, provider and session: slow

PEOPLE = {"alice": ["researchers"]}
PROJECTS = {"proj_a": {"members": ["alice"], "institutions": ["CC-101"]}}

# relative to the home (the project's workspace) unless absolute
PLANTED = [
    "planted.bin",
    "static/planted.js",
    "custom/custom.js",
    "robots.txt",
    "favicon.ico",
    ".local/share/jupyter/labextensions/planted/static/remoteEntry.planted.js",
    ".local/share/jupyter/labextensions/planted/package.json",
    ".local/share/jupyter/lab/static/planted.js",
    ".local/share/jupyter/lab/themes/planted/index.css",
    ".local/share/jupyter/lab/schemas/planted/plugin.json",
    ".local/share/jupyter/kernels/planted/kernel.json",
    ".local/share/jupyter/kernels/planted/logo-64x64.png",
    ".local/share/jupyter/kernels/enclave-python/logo-64x64.png",
    ".local/share/jupyter/nbextensions/planted.js",
    ".local/share/jupyter/nbconvert/templates/planted/index.html.j2",
    ".jupyter/custom/custom.css",
    ".jupyter/labconfig/page_config.json",
    ".jupyter/lab/user-settings/@jupyterlab/apputils-extension/themes.jupyterlab-settings",
    ".jupyter/lab/workspaces/planted.jupyterlab-workspace",
    ".enclave-lab/user-settings/@jupyterlab/apputils-extension/themes.jupyterlab-settings",
    ".enclave-lab/workspaces/default-37a8.jupyterlab-workspace",
    "/tmp/planted.bin",
]


@pytest.fixture(scope="module")
def enclave():
    with running_enclave(None, PEOPLE, PROJECTS) as running:
        yield running


@pytest.fixture(scope="module")
def alice(enclave):
    alice = Researcher.sign_on(enclave.hub.url, enclave.names["alice"], enclave.password)
    alice.accept_agreement()
    kernel = alice.start_session("proj_a")
    yield alice, kernel
    kernel.shutdown()


def plant(kernel, marker: bytes) -> list[str]:
    """Write each planted file from inside the session; their absolute paths there."""
    out = run(
        kernel,
        "import json, pathlib\n"
        f"content = {marker!r}\n"
        "home = pathlib.Path.home()\n"
        "planted = []\n"
        f"for name in {PLANTED!r}:\n"
        "    path = home / name\n"
        "    path.parent.mkdir(parents=True, exist_ok=True)\n"
        "    path.write_bytes(content)\n"
        "    planted.append(str(path))\n"
        "print(json.dumps(planted))",
    )
    return json.loads(out)


def server_patterns(account: str, hub_url: str) -> list[str]:
    """Every URL pattern of the running session server, from the server built again (never
    started) with its own environment and arguments; home and runtime directory aside, and the
    hub's API (which the server asks its version) through the proxy rather than the sandbox's
    link."""
    uid = int(subprocess.check_output(["id", "-u", account]))
    for pid in filter(str.isdigit, os.listdir("/proc")):
        proc = Path("/proc", pid)
        try:
            argv = proc.joinpath("cmdline").read_bytes().split(b"\0")[:-1]
            owner = proc.stat().st_uid
        except OSError:
            continue
        if owner == uid and any(a.endswith(b"jupyterhub-singleuser") for a in argv):
            break
    else:
        raise AssertionError("no jupyterhub-singleuser process of the session")
    env = dict(
        line.split(b"=", 1) for line in proc.joinpath("environ").read_bytes().split(b"\0") if line
    )
    env = {k.decode(): v.decode() for k, v in env.items()}
    aside = Path(os.environ.get("TMPDIR", "/tmp"), f"handlers-{uuid.uuid4().hex}")
    aside.mkdir(mode=0o700)
    env.update(
        HOME=str(aside),
        JUPYTER_RUNTIME_DIR=str(aside / "runtime"),
        JUPYTERHUB_API_URL=f"{hub_url}/hub/api",
    )
    python = argv[0].decode()
    listed = subprocess.run(
        [python, str(Path(__file__).with_name("list_session_handlers.py"))]
        + [a.decode() for a in argv[2:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=aside,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    return json.loads(listed.stdout.splitlines()[-1])


def slots(pattern: str) -> tuple[list[str], int]:
    """The pattern as literal pieces around the places that take text (groups and bare ``.*``):
    ``(pieces, number of places)``, with ``len(pieces) == places + 1``."""
    pieces, literal, i = [], "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            literal += pattern[i + 1]
            i += 2
        elif ch == "(":
            depth, j = 1, i + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(pattern[j], 0)
                j += 1 + (pattern[j] == "\\")
            pieces.append(literal)
            literal, i = "", j + (j < len(pattern) and pattern[j] == "?")
        elif pattern.startswith(".*", i):
            pieces.append(literal)
            literal, i = "", i + 2
        elif ch in "^$?":
            i += 1
        else:
            literal += ch
            i += 1
    return pieces + [literal], len(pieces)


def fillings(paths: list[str], places: int) -> set[tuple[str, ...]]:
    """Each tail of each path, split over ``places`` in every way, with and without a leading /."""
    found = set()
    for path in paths:
        parts = path.strip("/").split("/")
        for start in range(len(parts)):
            tail = parts[start:]
            for cuts in itertools.combinations(range(1, len(tail)), places - 1):
                bounds = (0, *cuts, len(tail))
                chunks = ["/".join(tail[a:b]) for a, b in itertools.pairwise(bounds)]
                found.add(tuple(chunks))
                found.add(("/" + chunks[0], *chunks[1:]))
    return found


def urls(patterns: list[str], paths: list[str], prefix: str) -> set[str]:
    """The URLs under the session's prefix (the rest is the hub's) each pattern makes of them."""
    found = set()
    for pattern in patterns:
        pieces, places = slots(pattern)
        regex = re.compile(pattern)
        if not places:
            found.add(pieces[0])
            continue
        for filling in fillings(paths, places):
            url = "".join(itertools.chain(*itertools.zip_longest(pieces, filling, fillvalue="")))
            if regex.fullmatch(url):
                found.add(url)
    return {url for url in found if url.startswith(prefix)}


def test_slots_and_fillings_cover_groups_and_tails():
    pieces, places = slots(r"/user/x/kernelspecs/(?P<kernel_name>[\w\.\-%]+)/(?P<path>.*)$")
    assert (pieces, places) == (["/user/x/kernelspecs/", "/", ""], 2)
    assert slots(r"/user/x/files(/.*)?$") == (["/user/x/files", ""], 1)
    assert slots(r"/(robots\.txt)$") == (["/", ""], 1)
    made = urls(
        [r"/user/x/kernelspecs/(?P<kernel_name>[\w\.\-%]+)/(?P<path>.*)$"], ["/h/k/a.png"], "/user/"
    )
    assert "/user/x/kernelspecs/k/a.png" in made and "/user/x/kernelspecs/h/k/a.png" in made


def test_no_route_serves_a_file_the_researcher_placed(enclave, alice):
    researcher, kernel = alice
    marker = f"planted-{uuid.uuid4().hex}".encode()
    content = marker + b"\x00\xff\xfe binary, so never a text file\n"
    paths = plant(kernel, content)
    patterns = server_patterns(researcher.name, enclave.hub.url)
    prefix = f"/user/{researcher.name}/"
    assert any(p.startswith(prefix + "kernelspecs/") for p in patterns)
    assert any("lab/extensions" in p for p in patterns), "JupyterLab's routes are listed"
    targets = sorted(urls(patterns, paths, prefix))
    assert len(targets) > 500, len(targets)  # every pattern that takes a path got the plants
    needles = (marker, base64.b64encode(content)[:40])

    def leaked(url: str) -> str | None:
        """Why ``url`` fails the test, or None."""
        try:
            response = requests.get(
                enclave.hub.url + url, headers=researcher.headers, timeout=60, allow_redirects=False
            )
        except requests.Timeout:
            return f"{url}: no answer in 60 s"
        if response.status_code in (502, 504):
            return f"{url}: {response.status_code} from the proxy (the session did not answer)"
        return (
            f"{url}: served a planted file" if any(n in response.content for n in needles) else None
        )

    with ThreadPoolExecutor(4) as pool:
        failures = [why for why in pool.map(leaked, targets) if why]
    assert failures == [], f"{len(failures)} of {len(targets)}:\n" + "\n".join(failures[:60])
    # the session server answered throughout, and the plants were where it could have read
    # them: the contents API lists one
    status = requests.get(
        f"{enclave.hub.url}{prefix}api/status", headers=researcher.headers, timeout=60
    )
    assert status.status_code == 200 and "X-JupyterHub-Version" in status.headers
    listing = requests.get(
        f"{enclave.hub.url}{prefix}api/contents", headers=researcher.headers, timeout=60
    )
    assert "planted.bin" in {item["name"] for item in listing.json()["content"]}


def test_only_the_enclave_kernel_can_be_started(enclave, alice):
    researcher, kernel = alice
    specs = requests.get(
        f"{enclave.hub.url}/user/{researcher.name}/api/kernelspecs",
        headers=researcher.headers,
        timeout=60,
    ).json()
    assert list(specs["kernelspecs"]) == ["enclave-python"]
    started = requests.post(
        f"{enclave.hub.url}/user/{researcher.name}/api/kernels",
        json={"name": "planted"},
        headers=researcher.headers,
        timeout=60,
    )
    assert started.status_code >= 400
