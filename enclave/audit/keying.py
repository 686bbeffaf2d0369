"""The audit trail's key and its head log: what a database writer cannot forge.

An unkeyed SHA-256 chain can be rewritten by anyone who can write the state database: edit an
event, recompute every later hash. So each event's hash is an HMAC-SHA256 under a key kept
*outside* the database (``AuditTrail.key_file``, 0600, readable by the hub, the review service
and root only), and the chain's head is written, signed with the same key, to an append-only
file outside the database (``AuditTrail.head_file``): by whichever process writes the next
event (under the chain's lock), every ``checkpoint_interval`` seconds, and at exit. ``enclave
audit verify`` then detects an edited event (its HMAC) and a truncated tail (a signed head the
chain no longer reaches) with no head kept by hand.

The head log's first line records where keying began (``keyed_after``): events up to there
were written before the trail was keyed and keep their SHA-256 hashes; the first keyed event
chains from the last of them, so rewriting them breaks a keyed hash too.

A process takes its keying from its configuration (``use``); ``AuditLog`` finds it by the
state database's URL. Without a key configured the trail is unkeyed (tests); an unkeyed writer
refuses to append to a keyed chain.
"""

import atexit
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from traitlets import Float, Unicode
from traitlets.config import Configurable

from enclave.errors import EnclaveError

KEY_BYTES = 32


class AuditTrail(Configurable):
    """Where the audit trail's key and signed head live (both outside the state database)."""

    key_file = Unicode(
        "",
        help="""File holding the audit trail's HMAC key (32 random bytes, mode 0600; readable
        only by the hub, the review service and root). Made on first use while the head log is
        still empty; refused (every audit write fails) if it is missing after that. Empty: the
        trail is an unkeyed SHA-256 chain (tests only).""",
    ).tag(config=True)

    head_file = Unicode(
        "",
        help="""Append-only file (outside the state database; ``chattr +a`` where the
        filesystem allows) to which the chain's head is written, signed with the key, after
        every event (by the next writer), every ``checkpoint_interval`` seconds and at exit.
        Required with ``key_file``.""",
    ).tag(config=True)

    checkpoint_interval = Float(
        5.0,
        min=0.5,
        help="Seconds between checks that the latest audit event's head has been written.",
    ).tag(config=True)


class HeadLogBroken(Exception):
    """The head log is missing, unreadable or has a line the key did not sign."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    keyed_after: int


class Keying:
    """One state database's key and head log."""

    def __init__(self, key: bytes, head_file: Path):
        self.key = key
        self.head_file = head_file
        self._written: tuple[int, str] | None = None
        self._lock = threading.Lock()

    def digest(self, body: bytes) -> str:
        return hmac.new(self.key, body, hashlib.sha256).hexdigest()

    def _sign(self, seq: int, digest: str, keyed_after: int) -> str:
        body = json.dumps([seq, digest, keyed_after], separators=(",", ":")).encode()
        return self.digest(b"head:" + body)

    # -- the head log ---------------------------------------------------------------------
    def checkpoints(self) -> list[Checkpoint]:
        """Every line of the head log, each checked against the key."""
        try:
            lines = self.head_file.read_text().splitlines()
        except FileNotFoundError:
            return []
        except OSError as e:
            raise HeadLogBroken(f"{self.head_file}: cannot be read ({e.strerror})") from None
        found = []
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
                point = Checkpoint(int(entry["seq"]), str(entry["hash"]), int(entry["after"]))
                signed = hmac.compare_digest(
                    str(entry["mac"]), self._sign(point.seq, point.hash, point.keyed_after)
                )
            except (ValueError, KeyError, TypeError):
                signed = False
            if not signed:
                raise HeadLogBroken(f"{self.head_file}: line {number} was not signed with the key")
            found.append(point)
        return found

    def keyed_after(self) -> int | None:
        """Where keying began (None: the head log is empty, keying has not begun)."""
        points = self.checkpoints()
        return points[0].keyed_after if points else None

    def append(self, seq: int, digest: str, keyed_after: int) -> None:
        line = json.dumps(
            {
                "seq": seq,
                "hash": digest,
                "after": keyed_after,
                "mac": self._sign(seq, digest, keyed_after),
            },
            separators=(",", ":"),
        )
        fd = os.open(self.head_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def begin(self, head: tuple[int, str]) -> int:
        """The chain's ``keyed_after``; on first use, write the head log's first line (events
        up to ``head`` stay unkeyed). Call under the chain's lock."""
        with self._lock:
            after = self.keyed_after()
            if after is None:
                self.append(head[0], head[1], head[0])
                self._written = head
                after = head[0]
            return after

    def write_head(self, head: tuple[int, str], keyed_after: int) -> None:
        """Append ``head`` unless this process already wrote it."""
        with self._lock:
            if self._written != head:
                self.append(head[0], head[1], keyed_after)
                self._written = head


_keyings: dict[str, Keying] = {}


def for_engine(engine: sa.Engine) -> Keying | None:
    return _keyings.get(engine.url.render_as_string(hide_password=False))


def use(config, db_url: str) -> Keying | None:
    """Key the trail of the state database ``db_url`` in this process, from ``config``'s
    ``AuditTrail`` settings (None when no key is configured). Starts the periodic head writer
    and the one at exit. Raises EnclaveError when the key or head log cannot be used."""
    settings = AuditTrail(config=config)
    if not settings.key_file:
        return None
    if not settings.head_file:
        raise EnclaveError(
            "AuditTrail.head_file: not set; the keyed audit trail needs its head log outside "
            "the state database."
        )
    url = sa.engine.make_url(db_url).render_as_string(hide_password=False)
    if url in _keyings:
        return _keyings[url]
    head_file = Path(settings.head_file)
    keying = Keying(load_key(Path(settings.key_file), head_file), head_file)
    try:
        keying.checkpoints()
    except HeadLogBroken as e:
        raise EnclaveError(f"AuditTrail.head_file: {e}; the audit trail cannot be trusted.") from e
    _keyings[url] = keying
    _start_head_writer(url, keying, settings.checkpoint_interval)
    return keying


def load_key(path: Path, head_file: Path) -> bytes:
    """The key; made (0600) when missing and the head log is still empty."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        if head_file.exists() and head_file.stat().st_size:
            raise EnclaveError(
                f"AuditTrail.key_file {path}: missing, but {head_file} shows a keyed trail; "
                "restore the key (audit events are refused until then)."
            ) from None
        keygen(path)
        key = path.read_bytes()
    except OSError as e:
        raise EnclaveError(f"AuditTrail.key_file {path}: cannot be read ({e.strerror}).") from e
    if len(key) != KEY_BYTES or path.stat().st_mode & 0o077:
        raise EnclaveError(
            f"AuditTrail.key_file {path}: must be {KEY_BYTES} bytes, readable by its owner only "
            "(make one with `enclave audit keygen`)."
        )
    return key


def keygen(path: Path) -> Path:
    """A new random key file (0600); never overwrites one (another process may have won)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _start_head_writer(url: str, keying: Keying, interval: float) -> None:
    stop = threading.Event()

    def write_once() -> None:
        from enclave.audit.log import current_head

        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                head = current_head(conn)
            after = keying.keyed_after()
            if after is not None and head[0] > after:
                keying.write_head(head, after)
        except Exception:  # noqa: S110 (the next round, or the next event's writer, retries)
            pass
        finally:
            engine.dispose()

    def loop() -> None:
        while not stop.wait(interval):
            write_once()

    threading.Thread(target=loop, name="audit-head", daemon=True).start()

    def at_exit() -> None:
        stop.set()
        write_once()

    atexit.register(at_exit)
