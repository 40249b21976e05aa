"""The header an import checks before it reads a row: format, key, revision and tables."""

from __future__ import annotations

import hmac
from typing import Any

from kflow.tools.backup.format import FORMAT, FORMAT_VERSION, BackupError
from kflow.tools.backup.key import KEY_ID, key_id
from kflow.tools.backup.reader import Reader
from kflow.tools.backup.schema import columns, tables


def read_header(reader: Reader, expected_revision: str) -> dict[str, Any]:
    """The backup's header, once it is this format's, under this key, at ``expected_revision``
    and listing kflow's tables as they are there."""
    try:
        header = reader.next()
    except BackupError:
        raise BackupError(f"{reader.name} is not a kflow backup.") from None
    if not isinstance(header, dict) or FORMAT not in header:
        raise BackupError(f"{reader.name} is not a kflow backup.")
    if header[FORMAT] == 1:
        raise BackupError(
            f"{reader.name} is a format 1 backup, whose plain checksum anyone can recompute, so "
            "it cannot be authenticated and is refused; nothing was imported (docs/backup.md "
            "says how to restore such a file you trust)."
        )
    if header[FORMAT] != FORMAT_VERSION:
        raise BackupError(
            f"{reader.name} is in backup format {header[FORMAT]}; this kflow reads format "
            f"{FORMAT_VERSION}."
        )
    _check_key(reader, header)
    revision = header.get("alembic_revision")
    if revision != expected_revision:
        raise BackupError(
            f"{reader.name} holds schema revision {revision} (kflow "
            f"{header.get('kflow_version')}), but this kflow is at {expected_revision}: import it "
            "with the kflow version that wrote it, then run 'kflow db upgrade'."
        )
    _check_tables(reader, header, revision)
    return header


def _check_key(reader: Reader, header: dict[str, Any]) -> None:
    written_with = header.get("key_id")
    if not isinstance(written_with, str) or not hmac.compare_digest(
        written_with.encode("utf-8"), key_id(reader.key).encode("ascii")
    ):
        shown = (
            written_with
            if isinstance(written_with, str) and KEY_ID.fullmatch(written_with)
            else "missing"
        )
        raise BackupError(
            f"{reader.name} was exported with another backup key (key id {shown}, the key "
            f"given has {key_id(reader.key)}), or its header was changed; nothing was imported."
        )


def _check_tables(reader: Reader, header: dict[str, Any], revision: str) -> None:
    known = {t.name: columns(t) for t in tables()}
    listed = header.get("tables")
    if (
        not isinstance(listed, list)
        or not all(isinstance(t, dict) for t in listed)
        or [t.get("name") for t in listed] != list(known)
    ):
        raise BackupError(f"{reader.name} does not list kflow's tables of revision {revision}.")
    for entry in listed:
        if entry.get("columns") != known[entry["name"]] or not isinstance(entry.get("rows"), int):
            raise BackupError(
                f"{reader.name}: the columns of {entry['name']} are not those of revision "
                f"{revision}."
            )
