"""Per-uid egress rules in nftables: a session reaches the hub and the warehouse, nothing else.

One ``inet`` table per hub. Every packet a researcher's uid sends (``meta skuid``) goes through
the ``session`` chain: replies on connections others opened to the session (the proxy talking
to the single-user server) pass, new TCP connections pass only to the allowed
``address . port`` pairs, and everything else — other TCP, UDP (DNS), IPv6 — is rejected.
Their connections to the PostgreSQL warehouse are source-NATed to the address where the
cluster demands a password (``hub.isolation.postgres``).
Kernels talk to their server over Unix sockets (IPC), which nftables does not see.
"""

import asyncio

from enclave.errors import EnclaveError
from enclave.hub.isolation.postgres import SESSION_SOURCE as WAREHOUSE_SOURCE


def table_script(table: str, source: str) -> str:
    """The whole table, created in one atomic ``nft -f`` transaction."""
    return f"""
table inet {table} {{
  set researchers {{ type uid; }}
  set allowed {{ type ipv4_addr . inet_service; }}
  set warehouse_ports {{ type inet_service; }}
  chain output {{
    type filter hook output priority filter; policy accept;
    meta skuid @researchers jump session
  }}
  chain session {{
    ct state established,related accept
    ip daddr . tcp dport @allowed accept
    meta l4proto tcp reject with tcp reset
    reject
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    meta skuid @researchers ip daddr 127.0.0.1 tcp dport @warehouse_ports snat ip to {source}
  }}
}}
"""


async def _nft(*args: str, script: str | None = None, check: bool = True) -> bool:
    process = await asyncio.create_subprocess_exec(
        "nft",
        *args,
        stdin=asyncio.subprocess.PIPE if script is not None else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate(script.encode() if script is not None else None)
    if process.returncode != 0 and check:
        raise EnclaveError(f"nftables: `nft {' '.join(args)}` failed: {err.decode().strip()}")
    return process.returncode == 0


class EgressRules:
    """The hub's nftables table: which uids are confined and where they may connect."""

    def __init__(self, table: str):
        self.table = table
        self._ready = False
        self._lock = asyncio.Lock()

    async def ensure_table(self) -> None:
        async with self._lock:
            # an existing table is kept: confined uids stay confined across hub restarts
            if not self._ready and not await _nft("list", "table", "inet", self.table, check=False):
                await _nft("-f", "-", script=table_script(self.table, WAREHOUSE_SOURCE))
            self._ready = True

    async def confine(
        self, uid: int, allowed: set[tuple[str, int]], warehouse_port: int | None = None
    ) -> None:
        """Confine ``uid`` (before any of its processes start) and allow ``allowed`` pairs.

        Connections to ``127.0.0.1:warehouse_port`` leave from the warehouse session address,
        where PostgreSQL demands a password (see ``hub.isolation.postgres``).
        """
        await self.ensure_table()
        if warehouse_port:
            allowed = {*allowed, ("127.0.0.1", warehouse_port)}
            await _nft(
                "add", "element", "inet", self.table, "warehouse_ports", f"{{ {warehouse_port} }}"
            )
        elements = ", ".join(f"{address} . {port}" for address, port in sorted(allowed))
        if elements:
            await _nft("add", "element", "inet", self.table, "allowed", f"{{ {elements} }}")
        await _nft("add", "element", "inet", self.table, "researchers", f"{{ {uid} }}")

    async def remove_table(self) -> None:
        await _nft("delete", "table", "inet", self.table)
        self._ready = False
