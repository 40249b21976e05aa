"""The backup key: the operator's secret that signs an export and checks an import (HMAC)."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

from kflow.tools.backup.format import BackupError

KEY_MIN_LENGTH = 32  # characters of the key file, surrounding white space left out
MAKE_KEY = "openssl rand -hex 32 > backup.key"
KEY_ID = re.compile(r"[0-9a-f]{16}")
KEY_FILE_LIMIT = 4096  # bytes; a longer file is not a key (a backup given by mistake, say)


def load_key(path: str | Path | None) -> bytes:
    """The backup key in the file at ``path``: its bytes, surrounding white space left out.

    The key is what the operator controls: the export signs with it and the import checks with
    it, so a file changed by anyone without it is refused. Without a key, both refuse.
    """
    if path is None or str(path) == "":
        raise BackupError(
            "A backup is signed and checked with a backup key that only you hold: give the file "
            f"that holds it with --key-file PATH (make one with '{MAKE_KEY}' and keep it apart "
            "from the backups)."
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read(KEY_FILE_LIMIT + 1)
    except OSError as exc:
        raise BackupError(
            f"The backup key file {path} cannot be read ({exc.strerror or exc})."
        ) from None
    if len(data) > KEY_FILE_LIMIT:
        raise BackupError(
            f"{path} is longer than {KEY_FILE_LIMIT} bytes, so it is not a backup key file: give "
            f"the key (make one with '{MAKE_KEY}')."
        )
    key = data.strip()
    check_key(key, f"The backup key in {path}")
    return key


def check_key(key: bytes, what: str = "The backup key") -> None:
    """Refuse a key too short or too uniform to be secret."""
    if len(key) < KEY_MIN_LENGTH:
        raise BackupError(
            f"{what} is too short ({len(key)} characters; at least {KEY_MIN_LENGTH}): make one "
            f"with '{MAKE_KEY}'."
        )
    if len(set(key)) < 8:
        raise BackupError(
            f"{what} is not random (only {len(set(key))} different characters): make one with "
            f"'{MAKE_KEY}'."
        )


def key_id(key: bytes) -> str:
    """A name for the key, written in the header: it tells keys apart and reveals nothing."""
    return hmac.new(key, b"kflow backup key id", hashlib.sha256).hexdigest()[:16]


def mac(key: bytes) -> hmac.HMAC:
    """A fresh HMAC-SHA256 under ``key``, to be fed every byte before the trailer."""
    return hmac.new(key, digestmod=hashlib.sha256)
