"""A network namespace per session, reached through a veth pair; the rules live on the host side.

Each session's sandbox (``sandbox.py``) has a network namespace of its own: its own loopback and
port space, abstract Unix sockets no other session sees, and one link, ``eth0``, the session end
of a veth pair the hub creates. Each pair takes a /30 of ``subnet``: the host end is the session's
gateway, the session end the address its server listens on (the hub and the proxy reach it
there). Everything the session sends arrives on the host end, where the hub's nftables table
decides: a new TCP connection to one of the gateway's endpoint ports is destination-NATed to the
service behind it (the hub API, the proxy in front of the review service, PostgreSQL); every
other packet (other ports, UDP, ICMP, IPv6, other sessions, forwarding anywhere) is rejected,
and only root (the hub and the proxy) opens connections into a session. The researcher holds no
capability in the namespace, so cannot change its addresses, routes or rules. When the sandbox
ends the kernel destroys its namespace, and the pair with it.

What each session's server sends out of its link (to the proxy, so to the browser) is counted
there too, per link (the ``served`` set's counters): bytes on the wire, as IP packets, where
nothing the researcher runs can reach or reset them.

Host ends are matched by interface index (``iif``), which the kernel does not hand out twice, so
the table of a hub that died cannot apply to a later link of the same name. Link names
(``encl<N>``) are unique on the machine, and N fixes the /30: two hubs never share an address.
"""

import asyncio
import ipaddress
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from enclave.errors import EnclaveError
from enclave.hub.isolation.postgres import SESSION_SOURCE as WAREHOUSE_SOURCE

LINK_PREFIX = "encl"
SESSION_DEVICE = "eth0"
SYS_NET = Path("/sys/class/net")
PROC_NET_CONF = Path("/proc/sys/net")


class NetworkError(EnclaveError):
    """The session's network could not be set up (the sandbox is then refused)."""


def table_script(table: str, source: str) -> str:
    """The whole table, created in one atomic ``nft -f`` transaction."""
    return f"""
table inet {table} {{
  set links {{ type iface_index; }}
  map endpoints {{ type inet_service : ipv4_addr . inet_service; }}
  set warehouse {{ type ipv4_addr . inet_service; }}
  set served {{
    type iface_index . inet_service
    counter
  }}
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    iif @links fib daddr type local meta nfproto ipv4 dnat ip to tcp dport map @endpoints
  }}
  chain nat_input {{
    type nat hook input priority 100; policy accept;
    iif @links ip daddr . tcp dport @warehouse snat ip to {source}
  }}
  chain input {{
    type filter hook input priority filter; policy accept;
    iif . tcp sport @served
    iif @links jump from_session
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iif @links drop
    oif @links drop
  }}
  chain output {{
    type filter hook output priority filter; policy accept;
    oif @links jump to_session
  }}
  chain from_session {{
    ct state established,related accept
    ct status dnat accept
    meta l4proto tcp reject with tcp reset
    reject
  }}
  chain to_session {{
    ct state established,related accept
    meta skuid 0 accept
    meta l4proto tcp reject with tcp reset
    reject
  }}
}}
"""


async def _run(*argv: str, stdin: str | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate(stdin.encode() if stdin is not None else None)
    return process.returncode, err.decode(errors="replace").strip()


async def _output(*argv: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        said = err.decode(errors="replace").strip().splitlines()
        raise NetworkError(
            f"`{' '.join(argv[:4])}` failed: {said[-1] if said else process.returncode}"
        )
    return out.decode()


async def _must(*argv: str, stdin: str | None = None) -> None:
    code, err = await _run(*argv, stdin=stdin)
    if code != 0:
        said = err.splitlines()[-1] if err else f"exit status {code}"
        raise NetworkError(f"`{' '.join(argv[:4])}` failed: {said}")


def _write_sysctl(path: Path, value: str) -> None:
    path.write_text(value)


def is_local_address(address: str) -> bool:
    """True when ``address`` belongs to this machine (a service a DNAT rule can reach)."""
    try:
        with socket.socket() as s:
            s.bind((address, 0))
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Endpoint:
    """A service a session may reach: ``port`` on its gateway leads to ``address:port``."""

    address: str
    port: int


@dataclass
class SessionLink:
    """One session's veth pair: ``gateway`` (host end) and ``address`` (session end)."""

    name: str
    ifindex: int
    gateway: str
    address: str
    network: "SandboxNetwork"

    @property
    def peer(self) -> str:
        return self.name + "s"

    async def attach(self, pid: int) -> None:
        """Move the session end into the network namespace of ``pid`` (the sandbox, waiting
        before its command starts) and configure it there: address, link up, default route."""
        await _must(
            "ip",
            "-batch",
            "-",
            stdin=f"link set {self.name} up\nlink set {self.peer} netns {pid}\n",
        )
        await _must(
            "nsenter",
            f"--net=/proc/{pid}/ns/net",
            "ip",
            "-batch",
            "-",
            stdin=(
                f"link set {self.peer} name {SESSION_DEVICE}\n"
                f"address add {self.address}/30 dev {SESSION_DEVICE}\n"
                f"link set {SESSION_DEVICE} up\n"
                f"route add default via {self.gateway}\n"
            ),
        )

    served_port: int | None = None

    async def count_served(self, port: int) -> None:
        """Count from now on what the session's server at ``port`` sends out of this link."""
        element = f"{{ {self.ifindex} . {port} }}"
        await _must("nft", "add", "element", "inet", self.network.table, "served", element)
        self.served_port = port

    async def bytes_served(self) -> int:
        """Bytes the session's server has sent out of this link (0 before ``count_served``)."""
        if self.served_port is None:
            return 0
        listing = json.loads(
            await _output("nft", "-j", "list", "set", "inet", self.network.table, "served")
        )
        for item in listing["nftables"]:
            for element in item.get("set", {}).get("elem", []):
                link, port = element["elem"]["val"]["concat"]
                if link in (self.name, self.ifindex) and port == self.served_port:
                    return element["elem"]["counter"]["bytes"]
        raise NetworkError(f"the output counter of {self.name} is gone")

    def rewrite(self, url: str) -> str:
        """``url`` as the session must use it: a local endpoint's host becomes the gateway."""
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
        if parts.hostname is None or not self.network.is_endpoint(parts.hostname, port):
            return url
        userinfo, _, _ = parts.netloc.rpartition("@")
        netloc = f"{userinfo}@" if userinfo else ""
        return urlunsplit(parts._replace(netloc=f"{netloc}{self.gateway}:{port}"))

    async def remove(self) -> None:
        """Forget the link (its index is never reused) and delete it if it still exists."""
        await self.network.forget(self.ifindex, self.served_port)
        if (SYS_NET / self.name).exists():
            await _run("ip", "link", "delete", self.name)


class SandboxNetwork:
    """The hub's nftables table and the session links it governs."""

    def __init__(self, table: str, subnet: str = "10.213.0.0/16"):
        self.table = table
        self.subnet = ipaddress.IPv4Network(subnet)
        self._endpoints: dict[int, Endpoint] = {}
        self._warehouse: set[Endpoint] = set()
        self._ready = False
        self._lock = asyncio.Lock()

    @property
    def capacity(self) -> int:
        return self.subnet.num_addresses // 4

    async def ensure_table(self) -> None:
        """(Re)create the table, once per hub process: sessions end with the hub that started
        them (``--die-with-parent``), so what a previous hub left in it is stale."""
        async with self._lock:
            if self._ready:
                return
            script = f"table inet {self.table}\ndelete table inet {self.table}\n"
            await _must("nft", "-f", "-", stdin=script + table_script(self.table, WAREHOUSE_SOURCE))
            # an address of a link that is gone must not fall through to the default route
            code, err = await _run("ip", "route", "add", "unreachable", str(self.subnet))
            if code != 0 and "exists" not in err:
                raise NetworkError(f"cannot route {self.subnet}: {err}")
            self._ready = True

    def is_endpoint(self, host: str, port: int | None) -> bool:
        endpoint = self._endpoints.get(port)
        return endpoint is not None and endpoint.address == _address_of(host)

    async def allow(self, address: str, port: int, *, warehouse: bool = False) -> None:
        """Let sessions reach ``address:port`` (on this machine) at ``<gateway>:port``;
        ``warehouse``: their connections arrive from the address where PostgreSQL demands a
        password (``hub.isolation.postgres``)."""
        await self.ensure_table()
        endpoint = Endpoint(_address_of(address), int(port))
        known = self._endpoints.get(endpoint.port)
        if known is not None and known != endpoint:
            raise NetworkError(
                f"sessions cannot reach both {known.address}:{port} and {endpoint.address}:"
                f"{port}: their gateway has one port {port}; move one of the services."
            )
        if not is_local_address(endpoint.address):
            raise NetworkError(
                f"{endpoint.address}:{port} is not an address of this machine: a session "
                "sandbox reaches only services on the hub's own machine."
            )
        if known is None:
            element = f"{{ {port} : {endpoint.address} . {port} }}"
            await _must("nft", "add", "element", "inet", self.table, "endpoints", element)
            self._endpoints[endpoint.port] = endpoint
        if warehouse and endpoint not in self._warehouse:
            element = f"{{ {endpoint.address} . {port} }}"
            await _must("nft", "add", "element", "inet", self.table, "warehouse", element)
            self._warehouse.add(endpoint)

    async def create_link(self) -> SessionLink:
        """A new veth pair with the lowest free /30, its host end governed by this table."""
        await self.ensure_table()
        for index in self._free_indices():
            name = f"{LINK_PREFIX}{index}"
            code, err = await _run(
                "ip", "link", "add", name, "type", "veth", "peer", "name", name + "s"
            )
            if code != 0:
                if "exists" in err:  # taken meanwhile (another hub, or one being torn down)
                    continue
                raise NetworkError(f"cannot create the session's link: {err or code}")
            base = self.subnet.network_address + 4 * index
            ifindex = int((SYS_NET / name / "ifindex").read_text())
            link = SessionLink(name, ifindex, str(base + 1), str(base + 2), self)
            try:
                await self._configure_host_end(link)
            except BaseException:
                await link.remove()
                raise
            return link
        raise NetworkError(f"no free session address left in {self.subnet}.")

    def _free_indices(self):
        taken = set()
        for name in os.listdir(SYS_NET):
            suffix = name.removeprefix(LINK_PREFIX).removesuffix("s")
            if name.startswith(LINK_PREFIX) and suffix.isdigit():
                taken.add(int(suffix))
        return (i for i in range(self.capacity) if i not in taken)

    async def _configure_host_end(self, link: SessionLink) -> None:
        try:
            # no IPv6 on the host end; loopback services reachable through the DNAT rules
            _write_sysctl(PROC_NET_CONF / "ipv6" / "conf" / link.name / "disable_ipv6", "1")
            _write_sysctl(PROC_NET_CONF / "ipv4" / "conf" / link.name / "route_localnet", "1")
        except OSError as e:
            raise NetworkError(f"cannot configure link {link.name}: {e.strerror}") from None
        await _must("nft", "add", "element", "inet", self.table, "links", f"{{ {link.ifindex} }}")
        await _must("ip", "address", "add", f"{link.gateway}/30", "dev", link.name)

    async def forget(self, ifindex: int, served_port: int | None = None) -> None:
        await _run("nft", "delete", "element", "inet", self.table, "links", f"{{ {ifindex} }}")
        if served_port is not None:
            element = f"{{ {ifindex} . {served_port} }}"
            await _run("nft", "delete", "element", "inet", self.table, "served", element)

    async def remove_table(self) -> None:
        await _run("nft", "delete", "table", "inet", self.table)
        self._ready = False


def _address_of(host: str) -> str:
    """An IPv4 address for ``host`` (``localhost`` and names resolved once, here)."""
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    try:
        return socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0]
    except OSError as e:
        raise NetworkError(f"cannot resolve {host!r} for the session's endpoints: {e}") from None
