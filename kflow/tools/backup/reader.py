"""Reading a backup's lines back, keeping their HMAC and turning damage into BackupError."""

from __future__ import annotations

import gzip
import hmac
import json
import zlib
from typing import Any

from kflow.tools.backup.format import FORMAT, BackupError, Source
from kflow.tools.backup.key import mac

_DECODER = json.JSONDecoder()


class Reader:
    """Reads the lines of a backup, keeping their HMAC and turning damage into BackupError.

    The HMAC covers every line but the last one read so far: when the trailer has been read, it
    covers exactly the bytes before the trailer, the header included.
    """

    def __init__(self, source: Source, name: str, key: bytes) -> None:
        self.source = source
        self.name = name
        self.key = key
        self.mac = mac(key)
        self.last = b""  # the last line read, not yet in the HMAC

    def damaged(self, why: str) -> BackupError:
        return BackupError(
            f"{self.name} is not a complete kflow backup ({why}); nothing was imported."
        )

    def forged(self) -> BackupError:
        return BackupError(
            f"{self.name} was changed after it was exported, or the backup key given is not the "
            "one it was exported with (its authentication code does not match); nothing was "
            "imported."
        )

    def _readline(self) -> bytes:
        try:
            data = self.source.readline()
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise self.damaged(f"damaged or truncated: {exc}") from None
        if data:
            self.mac.update(self.last)
            self.last = data
        return data

    def next(self) -> Any:
        data = self._readline()
        if not data:
            raise self.damaged("it ends before its last line; it is truncated")
        if not data.endswith(b"\n"):
            raise self.damaged("its last line is cut off; it is truncated")
        try:
            # json.loads without its guess at the encoding of bytes: the file is UTF-8
            return _DECODER.decode(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise self.damaged("a line is not JSON") from None

    def authentic(self, trailer: Any) -> bool:
        """Whether ``trailer`` carries the HMAC of every byte before it, under our key."""
        code = trailer.get("hmac_sha256") if isinstance(trailer, dict) else None
        if not isinstance(code, str):
            return False
        return hmac.compare_digest(code.encode("utf-8"), self.mac.hexdigest().encode("ascii"))

    def rest_is_forged(self) -> bool:
        """Read on to the end without importing: is the file's authentication code wrong?

        Used when a row is refused midway, so that a file someone changed is reported as such
        rather than as damage. False when the file cannot be read to its end.
        """
        try:
            while self._readline():
                pass
            trailer = json.loads(self.last)
        except (BackupError, UnicodeDecodeError, ValueError):
            return False
        if not (isinstance(trailer, dict) and trailer.get("end") == FORMAT):
            return False  # truncated or otherwise damaged: the first error says it
        return not self.authentic(trailer)

    def at_end(self) -> bool:
        try:
            return self.source.read(1) == b""
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise self.damaged(f"damaged after its last line: {exc}") from None
