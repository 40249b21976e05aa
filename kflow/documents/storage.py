"""The file store: an attachment's bytes in a directory, each file named by its SHA-256.

Content addressing makes a write idempotent (the same bytes twice are one file), lets a
backup import check every file against its name, and keeps names people chose (and could use
to reach outside the directory) off the file system.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from kflow.errors import NotFound

_SHA256 = re.compile(r"[0-9a-f]{64}")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; its SHA-256 and whether the file is new. Written beside its place
        and moved there, so a reader never sees half a file."""
        sha = digest(data)
        target = self.path(sha)
        if target.is_file():
            return sha, False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(partial, target)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        return sha, True

    def read(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``, checked against it."""
        try:
            data = self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise NotFound("Filen finns inte längre i arkivet.") from None
        if digest(data) != sha256:
            raise NotFound("Filen i arkivet är skadad.")
        return data

    def remove(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)
