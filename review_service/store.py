"""Frozen copies, content-addressed by SHA-256, in a directory only the service can read.

An upload is streamed into a scratch file in ``tmp/`` while it is hashed, then renamed to
``objects/<hash>`` (read-only). The same bytes are stored once. Nothing under the store is ever
rewritten: a file that no longer hashes to its name has been tampered with, and ``verify`` says
so. An upload the service was killed in the middle of stays in ``tmp/`` only until the service
starts again: ``sweep()`` removes it (``enclave.scratch``), and the service records that.
"""

import hashlib
import os
from pathlib import Path

from enclave.scratch import Scratch, Swept, sweep

CHUNK = 1024 * 1024


class StoreError(Exception):
    """The frozen store refused or lost something; the message is for the user."""


class FrozenStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        for sub in ("", "objects", "tmp", "cache"):
            path = self.root / sub
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise StoreError(f"{sha256!r} is not a SHA-256 hex digest.")
        return self.root / "objects" / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open_upload(self) -> "Upload":
        return Upload(self)

    def put_bytes(self, data: bytes) -> tuple[str, bool]:
        upload = self.open_upload()
        upload.write(data)
        return upload.commit()

    def verify(self, sha256: str) -> None:
        """Raise StoreError unless the stored bytes still hash to ``sha256``."""
        path = self.path(sha256)
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            raise StoreError(f"the frozen copy {sha256[:12]} is missing from the store.") from None
        if digest.hexdigest() != sha256:
            raise StoreError(
                f"the frozen copy {sha256[:12]} no longer matches its SHA-256: the stored "
                "file was changed after submission; nothing can be approved or released "
                "from it. Ask an admin to investigate."
            )

    def discard(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def cache_path(self, name: str) -> Path:
        return self.root / "cache" / name

    def sweep(self) -> list[Swept]:
        """Remove the partial uploads and renderings a killed service left (at start)."""
        return sweep(self.root / "tmp") + sweep(self.root / "cache")


class Upload:
    """Bytes arriving in chunks: hashed on the way in, stored only on ``commit``."""

    def __init__(self, store: FrozenStore):
        self.store = store
        self.size = 0
        self._hash = hashlib.sha256()
        self._scratch = Scratch(store.root / "tmp", "upload")
        self._tmp = self._scratch.path
        self._file = open(self._tmp, "wb")  # noqa: SIM115 (closed by finish or abort)

    @property
    def tmp_path(self) -> Path:
        return self._tmp

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._file.write(chunk)
        self.size += len(chunk)

    def finish(self) -> str:
        """Close the temporary file; return its hash (it can still be read at ``tmp_path``)."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        return self._hash.hexdigest()

    def commit(self) -> tuple[str, bool]:
        """Move the bytes into the store; return (sha256, whether this call created it)."""
        sha256 = self.finish()
        target = self.store.path(sha256)
        if target.exists():
            self._scratch.remove()
            return sha256, False
        os.chmod(self._tmp, 0o400)
        self._scratch.replace(target)
        return sha256, True

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._scratch.remove()
