"""Attachments' bytes in a backup: after the rows, one line per stored file,
``["$file", sha256, base64]``, covered by the same HMAC as everything before the trailer; the
header counts them (``"files"``). An import checks each file against its name and that every
attachment row has its file, and writes them to the file store (``attachments.dir``); the files
it wrote are removed again if the import is refused."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import Connection, select

from kflow.documents.models import Attachment
from kflow.documents.storage import FileStore, digest
from kflow.tools.backup.format import BackupError

FILE_LINE = "$file"
NO_STORE = (
    "The database holds attachments, but no attachments directory was given: set "
    "attachments.dir (KFLOW_ATTACHMENTS__DIR) to where their files are."
)


def stored(conn: Connection) -> list[str]:
    """The SHA-256 of every attachment's file, each once, in order."""
    table = Attachment.__table__
    return list(conn.execute(select(table.c.sha256).distinct().order_by(table.c.sha256)).scalars())


def export_lines(conn: Connection, store: FileStore | None) -> list[str]:
    """The files a backup of this snapshot holds (checked to be in ``store``)."""
    names = stored(conn)
    if names and store is None:
        raise BackupError(NO_STORE)
    missing = [n for n in names if store is not None and not store.has(n)]
    if missing:
        raise BackupError(
            f"{len(missing)} attachment file(s) are missing from {store.root if store else ''} "
            f"(first {missing[0]}); the backup would be incomplete."
        )
    return names


def line(store: FileStore, sha256: str) -> list[str]:
    return [FILE_LINE, sha256, base64.b64encode(store.read(sha256)).decode("ascii")]


class Restorer:
    """Writes a backup's files to the store (or, without one, only checks them), remembering
    which it added."""

    def __init__(self, store: FileStore | None) -> None:
        self.store = store
        self.added: list[str] = []
        self.seen: set[str] = set()
        self.needed: set[str] = set()  # the files the attachment rows read so far name

    def take(self, value: Any) -> None:
        """One ``$file`` line; ValueError if it is malformed or its bytes are not its name's."""
        if not (isinstance(value, list) and len(value) == 3 and isinstance(value[1], str)):
            raise ValueError("a file line is malformed")
        try:
            data = base64.b64decode(str(value[2]), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a file line is not base64") from None
        if digest(data) != value[1]:
            raise ValueError(f"the file {value[1][:12]}… does not match its name")
        self.seen.add(value[1])
        if self.store is None:  # checked, not written (the caller named no store)
            return
        _, new = self.store.put(data)
        if new:
            self.added.append(value[1])

    def check(self, expected: Any, needed: set[str]) -> str | None:
        """Why the files read do not complete the backup, or None."""
        if expected != len(self.seen):
            return "its number of files differs from its header"
        if needed - self.seen:
            return "an attachment's file is missing"
        return None

    def undo(self) -> None:
        if self.store is not None:
            for name in self.added:
                self.store.remove(name)
