"""`kflow export` / `kflow import` carry attachments: their rows and their files' bytes, under
the backup's HMAC; an import checks every file against its name and writes it to the store."""

from __future__ import annotations

import base64
import io
import json

import pytest

from kflow.documents.attachments import attach
from kflow.documents.models import Attachment
from kflow.documents.storage import FileStore
from kflow.runtime import Runtime
from kflow.tools import backup
from kflow.tools.backup.files import FILE_LINE
from kflow.tools.migrate import upgrade
from tests.support import files
from tests.support.world import World

KEY = b"backup-key-for-tests-0123456789abcdef"


@pytest.fixture
def exported(committed_runtime: Runtime, tmp_path):
    """A database holding an attachment, exported (uncompressed lines) with its file."""
    store = FileStore(tmp_path / "source")
    with committed_runtime.transaction() as session:
        world = World.build(session, committed_runtime.settings)
        ks = world.ks_in("drafting")
        attach(
            session, world.authority("npo-lead"), ks, filename="Utkast.pdf", data=files.PDF,
            store=store, max_mb=1,
        )  # fmt: skip
    out = io.BytesIO()
    backup.export_to(committed_runtime.engine, out, key=KEY, files=store)
    return out.getvalue()


def _empty_engine(database, name):
    from kflow.db import make_engine

    engine = make_engine(database.new_database(name))
    upgrade(engine)
    return engine


def test_an_attachment_and_its_bytes_go_there_and_back(exported, database, tmp_path):
    lines = exported.splitlines()
    header = json.loads(lines[0])
    assert header["files"] == 1
    file_lines = [json.loads(x) for x in lines if x.startswith(b'["' + FILE_LINE.encode())]
    assert base64.b64decode(file_lines[0][2]) == files.PDF
    engine = _empty_engine(database, "restored")
    target = FileStore(tmp_path / "target")
    try:
        summary = backup.import_from(engine, io.BytesIO(exported), "b", key=KEY, files=target)
        assert summary.rows["attachments"] == 1
        with engine.connect() as conn:
            row = conn.execute(Attachment.__table__.select()).one()
        assert row.filename == "Utkast.pdf"
        assert target.read(row.sha256) == files.PDF
    finally:
        engine.dispose()


def test_changed_bytes_are_refused_and_nothing_is_left(exported, database, tmp_path):
    lines = exported.splitlines(keepends=True)
    at = next(i for i, x in enumerate(lines) if x.startswith(b'["' + FILE_LINE.encode()))
    entry = json.loads(lines[at])
    entry[2] = base64.b64encode(files.PDF + b"evil").decode()
    forged = b"".join([*lines[:at], json.dumps(entry).encode() + b"\n", *lines[at + 1 :]])
    engine = _empty_engine(database, "forged")
    target = FileStore(tmp_path / "target")
    try:
        with pytest.raises(backup.BackupError):
            backup.import_from(engine, io.BytesIO(forged), "b", key=KEY, files=target)
        assert not any(p.is_file() for p in (tmp_path / "target").rglob("*"))
    finally:
        engine.dispose()


def test_a_missing_file_line_is_refused(exported, database, tmp_path):
    lines = exported.splitlines(keepends=True)
    kept = b"".join(x for x in lines if not x.startswith(b'["' + FILE_LINE.encode()))
    engine = _empty_engine(database, "missing")
    try:
        with pytest.raises(backup.BackupError):
            backup.import_from(engine, io.BytesIO(kept), "b", key=KEY, files=FileStore(tmp_path))
    finally:
        engine.dispose()


def test_an_export_without_the_store_is_refused(committed_runtime, exported):
    with pytest.raises(backup.BackupError, match="attachments"):
        backup.export_to(committed_runtime.engine, io.BytesIO(), key=KEY)
