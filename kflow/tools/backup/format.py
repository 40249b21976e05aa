"""The backup format's fixed parts: its name and version, the streams it is written to and read
from, the summary of a backup, and the one error every refusal raises."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Protocol

from kflow.errors import KflowError

FORMAT = "kflow_backup"
FORMAT_VERSION = 2
READ_BATCH = 5000
WRITE_BATCH = 1000


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class Source(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...

    def read(self, size: int = -1, /) -> bytes: ...


class BackupError(KflowError):
    """An export or import refused; the message says why and what to do."""

    code, status = "backup_refused", 422


@dataclasses.dataclass
class Summary:
    revision: str
    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


# One encoder for every line (json.dumps with options builds a new one each call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# gzip's own default (the gzip command's): level 9 costs twice the time for a few per cent.
GZIP_LEVEL = 6


def dumps(value: Any) -> str:
    """One line of the file: compact JSON, UTF-8 as it is, no NaN."""
    return _ENCODER.encode(value)
