"""The session sandbox on its own: real bwrap sandboxes as two real researcher accounts.

What runs here runs as a kernel or a terminal would: the researcher's uid inside
``Sandbox.start``. Each channel between two sessions the issue named (SysV and POSIX IPC,
abstract Unix sockets, world-writable host paths such as ``/run/lock``, cgroup files, the network)
is tried between two sandboxes running at once, and every place a session can write is
enumerated; each test fails if the namespace or mount that closes it is dropped.
"""

import asyncio
import os
import pwd
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest

from devstack.launch import SESSION_VENV
from devstack.unix_users import unix_users
from enclave.hub.isolation.network import SandboxNetwork
from enclave.hub.isolation.sandbox import SCRATCH, Sandbox, SandboxError, SandboxSpec
from enclave.hub.isolation.workspaces import open_workspace, prepare_workspace

PROJECT = "proj_s"
PYTHON = "/usr/bin/python3"
NAMESPACES = ("mnt", "pid", "ipc", "net", "uts", "cgroup")


@pytest.fixture(scope="module")
def accounts():
    with unix_users("sba", "sbb") as names:
        found = {stem: pwd.getpwnam(name) for stem, name in names.items()}
        for account in found.values():
            prepare_workspace(account, PROJECT)
        yield found


@pytest.fixture
async def network():
    network = SandboxNetwork(f"enclave_test_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    yield network
    await network.remove_table()


class Running:
    """A sandbox running ``code`` (Python, as the researcher); its output lines."""

    def __init__(self, box: Sandbox, lines: list[str]):
        self.box, self.lines = box, lines

    async def output(self, timeout: float = 60) -> str:
        try:
            await asyncio.wait_for(self.box.wait(), timeout)
        finally:
            await self.box.close()
        return "\n".join(self.lines)

    async def wait_for(self, line: str, timeout: float = 20) -> None:
        for _ in range(int(timeout / 0.05)):
            if line in self.lines:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {line!r} in {self.lines}")


async def start(account, network, code: str, **spec) -> Running:
    lines: list[str] = []
    fd = open_workspace(account, PROJECT)
    try:
        box = await Sandbox.prepare(
            SandboxSpec(account, fd, SESSION_VENV, **spec), network, output=lines.append
        )
        env = {"PATH": "/usr/bin:/bin", "HOME": account.pw_dir, "GATEWAY": box.link.gateway}
        await box.start([PYTHON, "-c", textwrap.dedent(code)], env)
    finally:
        os.close(fd)
    return Running(box, lines)


async def run(account, network, code: str, **spec) -> str:
    return await (await start(account, network, code, **spec)).output()


async def test_every_namespace_is_the_sandboxs_own(accounts, network):
    code = f"""
    import os, socket
    print(*[os.stat(f'/proc/self/ns/{{n}}').st_ino for n in {NAMESPACES!r}])
    status = dict(line.split(':', 1) for line in open('/proc/self/status'))
    print(os.getuid(), socket.gethostname(), status['CapEff'].strip(), status['CapBnd'].strip(),
          status['NoNewPrivs'].strip())
    """
    inside, who = (await run(accounts["sba"], network, code)).splitlines()
    host = [os.stat(f"/proc/self/ns/{n}").st_ino for n in NAMESPACES]
    assert all(a != b for a, b in zip(map(int, inside.split()), host, strict=True))
    uid, hostname, effective, bounding, no_new_privs = who.split()
    assert int(uid) == accounts["sba"].pw_uid and hostname == "enclave"
    assert int(effective, 16) == 0 and int(bounding, 16) == 0 and no_new_privs == "1"


async def test_sysv_ipc_is_not_shared_between_sessions(accounts, network):
    bob = await start(
        accounts["sbb"],
        network,
        """
        import subprocess, time
        for kind in ('-M 4096', '-Q', '-S 1'):
            subprocess.run(['ipcmk', *kind.split(), '-p', '0666'], check=True)
        print(subprocess.run(['ipcs', '-a'], capture_output=True, text=True).stdout.count('0x'))
        print('ready', flush=True)
        time.sleep(30)
        """,
    )
    try:
        await bob.wait_for("ready")
        assert bob.lines[-2] == "3"  # bob has his segment, queue and semaphore set
        seen = await run(
            accounts["sba"],
            network,
            "import subprocess; print(subprocess.run(['ipcs', '-a'], capture_output=True, "
            "text=True).stdout.count('0x'))",
        )
        assert seen == "0"
        host = subprocess.run(["ipcs", "-a"], capture_output=True, text=True).stdout
        assert accounts["sbb"].pw_name not in host
    finally:
        await bob.box.close()


async def test_posix_message_queues_are_not_shared_between_sessions(accounts, network):
    name = f"/enclave-{uuid.uuid4().hex[:8]}"
    bob = await start(
        accounts["sbb"],
        network,
        f"""
        import ctypes, os, time
        rt = ctypes.CDLL('librt.so.1', use_errno=True)
        fd = rt.mq_open({name.encode()!r}, os.O_CREAT | os.O_RDWR, 0o666, None)
        print('ready' if fd >= 0 else f'failed {{ctypes.get_errno()}}', flush=True)
        time.sleep(30)
        """,
    )
    try:
        await bob.wait_for("ready")
        seen = await run(
            accounts["sba"],
            network,
            f"""
            import ctypes, os
            rt = ctypes.CDLL('librt.so.1', use_errno=True)
            print(rt.mq_open({name.encode()!r}, os.O_RDWR, 0, None), ctypes.get_errno(),
                  os.listdir('/dev/mqueue'))
            """,
        )
        assert seen == "-1 2 []"  # ENOENT: bob's queue is in his IPC namespace only
    finally:
        await bob.box.close()


async def test_abstract_unix_sockets_are_not_shared_between_sessions(accounts, network):
    address = f"\0enclave-{uuid.uuid4().hex}"
    bob = await start(
        accounts["sbb"],
        network,
        f"""
        import socket, time
        s = socket.socket(socket.AF_UNIX); s.bind({address!r}); s.listen()
        print('ready', flush=True)
        time.sleep(30)
        """,
    )
    try:
        await bob.wait_for("ready")
        seen = await run(
            accounts["sba"],
            network,
            f"""
            import socket
            try:
                socket.socket(socket.AF_UNIX).connect({address!r}); print('connected')
            except OSError as e:
                print(type(e).__name__)
            """,
        )
        assert seen == "ConnectionRefusedError"
        assert address[1:] not in Path("/proc/net/unix").read_text()  # nor on the host
    finally:
        await bob.box.close()


async def test_sessions_cannot_reach_each_other(accounts, network):
    bob = await start(
        accounts["sbb"],
        network,
        """
        import socket, time
        s = socket.socket(); s.bind(('0.0.0.0', 9000)); s.listen()
        print('ready', flush=True)
        time.sleep(30)
        """,
    )
    try:
        await bob.wait_for("ready")
        code = f"""
        import os, socket
        def reach(host):
            s = socket.socket(); s.settimeout(2)
            try:
                s.connect((host, 9000)); return 'open'
            except OSError as e:
                return type(e).__name__
        print(reach({bob.box.address!r}), reach({bob.box.link.gateway!r}),
              reach(os.environ['GATEWAY']))
        """
        to_bob, to_bobs_gateway, to_own_gateway = (
            await run(accounts["sba"], network, code)
        ).split()
        assert to_bob != "open" and to_bobs_gateway != "open" and to_own_gateway != "open"
    finally:
        await bob.box.close()


def host_world_writable() -> list[str]:
    """World-writable directories, files and sockets of the host's usual places (a bounded walk:
    the whole disk, /work included, takes minutes on this machine)."""
    roots = ("/tmp", "/var", "/run", "/dev", "/etc", "/srv", "/opt", "/usr/local", "/mnt")
    found = [root for root in roots if os.path.isdir(root) and os.stat(root).st_mode & 0o002]
    for root in roots:
        base_depth = root.count("/")
        for directory, dirs, files in os.walk(root):
            if directory.count("/") - base_depth >= 3 or directory.startswith("/mnt/sandboxing"):
                dirs[:] = []
            for name in [*dirs, *files]:
                path = os.path.join(directory, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                kind = info.st_mode & 0o170000
                if info.st_mode & 0o002 and kind in (0o040000, 0o100000, 0o140000):
                    found.append(path)
    return found


async def test_no_world_writable_host_path_is_shared_or_kept(accounts, network):
    host_paths = host_world_writable()
    assert {"/tmp", "/var/tmp", "/run/lock", "/dev/shm"} <= set(host_paths)
    marker = f"enclave-marker-{uuid.uuid4().hex}"
    code = f"""
    import os, socket
    paths = {host_paths!r}
    written = []
    for path in paths:
        try:
            if os.path.isdir(path):
                open(os.path.join(path, {marker!r}), 'w').write('x')
            elif os.path.exists(path) and not path.endswith('.sock'):
                open(path, 'a').write('')
            else:
                socket.socket(socket.AF_UNIX).connect(path)
            written.append(path)
        except OSError:
            pass
    print(sorted(written))
    """
    bob = await start(
        accounts["sbb"], network, "import time; print('ready', flush=True); time.sleep(30)"
    )
    try:
        await bob.wait_for("ready")
        written = eval(await run(accounts["sba"], network, code))  # noqa: S307 (our own output)
        # only the sandbox's private scratch space takes anything
        assert set(written) <= set(SCRATCH), written
        assert not [p for p in host_paths if os.path.exists(os.path.join(p, marker))]
        seen_by_bob = await run(
            accounts["sbb"],
            network,
            f"import os; print([p for p in {list(SCRATCH)!r} if {marker!r} in os.listdir(p)])",
        )
        assert seen_by_bob == "[]"
    finally:
        await bob.box.close()


async def test_only_the_workspace_and_private_scratch_are_writable(accounts, network):
    code = """
    import os
    writable = []
    for top in os.listdir('/'):
        if top in ('proc', 'dev'):
            continue
        for directory, dirs, files in os.walk('/' + top):
            for path in [directory, *(os.path.join(directory, f) for f in files)]:
                if not os.path.islink(path) and os.access(path, os.W_OK):
                    writable.append(path)
                    dirs[:] = [] if path == directory else dirs
    print(sorted({p for p in writable}))
    """
    writable = eval(await run(accounts["sba"], network, code))  # noqa: S307 (our own output)
    home = accounts["sba"].pw_dir
    allowed = (home, *SCRATCH)
    outside = [p for p in writable if not any(p == a or p.startswith(a + "/") for a in allowed)]
    assert outside == []
    assert home in writable and "/tmp" in writable


async def test_nothing_written_outside_the_workspace_survives_the_stop(accounts, network):
    marker = uuid.uuid4().hex
    wrote = await run(
        accounts["sba"],
        network,
        f"""
        import os, subprocess
        for path in {list(SCRATCH)!r}:
            open(os.path.join(path, {marker!r}), 'w').write('x')
        open(os.path.expanduser('~/kept-{marker}'), 'w').write('x')
        subprocess.run(['ipcmk', '-M', '4096'], check=True, capture_output=True)
        print('wrote')
        """,
    )
    assert wrote == "wrote"
    later = await run(
        accounts["sba"],
        network,
        f"""
        import os, subprocess
        print([p for p in {list(SCRATCH)!r} if os.listdir(p)],
              os.path.exists(os.path.expanduser('~/kept-{marker}')),
              subprocess.run(['ipcs', '-m'], capture_output=True, text=True).stdout.count('0x'))
        """,
    )
    assert later == "[] True 0"


async def test_no_cgroup_file_is_reachable(accounts, network):
    out = await run(
        accounts["sba"],
        network,
        """
        import os
        print(os.path.exists('/sys'), os.path.exists('/sys/fs/cgroup'),
              sorted({line.rsplit(':', 1)[1].strip() for line in open('/proc/self/cgroup')}))
        """,
    )
    assert out == "False False ['/']"


async def test_processes_left_behind_end_with_the_sandbox(accounts, network):
    marker = str(uuid.uuid4().int % 10**6 + 1000)
    await run(
        accounts["sba"],
        network,
        f"import subprocess; subprocess.Popen(['setsid', 'sleep', {marker!r}], "
        "start_new_session=True)",
    )
    await asyncio.sleep(0.3)
    left = [
        pid
        for pid in filter(str.isdigit, os.listdir("/proc"))
        if _cmdline(pid) == ["sleep", marker]
    ]
    assert left == []


def _cmdline(pid: str) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


async def test_a_sandbox_that_cannot_be_built_is_refused_with_its_reason(accounts, network):
    missing = f"/var/lib/enclave/no-such-{uuid.uuid4().hex}"
    with pytest.raises(SandboxError, match="bwrap failed: .*No such file") as refused:
        await start(accounts["sba"], network, "print('ran')", read_only=(missing,))
    assert "\n" not in str(refused.value)
    assert not [n for n in os.listdir("/sys/class/net") if n in network_links(network)]


def network_links(network) -> str:
    return subprocess.run(
        ["nft", "list", "set", "inet", network.table, "links"], capture_output=True, text=True
    ).stdout.split("elements", 1)[-1]


async def test_a_missing_tool_refuses_the_sandbox(accounts, network, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxError, match="`bwrap` is not installed"):
        await start(accounts["sba"], network, "print('ran')")
