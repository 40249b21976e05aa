"""Runtime's transactions: a thread keeps one connection and its session between them.

Checked against the pool itself: how many connections are out, and which DBAPI connection a
transaction ran on. Every test runs on SQLite and PostgreSQL (``committed_runtime``).
"""

from __future__ import annotations

import gc
import sqlite3
import threading
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from kflow.db import make_engine, make_sessionmaker
from kflow.org.models import Unit
from kflow.runtime import Runtime


def dbapi_of(session: Session) -> Any:
    return session.connection().connection.dbapi_connection


def unit_count(rt: Runtime) -> int:
    with rt.transaction(write=False) as session:
        return unit_count_now(session)


def rename_first_unit(session: Session, name: str) -> None:
    unit = session.scalars(select(Unit).order_by(Unit.id).limit(1)).one()
    unit.name = name


def unit_count_now(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Unit)) or 0)


def first_unit_name(rt: Runtime) -> str:
    with rt.transaction(write=False) as session:
        return str(session.scalar(select(Unit.name).order_by(Unit.id).limit(1)))


def test_a_thread_reuses_its_connection_and_session(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    with rt.transaction() as first:
        first_dbapi = dbapi_of(first)
    with rt.transaction(write=False) as second:
        assert second is first
        assert dbapi_of(second) is first_dbapi
    assert rt.engine.pool.checkedout() == 1  # type: ignore[attr-defined]


def test_commit_and_rollback_through_the_held_session(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    before = first_unit_name(rt)
    with pytest.raises(RuntimeError), rt.transaction() as session:
        rename_first_unit(session, "Rullas tillbaka")
        session.flush()
        raise RuntimeError("the request failed")
    assert first_unit_name(rt) == before
    with rt.transaction() as session:
        rename_first_unit(session, "Sparad")
    assert first_unit_name(rt) == "Sparad"
    # Nothing of the failed transaction lingers in the session for the next one.
    with rt.transaction(write=False) as session:
        assert not session.new and not session.dirty and len(session.identity_map) == 0


def test_a_transaction_inside_a_transaction_gets_a_session_of_its_own(
    committed_runtime: Runtime,
) -> None:
    rt = committed_runtime
    before = first_unit_name(rt)
    with rt.transaction() as outer:
        outer_dbapi = dbapi_of(outer)
        rename_first_unit(outer, "Yttre")
        outer.flush()
        with rt.transaction(write=False) as inner:
            assert inner is not outer
            assert dbapi_of(inner) is not outer_dbapi
            # Its own transaction: the outer one's change is not committed yet.
            assert inner.scalar(select(Unit.name).order_by(Unit.id).limit(1)) == before
    assert first_unit_name(rt) == "Yttre"
    assert rt.engine.pool.checkedout() == 1  # type: ignore[attr-defined]


@pytest.mark.only_on("sqlite")  # BEGIN IMMEDIATE and DEFERRED: PostgreSQL has no write lock
def test_a_reader_after_a_writer_does_not_take_the_write_lock(
    committed_runtime: Runtime,
) -> None:
    rt = committed_runtime
    with rt.transaction() as session:
        rename_first_unit(session, "Skrivare")
    path = rt.settings.resolved_database_url.removeprefix("sqlite:///")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with rt.transaction(write=False) as session:
            session.execute(select(Unit.id).limit(1)).all()
            other.execute("BEGIN IMMEDIATE")  # would fail with "database is locked"
            other.execute("ROLLBACK")
        # ...and a writer takes it again.
        with rt.transaction(), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


def test_dispose_lets_go_of_the_held_connection(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    with rt.transaction() as session:
        old = dbapi_of(session)
    rt.engine.dispose()
    assert rt.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    if rt.engine.dialect.name == "postgresql":  # and the server sees no session of ours
        url = rt.settings.resolved_database_url.replace("+psycopg", "")
        with psycopg.connect(url) as probe:
            others = probe.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert others == (0,)
    with rt.transaction(write=False) as session:
        assert dbapi_of(session) is not old
        assert unit_count_now(session) > 0


def test_a_finished_thread_returns_its_connection(committed_runtime: Runtime) -> None:
    rt = committed_runtime
    pool: Any = rt.engine.pool
    before = pool.checkedout()  # this thread's own, from the fixture's seeding
    seen: list[int] = []

    def work() -> None:
        assert unit_count(rt) > 0
        seen.append(pool.checkedout())

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    gc.collect()
    assert seen == [before + 1]  # held by the thread after its transaction...
    assert pool.checkedout() == before  # ...and back in the pool once it has finished


@pytest.mark.only_on("sqlite")  # a BEGIN that waits for the write lock
def test_a_failed_begin_frees_the_thread_for_its_next_transaction(
    committed_runtime: Runtime,
) -> None:
    rt = committed_runtime
    url = rt.settings.resolved_database_url
    engine = make_engine(url, connect_args={"timeout": 0.05})
    impatient = Runtime(rt.settings, engine, make_sessionmaker(engine))
    blocker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(Exception, match="locked"), impatient.transaction():
            pass
        blocker.execute("ROLLBACK")
        with impatient.transaction() as first:
            rename_first_unit(first, "Efter låset")
        with impatient.transaction(write=False) as second:
            assert second is first  # the thread's held session, free again
            assert second.scalar(select(Unit.name).order_by(Unit.id).limit(1)) == "Efter låset"
    finally:
        blocker.close()
        engine.dispose()


def test_a_runtime_on_a_given_connection_does_not_hold_one(
    committed_runtime: Runtime,
) -> None:
    """Tests bind sessions to their own rolled-back connection: Runtime leaves that alone."""
    rt = committed_runtime
    with rt.engine.connect() as connection:
        outer = connection.begin()
        sessions = make_sessionmaker(rt.engine)
        sessions.configure(bind=connection, join_transaction_mode="create_savepoint")
        joined = Runtime(rt.settings, rt.engine, sessions)
        with joined.transaction() as session:
            rename_first_unit(session, "Bara i testet")
            assert dbapi_of(session) is connection.connection.dbapi_connection
        assert connection.execute(text("SELECT 1")).scalar() == 1
        outer.rollback()
    assert first_unit_name(rt) != "Bara i testet"


def test_web_requests_give_the_held_session_back(committed_runtime: Runtime) -> None:
    """A request's session is the thread's held one, free again once the response is out; so
    is it after an API call whose token use is written in a transaction of its own."""
    from kflow.accounts import tokens as api_tokens
    from kflow.accounts.models import ApiToken
    from kflow.org import users as org_users
    from kflow.org.roles import UnitKind
    from kflow.web import create_app

    rt = committed_runtime
    with rt.transaction() as session:
        user = org_users.create_user(session, "lasare@test.se", "Läsare")
        region = session.scalars(select(Unit).where(Unit.kind == UnitKind.REGION)).first()
        assert region is not None
        session.flush()
        org_users.grant(session, user, "member", region)
        token, plain = api_tokens.create_token(session, user, "test")
        session.flush()
        token_id = token.id
    client = create_app(rt).test_client()
    for path in ("/api/v1/overdue", "/api/v1/inbox"):
        answer = client.get(path, headers={"Authorization": f"Bearer {plain}"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        with rt.transaction(write=False) as first:
            pass
        with rt.transaction(write=False) as second:
            assert second is first  # the held session, not a stand-in for a busy one
    with rt.transaction(write=False) as session:
        assert session.get(ApiToken, token_id).last_used_at is not None  # type: ignore[union-attr]
