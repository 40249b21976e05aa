"""A forged backup is refused: backups carry an HMAC keyed by the operator's backup key.

The issue ("Trust under races", item 6): a file with a planted admin password and 27 rewritten
history rows, its plain SHA-256 trailer recomputed, was imported. Now the trailer is an
HMAC-SHA256 of every byte before it under a key the operator gives at export and at import, so
whoever lacks the key cannot make a changed file pass. Every refusal leaves the target database
empty; the authentic file, with its key, still imports. The demo data set is built natively on
each engine and imported into a fresh database of the same engine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import hmac
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

import tests.conftest as conftest
from kflow.cases.events import CaseEvent
from kflow.org.models import User
from kflow.runtime import Runtime
from kflow.tools import backup
from kflow.tools.demo import load_demo
from kflow.tools.migrate import upgrade
from tests.conftest import make_settings
from tests.support.cli_support import Cli, environment
from tests.support.processes import KFLOW
from tests.tools.conftest import Databases

NOW = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
KEY = b"3f9d0c6a81e24b7f95a0d3c8e61b27f4a9c05e3d7b18f2a6c4e90d1b35a7f862"  # openssl rand -hex 32
ATTACKER_KEY = b"d41e7a09c3b85f26e1a0947bc2d85f3e6a1907c4b3e8d25f0a6c91b74e3d2a58"
ADMIN = "admin@demo.kflow.se"
PLANTED_PASSWORD = "inbrott-2026"
REWRITTEN = 27  # history rows the forger rewrites


# --- the calls that take the key (the only lines a run against format 1 has to change) -------


def _export(engine: Engine, file: Path) -> backup.Summary:
    return backup.export_file(engine, file, key=KEY)


def _import(engine: Engine, file: Path, key: bytes = KEY) -> backup.Summary:
    return backup.import_file(engine, file, key=key)


# --- fixtures and helpers ---------------------------------------------------------------------


@dataclasses.dataclass
class Exported:
    backend: str
    engine: Engine
    file: Path
    summary: backup.Summary


@pytest.fixture(scope="module", params=conftest.BACKENDS)
def exported(request: pytest.FixtureRequest, databases: Databases) -> Iterator[Exported]:
    """The demo data set on one engine, and its export signed with KEY."""
    backend = request.param
    runtime = Runtime.create(make_settings(database_url=databases.url(backend, "forged")))
    upgrade(runtime.engine)
    with runtime.transaction() as session:
        load_demo(session, runtime.settings, now=NOW)
    file = databases.tmp / f"{backend}.kflow.jsonl.gz"
    summary = _export(runtime.engine, file)
    yield Exported(backend, runtime.engine, file, summary)
    runtime.engine.dispose()


def _lines(file: Path) -> list[bytes]:
    with gzip.open(file, "rb") as stream:
        return stream.read().splitlines()


def _write(lines: list[bytes], file: Path) -> Path:
    with gzip.open(file, "wb") as out:
        out.write(b"".join(line + b"\n" for line in lines))
    return file


def _body(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _column(header: dict[str, Any], table: str, name: str) -> int:
    entry = next(t for t in header["tables"] if t["name"] == table)
    return [c["name"] for c in entry["columns"]].index(name)


def _forge_rows(lines: list[bytes]) -> list[bytes]:
    """The issue's forgery: a planted admin password and 27 rewritten history rows (no trailer)."""
    header = json.loads(lines[0])
    email, password = _column(header, "users", "email"), _column(header, "users", "password_hash")
    actor, comment = (
        _column(header, "case_events", "actor"),
        _column(header, "case_events", "comment"),
    )
    forged, planted, rewritten = [lines[0]], 0, 0
    for line in lines[1:-1]:
        table, values = json.loads(line)
        if table == "users" and values[email] == ADMIN:
            values[password] = generate_password_hash(PLANTED_PASSWORD)
            planted += 1
        elif table == "case_events" and rewritten < REWRITTEN:
            values[actor], values[comment] = ADMIN, "Beslutat enligt protokoll."
            rewritten += 1
        forged.append(_dump([table, values]))
    assert (planted, rewritten) == (1, REWRITTEN)
    return forged


def _plain_trailer(original: bytes, body: list[bytes]) -> bytes:
    """The trailer as a forger without the key recomputes it: a plain SHA-256 of the bytes."""
    trailer = json.loads(original)
    for field in ("sha256", "hmac_sha256"):  # format 1 has the one, format 2 the other
        if field in trailer:
            trailer[field] = hashlib.sha256(_body(body)).hexdigest()
    return _dump(trailer)


def _hmac(body: list[bytes], key: bytes) -> str:
    return hmac.new(key, _body(body), hashlib.sha256).hexdigest()


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in backup.tables()
        }


def _empty(engine: Engine) -> bool:
    return not any(_counts(engine).values())


def _admin_hash(engine: Engine) -> str | None:
    with Session(engine) as session:
        return session.scalar(select(User.password_hash).where(User.email == ADMIN))


CHANGED = "was changed after it was exported, or the backup key given is not the one"


# --- the forgery of the issue -----------------------------------------------------------------


def test_a_forged_backup_is_refused_and_nothing_is_written(
    exported: Exported, databases: Databases, tmp_path: Path
) -> None:
    lines = _lines(exported.file)
    body = _forge_rows(lines)
    forged = _write([*body, _plain_trailer(lines[-1], body)], tmp_path / "forged.jsonl.gz")
    header = json.loads(body[0])
    email, password = _column(header, "users", "email"), _column(header, "users", "password_hash")
    admin = next(v for t, v in map(json.loads, body[1:]) if t == "users" and v[email] == ADMIN)
    # The planted hash would have let the forger sign in as the admin.
    assert check_password_hash(admin[password], PLANTED_PASSWORD)

    target = databases.migrated(exported.backend, "forged")
    with pytest.raises(backup.BackupError, match=CHANGED):
        _import(target, forged)
    assert _empty(target)

    # The authentic file, with its key, still imports, with the admin's own password.
    assert _import(target, exported.file).rows == exported.summary.rows
    assert _admin_hash(target) == _admin_hash(exported.engine)
    with Session(target) as session:
        signed = session.scalar(
            select(func.count()).where(CaseEvent.comment == "Beslutat enligt protokoll.")
        )
    assert signed == 0


def test_a_forgery_passed_off_as_format_1_is_refused(
    exported: Exported, databases: Databases, tmp_path: Path
) -> None:
    lines = _lines(exported.file)
    body = _forge_rows(lines)
    header = json.loads(body[0])
    header["kflow_backup"] = 1
    header.pop("key_id", None)
    body[0] = _dump(header)
    trailer = {"end": "kflow_backup", "rows": exported.summary.total}
    trailer["sha256"] = hashlib.sha256(_body(body)).hexdigest()
    old = _write([*body, _dump(trailer)], tmp_path / "format-1.jsonl.gz")
    target = databases.migrated(exported.backend, "format1")
    with pytest.raises(backup.BackupError, match=r"format 1 backup.*cannot be authenticated"):
        _import(target, old)
    assert _empty(target)


def test_a_code_computed_with_another_key_is_refused(
    exported: Exported, databases: Databases, tmp_path: Path
) -> None:
    lines = _lines(exported.file)
    target = databases.migrated(exported.backend, "other-key")

    # The forger signs with a key of their own, leaving the header's key id alone: the code
    # does not match under the operator's key.
    body = _forge_rows(lines)
    trailer = json.loads(lines[-1]) | {"hmac_sha256": _hmac(body, ATTACKER_KEY)}
    signed = _write([*body, _dump(trailer)], tmp_path / "signed.jsonl.gz")
    with pytest.raises(backup.BackupError, match=CHANGED):
        _import(target, signed)
    assert _empty(target)

    # Naming their own key in the header too: refused before a row is read.
    header = json.loads(body[0]) | {"key_id": backup.key_id(ATTACKER_KEY)}
    body[0] = _dump(header)
    trailer["hmac_sha256"] = _hmac(body, ATTACKER_KEY)
    renamed = _write([*body, _dump(trailer)], tmp_path / "renamed.jsonl.gz")
    with pytest.raises(backup.BackupError, match="was exported with another backup key"):
        _import(target, renamed)
    assert _empty(target)

    # The same file imports under the forger's key, so the refusals above are the key's doing.
    assert _import(target, renamed, key=ATTACKER_KEY).total == exported.summary.total


def test_the_wrong_key_is_refused_and_nothing_is_written(
    exported: Exported, databases: Databases
) -> None:
    target = databases.migrated(exported.backend, "wrong-key")
    with pytest.raises(backup.BackupError, match=r"another backup key \(key id [0-9a-f]{16}, "):
        _import(target, exported.file, key=ATTACKER_KEY)
    assert _empty(target)


def test_an_edit_anywhere_is_refused_as_a_change(
    exported: Exported, databases: Databases, tmp_path: Path
) -> None:
    """One changed line of each kind, the trailer kept: each refused, the target left empty."""
    lines = _lines(exported.file)
    header = json.loads(lines[0])
    at = next(i for i, line in enumerate(lines) if line.startswith(b'["case_events",'))
    event = json.loads(lines[at])
    edits: dict[str, tuple[int, bytes]] = {
        # The header: bound like every other byte.
        "header": (0, _dump(header | {"exported_at": "2020-01-01T00:00:00+00:00"})),
        # A row the database's constraints refuse: the code is checked before that is reported.
        "orphan": (at, _dump(["case_events", [event[1][0], 999999, *event[1][2:]]])),
        # A value the format refuses.
        "malformed": (at, _dump(["case_events", ["ett", *event[1][1:]]])),
        # One byte more in a row, the same JSON value.
        "byte": (at, lines[at][:-1] + b" ]"),
    }
    target = databases.migrated(exported.backend, "edited")
    for what, (index, line) in edits.items():
        changed = list(lines)
        changed[index] = line
        assert changed[index] != lines[index], what
        with pytest.raises(backup.BackupError, match=CHANGED):
            _import(target, _write(changed, tmp_path / f"{what}.jsonl.gz"))
        assert _empty(target), what

    # Data after the trailer is not covered by the code: refused as well.
    extra = _write([*lines, lines[at]], tmp_path / "extra.jsonl.gz")
    with pytest.raises(backup.BackupError, match="data after its last line"):
        _import(target, extra)
    assert _empty(target)


# --- the key ----------------------------------------------------------------------------------


def test_weak_missing_or_unreadable_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(backup.BackupError, match=r"with --key-file PATH \(make one with 'openssl"):
        backup.load_key(None)
    short = tmp_path / "short.key"
    short.write_text("hemligt\n")
    with pytest.raises(backup.BackupError, match=r"is too short \(7 characters; at least 32\)"):
        backup.load_key(short)
    uniform = tmp_path / "uniform.key"
    uniform.write_text("a" * 64)
    with pytest.raises(backup.BackupError, match="is not random"):
        backup.load_key(uniform)
    with pytest.raises(backup.BackupError, match="cannot be read"):
        backup.load_key(tmp_path / "missing.key")
    with pytest.raises(backup.BackupError, match="cannot be read"):
        backup.load_key(tmp_path)
    big = tmp_path / "backup.jsonl.gz"  # a backup given as the key by mistake
    big.write_bytes(os.urandom(10_000))
    with pytest.raises(backup.BackupError, match="is not a backup key file"):
        backup.load_key(big)
    with pytest.raises(backup.BackupError, match="too short"):
        backup.export_file(sa.create_engine("sqlite://"), tmp_path / "never.gz", key=b"kort")
    assert not (tmp_path / "never.gz").exists()

    good = tmp_path / "backup.key"
    good.write_bytes(KEY + b"\n")  # as 'openssl rand -hex 32 > backup.key' writes it
    assert backup.load_key(good) == KEY


def test_without_a_key_the_commands_refuse(
    exported: Exported, databases: Databases, tmp_path: Path
) -> None:
    source_url = exported.engine.url.render_as_string(hide_password=False)
    file = tmp_path / "nyckellos.jsonl.gz"
    refusal = (
        "Error: A backup is signed and checked with a backup key that only you hold: give the "
        "file that holds it with --key-file PATH (make one with 'openssl rand -hex 32 > "
        "backup.key' and keep it apart from the backups)."
    )
    assert Cli(environment(source_url, tmp_path)).fails("export", str(file)) == refusal
    assert list(tmp_path.glob("nyckellos*")) == []

    target = databases.migrated(exported.backend, "keyless")
    target_url = target.url.render_as_string(hide_password=False)
    assert Cli(environment(target_url, tmp_path)).fails("import", str(exported.file)) == refusal
    assert _empty(target)


# --- the real command, in processes of its own ------------------------------------------------


def _kflow(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFLOW_")}
    env.update(KFLOW_DATABASE_URL=url, KFLOW_ENVIRONMENT="development", KFLOW_SECRET_KEY="test")
    return subprocess.run(
        [KFLOW, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _refused(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]


@pytest.mark.slow
def test_the_kflow_command_signs_with_the_key_file_and_refuses_a_forgery(
    exported: Exported, databases: Databases, tmp_path: Path
) -> None:
    key_file, other_key_file = tmp_path / "backup.key", tmp_path / "other.key"
    key_file.write_bytes(KEY + b"\n")
    other_key_file.write_bytes(ATTACKER_KEY + b"\n")
    file = tmp_path / "kommando.jsonl.gz"
    source_url = exported.engine.url.render_as_string(hide_password=False)
    done = _kflow(source_url, "export", "--key-file", str(key_file), str(file))
    assert done.returncode == 0, done.stderr
    lines = _lines(file)
    assert json.loads(lines[0])["kflow_backup"] == 2
    assert json.loads(lines[0])["key_id"] == backup.key_id(KEY)
    assert json.loads(lines[-1])["hmac_sha256"] == _hmac(lines[:-1], KEY)

    body = _forge_rows(lines)
    forged = _write([*body, _plain_trailer(lines[-1], body)], tmp_path / "forged.jsonl.gz")
    target = databases.migrated(exported.backend, "command")
    target_url = target.url.render_as_string(hide_password=False)
    refused = _refused(_kflow(target_url, "import", "--key-file", str(key_file), str(forged)))
    assert refused == (
        f"Error: {forged} {CHANGED} it was exported with (its authentication code does not "
        "match); nothing was imported."
    )
    assert _empty(target)
    refused = _refused(_kflow(target_url, "import", "--key-file", str(other_key_file), str(file)))
    assert refused.startswith(f"Error: {file} was exported with another backup key (key id ")
    assert _empty(target)

    done = _kflow(target_url, "import", "--key-file", str(key_file), str(file))
    assert done.returncode == 0, done.stderr
    assert _counts(target) == exported.summary.rows
    assert _admin_hash(target) == _admin_hash(exported.engine)
