"""`kflow export` / `kflow import`: a whole database, history included, to a file and back.

A rich database is built natively on each engine (the demo data set through the services, a
reminder sweep, digests, a relay, tokens, and a few awkward values), exported, imported into a
fresh database of the *other* engine and exported again: the two files hold the same rows, and
reading every table from both databases gives the same values. Refusals (a non-empty target,
another schema revision, truncated or corrupted files) leave the target untouched. Every file is
signed with the backup key ``KEY``; tests/tools/test_backup_forgery.py shows that a changed file, a
wrong key or no key is refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import hmac
import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, Table, func, select
from sqlalchemy.orm import Session

import tests.conftest as conftest
from kflow.accounts import tokens as api_tokens
from kflow.accounts.models import ApiToken
from kflow.cases.events import CaseEvent
from kflow.cases.models import Case, KnowledgeSupport
from kflow.db import Base
from kflow.documents.attachments import attach
from kflow.documents.comments import add_comment
from kflow.documents.storage import FileStore
from kflow.engine.authority import Actor, Authority
from kflow.engine.create import create_knowledge_support
from kflow.jobs.digests import build_digests
from kflow.jobs.relay import relay
from kflow.jobs.sweep import sweep
from kflow.org import units as org_units
from kflow.org import users as org_users
from kflow.org.models import Membership, User
from kflow.runtime import Runtime
from kflow.states import CASE_TYPES
from kflow.tools import backup
from kflow.tools.demo import load_demo
from kflow.tools.migrate import downgrade, upgrade
from kflow.tools.seed import seed
from tests.conftest import make_settings
from tests.support import files
from tests.support.cli_support import Cli, environment
from tests.support.processes import KFLOW
from tests.tools.conftest import Databases

NOW = dt.datetime(2026, 11, 23, 9, 30, 12, 345678, tzinfo=dt.UTC)  # a Monday
ATTACHMENTS = make_settings().attachments_dir  # where the sources' attachments are kept
KEY = b"7c0f3b6e2d9a41c58e06b7d4a3f29c1e5b80d6e4a7c93f12b5e08d7a6c4f31e9"  # openssl rand -hex 32
AWKWARD_COMMENT = 'Rad 1\nRad 2 med "citat", \\ och 🩺 – åäö'


@dataclasses.dataclass
class Source:
    backend: str
    engine: Engine
    file: Path
    summary: backup.Summary


def _build_rich(runtime: Runtime) -> None:
    """Every table gets rows, every case type, history with and without parameters."""
    with runtime.transaction() as session:
        load_demo(session, runtime.settings, now=NOW)
    sweep(runtime, NOW)  # reminders and the notifications they address
    build_digests(runtime, NOW, force=True)
    relay(runtime, now=NOW, limit=5)  # some outbox rows sent, to files
    with runtime.transaction() as session:
        users = session.scalars(select(User).order_by(User.id).limit(3)).all()
        kept, _ = api_tokens.create_token(session, users[0], "integration")
        kept.last_used_at = NOW
        revoked, _ = api_tokens.create_token(session, users[1], "gammal")
        session.flush()
        api_tokens.revoke_token(session, revoked.id, "cli")
        users[2].is_active = False
        users[2].password_hash = None
        case_id = session.scalar(select(func.min(Case.id)))
        # History rows with an awkward comment, SQL NULL and non-ASCII JSON parameters (the
        # demo's rows carry JSON null and objects).
        session.execute(
            sa.insert(CaseEvent.__table__),
            [
                {
                    "case_id": case_id,
                    "trigger": "note",
                    "from_state": None,
                    "to_state": "need_identified",
                    "actor_id": None,
                    "actor": "system",
                    "role": None,
                    "override": True,
                    "at": NOW,
                    "comment": AWKWARD_COMMENT,
                    "params": sa.null(),
                },
                {
                    "case_id": case_id,
                    "trigger": "note",
                    "from_state": "need_identified",
                    "to_state": "need_identified",
                    "actor_id": users[0].id,
                    "actor": users[0].email,
                    "role": "admin",
                    "override": False,
                    "at": NOW + dt.timedelta(microseconds=1),
                    "comment": "",
                    "params": {"enheter": ["vgr-vc-majorna", "Sjukhus i Skåne"], "n": 1.5},
                },
            ],
        )
        login_failures = Base.metadata.tables.get("login_failures")
        if login_failures is not None:  # sign-in throttling: rows of the last few minutes
            session.execute(sa.insert(login_failures), {"key": "a" * 64, "at": NOW})
        # An attachment (its file in the settings' store) and a comment (kflow.documents).
        ks = session.scalar(select(KnowledgeSupport).order_by(KnowledgeSupport.id).limit(1))
        assert ks is not None
        owner = session.scalar(
            select(User)
            .join(Membership)
            .where(Membership.unit_id == ks.owner_id, Membership.role == "chair")
        )
        assert owner is not None
        authority = Authority(session, Actor(owner))
        store = FileStore(runtime.settings.attachments_dir)
        attach(
            session, authority, ks, filename="Underlag.pdf", data=files.PDF, store=store, max_mb=1
        )
        add_comment(session, authority, ks, "En kommentar, åäö.", now=NOW)
        # Calendar feeds (kflow.accounts.calendar_feeds): one live, one revoked by a new one.
        from kflow.accounts import calendar_feeds

        calendar_feeds.create(session, users[0].id)
        calendar_feeds.create(session, users[0].id)
        calendar_feeds.create(session, users[1].id)
        if "sign_in_sessions" in Base.metadata.tables:  # browser sessions: one open, one ended
            from kflow.accounts import signin

            signin.start(session, users[0], "c" * 64, NOW)
            ended = signin.start(session, users[1], "d" * 64, NOW)
            signin.end(session, int(ended.partition(".")[0]), "sign_out", NOW)
        # "Glömt lösenord?" links (kflow.accounts.passwords): one ended by a newer one.
        from kflow.accounts import passwords

        passwords.new_link(session, runtime.settings, users[0], NOW)
        passwords.new_link(session, runtime.settings, users[0], NOW)


@pytest.fixture(scope="module", params=conftest.BACKENDS)
def source(request: pytest.FixtureRequest, databases: Databases) -> Iterator[Source]:
    """A rich database built natively on one engine, and its export."""
    backend = request.param
    url = databases.url(backend, "source")
    outbox_dir = databases.tmp / f"outbox-{backend}"
    runtime = Runtime.create(
        make_settings(database_url=url, mail={"backend": "file", "dir": str(outbox_dir)})
    )
    upgrade(runtime.engine)
    _build_rich(runtime)
    file = databases.tmp / f"{backend}.kflow.jsonl.gz"
    store = FileStore(runtime.settings.attachments_dir)
    summary = backup.export_file(runtime.engine, file, key=KEY, files=store)
    yield Source(backend, runtime.engine, file, summary)
    runtime.engine.dispose()


def _other(backend: str) -> str:
    return "postgresql" if backend == "sqlite" else "sqlite"


def _lines(file: Path) -> list[bytes]:
    with gzip.open(file, "rb") as stream:
        return stream.read().splitlines()


def _table_rows(engine: Engine, table: Table) -> list[tuple[Any, ...]]:
    """Every row as the database gives it back (JSON as its stored text)."""
    columns = [sa.cast(c, sa.Text) if isinstance(c.type, sa.JSON) else c for c in table.columns]
    with engine.connect() as conn:
        stmt = select(*columns).order_by(*table.primary_key.columns)
        return [tuple(row) for row in conn.execute(stmt)]


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in backup.tables()
        }


def _empty(engine: Engine) -> bool:
    return not any(_counts(engine).values())


def test_the_source_covers_every_table_and_case_type(source: Source) -> None:
    empty = [t.name for t in backup.tables() if source.summary.rows[t.name] == 0]
    assert not empty, f"give {empty} rows in _build_rich, so the round trip covers them"
    with Session(source.engine) as session:
        types = set(session.scalars(select(Case.type).distinct()))
        with_params = session.scalar(
            select(func.count()).where(sa.cast(CaseEvent.params, sa.Text).like("{%"))
        )
        sql_null = session.scalar(select(func.count()).where(CaseEvent.params.is_(sa.null())))
    assert types == set(CASE_TYPES)
    assert with_params and with_params > 10
    assert sql_null == 1


@dataclasses.dataclass
class Imported:
    engine: Engine
    summary: backup.Summary


@pytest.fixture(scope="module")
def imported(source: Source, databases: Databases) -> Imported:
    """The source's export imported into a fresh database of the other engine."""
    target = databases.migrated(_other(source.backend), "target")
    return Imported(target, backup.import_file(target, source.file, key=KEY))


def test_round_trip_to_the_other_engine_is_lossless(
    source: Source, imported: Imported, tmp_path: Path
) -> None:
    assert imported.summary.rows == source.summary.rows
    again = tmp_path / "again.jsonl.gz"
    backup.export_file(imported.engine, again, key=KEY, files=FileStore(ATTACHMENTS))
    first, second = _lines(source.file), _lines(again)
    # Row for row the same file; only the header's moment and engine (and so the HMAC) differ.
    assert first[1:-1] == second[1:-1]
    header1, header2 = json.loads(first[0]), json.loads(second[0])
    assert header1["tables"] == header2["tables"]
    assert (header1["source"], header2["source"]) == (source.backend, _other(source.backend))
    assert json.loads(second[-1])["rows"] == source.summary.total

    # And independently of the file format: every table reads back the same on both engines.
    for table in backup.tables():
        assert _table_rows(source.engine, table) == _table_rows(imported.engine, table), table.name
    with Session(imported.engine) as session:
        awkward = session.scalar(select(func.count()).where(CaseEvent.comment == AWKWARD_COMMENT))
    assert awkward == 1


_CATALOGUE = (
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE connamespace = 'public'::regnamespace "
    "UNION ALL SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
    "ORDER BY 1, 2, 3"
)


@pytest.mark.parametrize("source", ["sqlite"], indirect=True)  # imported into PostgreSQL
def test_an_import_into_postgresql_leaves_the_constraints_and_indexes_it_found(
    source: Source, imported: Imported, databases: Databases
) -> None:
    """The import sets foreign keys and plain indexes aside while rows go in
    (kflow.tools.backup.pg_bulk) and makes them again: the same names and definitions as a
    database just migrated, and in force."""
    assert imported.engine.dialect.name == "postgresql"
    fresh = databases.migrated("postgresql", "catalogue")
    with imported.engine.connect() as conn, fresh.connect() as other:
        found = conn.exec_driver_sql(_CATALOGUE).all()
        expected = other.exec_driver_sql(_CATALOGUE).all()
        assert found == expected
    assert any(row[2].startswith("FOREIGN KEY ") for row in found)
    with pytest.raises(sa.exc.IntegrityError, match="foreign key"), imported.engine.begin() as c:
        first = select(func.min(Case.id)).scalar_subquery()
        c.execute(sa.update(Case.__table__).where(Case.id == first).values(owner_id=999_999_999))


def test_after_an_import_new_rows_get_new_ids_and_history_stays_append_only(
    imported: Imported,
) -> None:
    target = imported.engine
    highest = {
        t.name: _table_rows(target, t)[-1][0]
        for t in backup.tables()
        if t.autoincrement_column is not None
    }
    with Session(target) as session:  # rolled back at the end
        chair = org_users.user_by_email(session, "npo.ordf@demo.kflow.se")
        user = org_users.create_user(session, "ny.anvandare@test.se", "Ny Användare")
        session.flush()
        org_users.grant(session, user, "viewer", org_units.unit_by_code(session, "vgr"))
        token, _ = api_tokens.create_token(session, user, "ny")
        unit = org_units.create_unit(
            session,
            "vgr-ny-enhet",
            "Ny enhet",
            "local_unit",
            org_units.unit_by_code(session, "vgr"),
        )
        ks = create_knowledge_support(
            session,
            Authority(session, Actor(chair)),
            title="Nytt kunskapsstöd efter flytt",
            kind="vardprogram",
            owner="npo-psykisk-halsa",
        )
        session.flush()
        event_id = session.scalar(select(func.max(CaseEvent.id)).where(CaseEvent.case_id == ks.id))
        new_ids = {
            "users": user.id,
            "api_tokens": token.id,
            "units": unit.id,
            "cases": ks.id,
            "case_events": event_id,
        }
        for name, new_id in new_ids.items():
            assert new_id is not None and new_id > highest[name], name
        session.rollback()
    if target.dialect.name == "postgresql":  # every id sequence, not only those used above
        with target.connect() as conn:
            for name, top in highest.items():
                nextval = conn.execute(
                    sa.text(f"SELECT nextval(pg_get_serial_sequence('{name}', 'id'))")
                ).scalar_one()
                assert nextval > top, name
    with target.connect() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
        conn.execute(sa.text("UPDATE case_events SET comment = 'ändrad' WHERE id = 1"))
    with target.connect() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
        conn.execute(sa.text("DELETE FROM case_events WHERE id = 1"))


@pytest.mark.parametrize("source", ["sqlite"], indirect=True)
@pytest.mark.parametrize("backend", conftest.BACKENDS)
def test_a_seeded_database_is_refused_and_left_alone(
    source: Source, databases: Databases, backend: str
) -> None:
    target = databases.migrated(backend, "seeded")
    with Session(target) as session, session.begin():
        seed(session, make_settings().organisation_path)
    before = _counts(target)
    with pytest.raises(backup.BackupError, match=r"not empty \(rows in units, "):
        backup.import_file(target, source.file, key=KEY)
    assert _counts(target) == before


def _hmac(lines: list[bytes], key: bytes = KEY) -> str:
    return hmac.new(key, b"".join(line + b"\n" for line in lines), hashlib.sha256).hexdigest()


def _rewrite(lines: list[bytes], file: Path) -> Path:
    with gzip.open(file, "wb") as out:
        out.write(b"".join(line + b"\n" for line in lines))
    return file


@pytest.mark.parametrize("source", ["sqlite"], indirect=True)
@pytest.mark.parametrize("backend", conftest.BACKENDS)
def test_damaged_files_are_refused_and_nothing_is_written(
    source: Source, databases: Databases, backend: str, tmp_path: Path
) -> None:
    target = databases.migrated(backend, "damaged")
    lines = _lines(source.file)
    raw = source.file.read_bytes()
    assert len(lines) > 3 * backup.WRITE_BATCH  # so batches are written before the damage shows

    # Cut short: the compressed stream ends early (as after a full disk or a broken copy).
    cut = tmp_path / "cut.gz"
    cut.write_bytes(raw[: len(raw) * 9 // 10])
    with pytest.raises(backup.BackupError, match="truncated"):
        backup.import_file(target, cut, key=KEY)
    assert _empty(target)

    # Complete gzip, but the last line (the authentication code) is missing.
    no_end = _rewrite(lines[:-1], tmp_path / "no-end.gz")
    with pytest.raises(backup.BackupError, match="truncated"):
        backup.import_file(target, no_end, key=KEY)
    assert _empty(target)

    # One history row changed by hand: the authentication code no longer matches.
    at = next(i for i, line in enumerate(lines) if line.startswith(b'["case_events",[1,'))
    edited = list(lines)
    edited[at] = edited[at].replace(b'"system"', b'"someone"').replace(b'.se"', b'.com"')
    assert edited[at] != lines[at]
    changed = _rewrite(edited, tmp_path / "edited.gz")
    with pytest.raises(backup.BackupError, match="was changed after it was exported"):
        backup.import_file(target, changed, key=KEY)
    assert _empty(target)

    # A row dropped, with the authentication code recomputed with the key (a bug, not an
    # attacker, who has no key): the header's counts catch it.
    dropped = list(lines[:-1])
    del dropped[at]
    trailer = json.loads(lines[-1])
    trailer["hmac_sha256"] = _hmac(dropped)
    recounted = _rewrite([*dropped, json.dumps(trailer).encode()], tmp_path / "dropped.gz")
    with pytest.raises(
        backup.BackupError, match="row counts differ from its header in case_events"
    ):
        backup.import_file(target, recounted, key=KEY)
    assert _empty(target)

    # A history row pointing at a user who does not exist, code and counts made to match:
    # the database's own constraints refuse it.
    orphan = list(lines[:-1])
    orphan[at] = orphan[at].replace(b'["case_events",[1,1,', b'["case_events",[1,999999,')
    assert orphan[at] != lines[at]
    trailer["hmac_sha256"] = _hmac(orphan)
    unfit = _rewrite([*orphan, json.dumps(trailer).encode()], tmp_path / "orphan.gz")
    with pytest.raises(backup.BackupError, match="does not fit the database"):
        backup.import_file(target, unfit, key=KEY)
    assert _empty(target)

    # Not a backup at all.
    other = tmp_path / "notes.txt"
    other.write_text("hej\n")
    with pytest.raises(backup.BackupError, match="is not a kflow backup"):
        backup.import_file(target, other, key=KEY)


@pytest.mark.parametrize("source", ["sqlite"], indirect=True)
def test_another_schema_revision_is_refused(
    source: Source, databases: Databases, tmp_path: Path
) -> None:
    behind = databases.migrated("sqlite", "behind")
    downgrade(behind, "-1")
    with pytest.raises(backup.BackupError, match="target database is at schema revision"):
        backup.import_file(behind, source.file, key=KEY)
    with pytest.raises(backup.BackupError, match="run 'kflow db upgrade' first"):
        backup.export_file(behind, tmp_path / "behind.gz", key=KEY)
    assert not (tmp_path / "behind.gz").exists()

    lines = _lines(source.file)
    header = json.loads(lines[0])
    header["alembic_revision"] = "0001"
    old = _rewrite([json.dumps(header).encode(), *lines[1:]], tmp_path / "old.gz")
    target = databases.migrated("sqlite", "current")
    with pytest.raises(backup.BackupError, match="holds schema revision 0001"):
        backup.import_file(target, old, key=KEY)
    assert _empty(target)


class WritesMidway:
    """A sink that, once the export is reading units, commits a new unit on another connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.buffer = io.BytesIO()
        self.wrote = False

    def write(self, data: bytes) -> int:
        if not self.wrote and data.startswith(b'["units",'):
            with Session(self.engine) as other, other.begin():
                vgr = org_units.unit_by_code(other, "vgr")
                org_units.create_unit(
                    other, "vgr-under-exporten", "Ny under exporten", "local_unit", vgr
                )
            self.wrote = True
        return self.buffer.write(data)


@pytest.mark.parametrize("backend", conftest.BACKENDS)
def test_the_export_reads_one_snapshot_while_others_write(
    databases: Databases, backend: str
) -> None:
    engine = databases.migrated(backend, "busy")
    with Session(engine) as session, session.begin():
        seed(session, make_settings().organisation_path)
    before = _counts(engine)
    sink = WritesMidway(engine)
    summary = backup.export_to(engine, sink, key=KEY)
    assert sink.wrote
    after = _counts(engine)
    assert after["units"] == before["units"] + 1 and after["unit_closure"] > before["unit_closure"]
    # The file holds the database as it was when the export began, in every table.
    assert summary.rows == before
    assert b"vgr-under-exporten" not in sink.buffer.getvalue()
    target = databases.migrated(backend, "busy-target")
    backup.import_from(target, io.BytesIO(sink.buffer.getvalue()), "the snapshot", key=KEY)
    assert _counts(target) == before


def test_float_values_keep_every_bit() -> None:
    for value in (0.1, 1 / 3, 1e-310, -0.0, 42.0, float("inf"), float("-inf")):
        encoded = json.loads(json.dumps(backup.ENCODERS["float"](value)))
        assert backup.DECODERS["float"](encoded).hex() == value.hex()
    nan = backup.DECODERS["float"](json.loads(json.dumps(backup.ENCODERS["float"](float("nan")))))
    assert nan != nan


# --- the real command, in processes of its own ------------------------------------------------


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFLOW_")}
    env.update(KFLOW_DATABASE_URL=url, KFLOW_ENVIRONMENT="development", KFLOW_SECRET_KEY="test")
    env["KFLOW_ATTACHMENTS__DIR"] = str(ATTACHMENTS)  # the sources' attachments are there
    return env


def _kflow(url: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [KFLOW, *args], env=_env(url), input=stdin, capture_output=True, timeout=120, check=False
    )


@pytest.mark.slow
@pytest.mark.parametrize("source", ["sqlite"], indirect=True)
def test_the_kflow_command_moves_a_database(
    source: Source, databases: Databases, tmp_path: Path
) -> None:
    source_url = source.engine.url.render_as_string(hide_password=False)
    file = tmp_path / "flytt.jsonl.gz"
    key_file = tmp_path / "backup.key"
    key_file.write_bytes(KEY + b"\n")  # as 'openssl rand -hex 32 > backup.key' writes it
    key = ("--key-file", str(key_file))
    total, tables = source.summary.total, len(source.summary.rows)
    done = _kflow(source_url, "export", *key, str(file))
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip() == (
        f"Exported {total} rows from {tables} tables "
        f"(schema revision {source.summary.revision}) to {file}."
    )

    # SQLite to PostgreSQL (to SQLite when no PostgreSQL answers).
    admin = conftest._pg_admin_engine()
    backend = "sqlite" if admin is None else "postgresql"
    if admin is not None:
        admin.dispose()
    target = databases.migrated(backend, "cli")
    target_url = target.url.render_as_string(hide_password=False)
    done = _kflow(target_url, "import", *key, str(file))
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip() == (
        f"Imported {total} rows into {tables} tables (schema revision {source.summary.revision})."
    )
    assert _counts(target) == source.summary.rows

    # And on through a pipe: export to standard output, import from standard input.
    piped = databases.migrated("sqlite", "piped")
    out = _kflow(target_url, "export", *key, "-")
    assert out.returncode == 0, out.stderr
    assert out.stderr.decode().startswith(f"Exported {total} rows ")
    done = _kflow(piped.url.render_as_string(), "import", *key, "-", stdin=out.stdout)
    assert done.returncode == 0, done.stderr
    assert _counts(piped) == source.summary.rows
    with Session(piped) as session:
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 2

    # Refusals: one sentence, exit code 1, nothing changed.
    cli = Cli(environment(target_url, tmp_path))
    assert cli.fails("export", *key, str(file)) == (
        f"Error: {file} already exists; choose another name or pass --force."
    )
    refused = cli.fails("import", *key, str(file))
    assert refused.startswith("Error: The target database is not empty (rows in "), refused
    assert _counts(target) == source.summary.rows
    missing = tmp_path / "finns-inte.gz"
    assert cli.fails("import", *key, str(missing)) == f"Error: {missing} is not a file."
