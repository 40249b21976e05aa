"""Faults, and that each loses nothing and doubles nothing.

* SMTP slow past the timeout, answering 4xx, answering 5xx (what
  tests/mailing/test_mail_smtp.py does not cover: it has the server down, back-off doubling and
  `kflow outbox list/retry` after refused connections). The relay takes ``now``: tests step
  time past the back-off.
* The retry at the request boundary (kflow.web.boundary), in process: SQLite's write lock held by
  someone else, PostgreSQL connections cut under the app, a COMMIT whose connection breaks
  (committed or not), a hook failing after the COMMIT.
* PostgreSQL restarted (``pg_ctl restart -m fast``) under ``kflow serve`` and
  ``kflow scheduler``, on a private throw-away cluster: the shared server is never touched.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import itertools
import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import flask
import pytest
import sqlalchemy as sa
from sqlalchemy import event, func, select

from kflow.accounts import tokens as api_tokens
from kflow.cases.events import CaseEvent
from kflow.cases.models import Case, KnowledgeSupport
from kflow.db import make_engine, make_sessionmaker, utcnow
from kflow.engine.authority import Actor, Authority
from kflow.engine.fire import fire
from kflow.jobs import scheduler
from kflow.jobs.relay import relay
from kflow.mailing.models import OutboxMail, Reminder
from kflow.org import users as org_users
from kflow.org.models import User
from kflow.runtime import Runtime
from kflow.tools.migrate import upgrade
from kflow.tools.seed import seed
from kflow.web import create_app
from kflow.web.boundary import BUSY, UNKNOWN
from tests.conftest import make_settings
from tests.support import pgcluster
from tests.support.api_support import Api
from tests.support.processes import cli_env, committed_world, kflow, start_kflow
from tests.support.served import serving
from tests.support.smtp import Capture, SmtpServer
from tests.support.timeline import adaptation_at, at, handed_off, outbox, published_ks
from tests.support.world import PASSWORD

# --- SMTP: slow, 4xx, 5xx --------------------------------------------------------------------


class Faulty(Capture):
    """A capturing SMTP handler that can be slow or refuse, at RCPT or at DATA."""

    def __init__(self) -> None:
        super().__init__()
        self.stage = "RCPT"
        self.delay = 0.0  # seconds to sleep at ``stage`` before answering
        self.reply: str | None = None  # an SMTP reply to give at ``stage`` instead of 250
        self.stalls_over = 0  # stalled sessions that are over (delivered, refused or cancelled)

    def behave(self, stage: str = "RCPT", delay: float = 0.0, reply: str | None = None) -> None:
        self.stage, self.delay, self.reply = stage, delay, reply

    async def _fault(self, stage: str) -> str | None:
        if stage != self.stage:
            return None
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.reply

    @contextlib.contextmanager
    def _counting(self, stage: str) -> Iterator[None]:
        stalls = self.stage == stage and self.delay > 0
        try:
            yield
        finally:  # also when aiosmtpd cancels a session whose client left
            if stalls:
                with self.lock:
                    self.stalls_over += 1

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        with self._counting("RCPT"):
            refused = await self._fault("RCPT")
            if refused:
                return refused
            envelope.rcpt_tos.append(address)
            return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._counting("DATA"):
            refused = await self._fault("DATA")
            if refused:
                return refused
            return await super().handle_DATA(server, session, envelope)


@contextlib.contextmanager
def faulty_server() -> Iterator[tuple[SmtpServer, Faulty]]:
    server = SmtpServer()
    handler = server.capture = Faulty()
    server.start()
    try:
        yield server, handler
    finally:
        server.stop()


def on_smtp(runtime: Runtime, server: SmtpServer, **mail: Any) -> Runtime:
    settings = runtime.settings.replace(
        mail=dataclasses.replace(
            runtime.settings.mail,
            backend="smtp",
            smtp_host=server.host,
            smtp_port=server.port,
            **mail,
        )
    )
    return dataclasses.replace(runtime, settings=settings)


def by_message_id(server: SmtpServer) -> collections.Counter[str]:
    return collections.Counter(m.message_id for m in server.messages)


@pytest.mark.parametrize("stage", ["RCPT", "DATA"])
def test_slow_smtp_times_out_backs_off_and_delivers_once(runtime, world, session, stage):
    """The server stalls past smtp_timeout: the relay gives up, backs off, and the retry
    delivers the mail. Stalling before the message (RCPT), it arrives exactly once.

    Stalling after the message (DATA) is the one window no relay can close (RFC 1047): a server
    that takes the message but answers after the relay gave up gets it again. The copy has the
    same Message-ID, so the receiver can recognise it. (aiosmtpd drops a message whose client
    left before the answer, so here it arrives once.)"""
    handed_off(world, at("2026-03-02"))
    rows = outbox(session)
    with faulty_server() as (server, handler):
        rt = on_smtp(runtime, server, smtp_timeout=1, retry_base_seconds=60)
        handler.behave(stage, delay=1.5)
        start = utcnow()
        result = relay(rt, now=start, limit=1)  # one row is enough to show it
        assert (result.sent, result.retried, result.failed) == (0, 1, 0)
        slow = outbox(session)[0]
        assert (slow.status, slow.attempts) == ("pending", 1)
        assert "timed out" in (slow.last_error or "").lower(), slow.last_error
        assert dt.timedelta(seconds=60) <= slow.next_attempt_at - start < dt.timedelta(seconds=90)
        handler.behave()  # fast again
        assert relay(rt, now=utcnow()).sent == len(rows) - 1  # the others; the slow one waits
        result = relay(rt, now=utcnow() + dt.timedelta(seconds=91))
        assert (result.sent, result.retried) == (1, 0)
        server.wait_for(len(rows))
        wait_until(lambda: handler.stalls_over == 1, "the stalled session to end")
        assert relay(rt, now=utcnow() + dt.timedelta(hours=5)).sent == 0
        received = by_message_id(server)
    assert sorted(set(received)) == sorted(r.message_id for r in rows)
    copies = {m.message_id: {(m.to, m.subject, m.text())} for m in server.messages}
    assert all(len(c) == 1 for c in copies.values())  # a copy is the very same mail
    assert {mid for mid, n in received.items() if n > 1} <= (
        set() if stage == "RCPT" else {slow.message_id}
    )
    assert {(r.status, r.last_error) for r in outbox(session)} == {("sent", None)}
    assert next(r for r in outbox(session) if r.id == slow.id).attempts == 2


def test_smtp_4xx_is_retried_then_delivered_once(runtime, world, session):
    handed_off(world, at("2026-03-02"))
    rows = outbox(session)
    with faulty_server() as (server, handler):
        rt = on_smtp(runtime, server, retry_base_seconds=60, max_attempts=8)
        handler.behave("RCPT", reply="451 4.3.0 Mailbox busy, try again later")
        moment = utcnow()
        for attempt in (1, 2):
            result = relay(rt, now=moment)
            assert (result.sent, result.retried, result.failed) == (0, len(rows), 0)
            for row in outbox(session):
                assert (row.status, row.attempts) == ("pending", attempt)
                assert "451" in (row.last_error or "") and "try again later" in row.last_error
            moment = utcnow() + dt.timedelta(seconds=60 * 2 ** (attempt - 1) + 1)
        assert server.messages == []
        handler.behave()
        result = relay(rt, now=moment)
        assert (result.sent, result.retried, result.failed) == (len(rows), 0, 0)
        assert relay(rt, now=moment + dt.timedelta(days=1)).sent == 0
        received = by_message_id(server)
    assert sorted(received) == sorted(r.message_id for r in rows)
    assert set(received.values()) == {1}
    assert {(r.status, r.attempts, r.last_error) for r in outbox(session)} == {("sent", 3, None)}


def test_smtp_5xx_fails_for_good_then_retry_resends_once(committed_runtime):
    """A server that answers 554 to every message: after max_attempts the mails are failed,
    `kflow outbox list --failed` shows them with the server's answer, and `kflow outbox retry`
    sends one of them again, once."""
    rt = committed_runtime
    with committed_world(rt) as world:
        handed_off(world, at("2026-03-02"))
    with rt.transaction(write=False) as s:
        rows = outbox(s)
    env = cli_env(rt)
    with faulty_server() as (server, handler):
        down = on_smtp(rt, server, max_attempts=3, retry_base_seconds=60)
        handler.behave("DATA", reply="554 5.7.1 Message rejected by policy")
        moment = utcnow()
        for attempt in (1, 2, 3):
            result = relay(down, now=moment)
            expected = (0, len(rows), 0) if attempt < 3 else (0, 0, len(rows))
            assert (result.sent, result.retried, result.failed) == expected
            moment = utcnow() + dt.timedelta(seconds=60 * 2 ** (attempt - 1) + 1)
        assert relay(down, now=utcnow() + dt.timedelta(days=30)).failed == 0  # stays failed
        listed = kflow(env, "outbox", "list", "--failed", "--limit", "500").stdout
        lines = {int(line.split()[0]): line for line in listed.splitlines()}
        assert set(lines) == {r.id for r in rows}
        assert all("failed" in line and "554" in line for line in lines.values())
        target = rows[0]
        kflow(env, "outbox", "retry", str(target.id))
        handler.behave()
        result = relay(down, now=utcnow() + dt.timedelta(days=30))
        assert (result.sent, result.failed) == (1, 0)
        assert relay(down, now=utcnow() + dt.timedelta(days=60)).sent == 0
        assert [m.message_id for m in server.messages] == [target.message_id]
    with rt.transaction(write=False) as s:
        statuses = {r.id: (r.status, r.attempts) for r in outbox(s)}
    assert statuses.pop(target.id) == ("sent", 1)
    assert set(statuses.values()) == {("failed", 3)}


# --- The retry at the request boundary, in process -------------------------------------------


@contextlib.contextmanager
def retries_seen() -> Iterator[threading.Event]:
    """An event set as soon as kflow.web.boundary logs that it runs a request again."""
    seen = threading.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "running it again" in record.getMessage():
                seen.set()

    logger = logging.getLogger("kflow.web.boundary")
    watch, level = Watch(), logger.level
    logger.addHandler(watch)
    logger.setLevel(logging.INFO)
    try:
        yield seen
    finally:
        logger.removeHandler(watch)
        logger.setLevel(level)


@dataclasses.dataclass
class Site:
    """An app on a committed database, with an adaptation in `assessing` to move."""

    runtime: Runtime
    engine: sa.Engine
    client: Any
    token: str
    adaptation: int

    def api(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.client.open(f"/api/v1{path}", method=method, json=body, headers=headers)

    def hold(self, **extra: Any) -> Any:
        body = {"trigger": "put_on_hold", "comment": "Inväntar besked", **extra}
        return self.api("POST", f"/regional-adaptations/{self.adaptation}/transitions", body)

    def events(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(CaseEvent.trigger, CaseEvent.to_state)
                .where(CaseEvent.case_id == self.adaptation)
                .order_by(CaseEvent.id)
            )
            return [(t, s) for t, s in rows]

    def titles(self, title: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.scalar(select(func.count()).where(KnowledgeSupport.title == title)) or 0
            )


def make_site(request: pytest.FixtureRequest, rt: Runtime, engine: sa.Engine) -> Site:
    request.addfinalizer(engine.dispose)
    now = at("2026-03-02")
    with committed_world(rt) as world:
        ra = adaptation_at(world, published_ks(world, now), "assessing", now)
        org_users.set_password(world.users["vgr-coordinator"], PASSWORD)
        token = api_tokens.create_token(world.session, world.users["vgr-coordinator"], "faults")[1]
        org_users.grant(
            world.session, world.users["vgr-coordinator"], "chair", world.units["npo-psykisk-halsa"]
        )
    app_rt = Runtime(rt.settings, engine, make_sessionmaker(engine))
    app = create_app(app_rt, config_override={"WTF_CSRF_ENABLED": False})
    return Site(app_rt, engine, app.test_client(), token, ra.id)


# The tests below are about one engine (marked only_on): SQLite's database-wide write lock
# (PostgreSQL has row locks), or cutting PostgreSQL's connections (SQLite has none).
def own_runtime(request: pytest.FixtureRequest, database: Any, backend: str) -> Runtime:
    """``committed_runtime`` on ``backend``, the engine the test is marked ``only_on``."""
    assert database.backend == backend
    rt: Runtime = request.getfixturevalue("committed_runtime")
    return rt


def sqlite_path(rt: Runtime) -> str:
    return rt.settings.resolved_database_url.removeprefix("sqlite:///")


@pytest.mark.only_on("sqlite")
def test_sqlite_locked_database_is_retried_not_answered_503(request, database):
    """Someone else holds SQLite's write lock past the busy timeout (shortened to 50 ms here):
    the request fails with 'database is locked', is run again, and succeeds once the lock is
    free; the client only sees the 200."""
    rt = own_runtime(request, database, "sqlite")
    path = sqlite_path(rt)
    site = make_site(request, rt, make_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05}))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    answers: list[Any] = []
    with retries_seen() as seen:
        worker = threading.Thread(target=lambda: answers.append(site.hold()))
        worker.start()
        try:
            assert seen.wait(timeout=30), "the request was not retried"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        worker.join(timeout=60)
    (answer,) = answers
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["state"] == "on_hold"
    assert site.events()[-2:] == [("start_assessment", "assessing"), ("put_on_hold", "on_hold")]


@pytest.mark.only_on("sqlite")
def test_sqlite_lock_held_throughout_answers_503_and_changes_nothing(request, database):
    rt = own_runtime(request, database, "sqlite")
    path = sqlite_path(rt)
    site = make_site(request, rt, make_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05}))
    before = site.events()
    login = site.client.post(
        "/login", data={"email": "vgr-coordinator@test.se", "password": PASSWORD}
    )
    assert login.status_code == 303
    page = site.client.get(f"/arenden/{site.adaptation}")
    assert page.status_code == 200
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        answer = site.hold()
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "1"
        assert answer.get_json() == {"error": {"code": "unavailable", "message": BUSY}}
        form = {"trigger": "put_on_hold", "comment": "Inväntar", "lock_version": "3"}
        html = site.client.post(f"/arenden/{site.adaptation}/handling", data=form)
        assert html.status_code == 503 and html.headers["Retry-After"] == "1"
        assert BUSY in html.get_data(as_text=True)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert site.events() == before
    assert site.hold().status_code == 200  # free again


@pytest.mark.only_on("postgresql")
def test_postgresql_connections_cut_under_the_app_are_retried(request, database):
    """Every pooled connection of the app is terminated on the server (as a restart would):
    no pre-ping, so the next request's first statement fails; it runs again on a fresh one."""
    rt = own_runtime(request, database, "postgresql")
    name = f"kflow-faults-{time.monotonic_ns()}"
    url = rt.settings.resolved_database_url
    site = make_site(request, rt, make_engine(url, connect_args={"application_name": name}))
    assert site.api("GET", "/me").status_code == 200  # the pool now holds a connection
    with database.engine.connect() as conn:
        cut = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": name},
        ).scalar_one()
        conn.commit()
    assert cut >= 1
    with retries_seen() as seen:
        answer = site.hold()
    assert seen.is_set()
    assert answer.status_code == 200, answer.get_json()
    assert [t for t, _ in site.events()].count("put_on_hold") == 1
    assert site.api("GET", "/me").status_code == 200


@contextlib.contextmanager
def commit_connection_breaks(engine: sa.Engine, *, committed: bool) -> Iterator[list[bool]]:
    """The first COMMIT on ``engine`` loses its connection: before the server got it
    (nothing committed) or, with ``committed``, after the server committed and before the
    answer came back."""
    broke: list[bool] = []

    def on_commit(conn: sa.Connection) -> None:
        if broke:
            return
        broke.append(True)
        raw: Any = conn.connection.dbapi_connection
        if committed:
            raw.execute("COMMIT")
        raw.pgconn.finish()

    event.listen(engine, "commit", on_commit)
    try:
        yield broke
    finally:
        event.remove(engine, "commit", on_commit)


@pytest.mark.only_on("postgresql")
@pytest.mark.parametrize("committed", [False, True], ids=["lost", "committed"])
def test_postgresql_commit_losing_its_connection(request, database, committed):
    """The ambiguous case. A trigger runs again insisting on the version its lost try read:
    applied once either way (200 if the lost try had not committed, 409 conflict if it had).
    Creating a knowledge support has no version to insist on, so it is not run again: 503 with
    a message saying it may have been saved; the row exists once or not at all."""
    rt = own_runtime(request, database, "postgresql")
    url = rt.settings.resolved_database_url
    site = make_site(request, rt, make_engine(url))
    with commit_connection_breaks(site.engine, committed=committed) as broke:
        answer = site.hold()
    assert broke
    holds = [t for t, _ in site.events()].count("put_on_hold")
    assert holds == 1
    if committed:
        assert (answer.status_code, answer.get_json()["error"]["code"]) == (409, "conflict")
    else:
        assert answer.status_code == 200 and answer.get_json()["state"] == "on_hold"
    title = f"Kunskapsstöd {committed}"
    body = {"title": title, "kind": "kliniskt_kunskapsstod", "owner": "npo-psykisk-halsa"}
    with commit_connection_breaks(site.engine, committed=committed) as broke:
        created = site.api("POST", "/knowledge-supports", body)
    assert broke
    assert created.status_code == 503 and created.headers["Retry-After"] == "1"
    assert created.get_json() == {"error": {"code": "unavailable", "message": UNKNOWN}}
    assert site.titles(title) == int(committed)
    assert site.api("POST", "/knowledge-supports", {**body, "title": "Nästa"}).status_code == 201


def test_a_committed_request_is_never_run_again(runtime, world):
    """A hook that runs after the request's COMMIT fails with a transient error: the request is
    not run again (that would apply it twice); the answer is a 500."""
    api = Api(runtime, world)
    failed: list[bool] = []

    @api.app.after_request
    def _fail_once(response: Any) -> Any:
        if flask.request.method == "POST" and not failed:
            failed.append(True)
            raise sqlite3.OperationalError("database is locked")
        return response

    ra = adaptation_at(world, published_ks(world, at("2026-03-02")), "assessing", at("2026-03-02"))
    body = {"trigger": "assign", "params": {"unit": "vgr-rpo-psyk"}}
    headers = {"Authorization": f"Bearer {api.token('vgr-coordinator')}"}
    path = f"/api/v1/regional-adaptations/{ra.id}/transitions"
    answer = api.client.post(path, json=body, headers=headers)
    assert failed and answer.status_code == 500
    world.session.expire_all()
    assigns = world.session.scalars(
        select(CaseEvent.trigger).where(CaseEvent.case_id == ra.id, CaseEvent.trigger == "assign")
    ).all()
    assert assigns == ["assign"]  # once, although assign may be fired again from here
    assert api.client.post(path, json=body, headers=headers).status_code == 200


# --- PostgreSQL restarted under kflow serve and kflow scheduler ------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[pgcluster.PrivateCluster]:
    problem = pgcluster.problem()
    if problem:
        pytest.skip(f"no private PostgreSQL cluster for the restart tests: {problem}")
    with pgcluster.private_cluster() as made:
        yield made


def cluster_runtime(cluster: pgcluster.PrivateCluster, name: str, **settings: Any) -> Runtime:
    admin = sa.create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = cluster.url.rsplit("/", 1)[0] + f"/{name}"
    rt = Runtime.create(make_settings(database_url=url, **settings))
    upgrade(rt.engine)
    with rt.transaction() as s:
        seed(s, rt.settings.organisation_path)
    return rt


@dataclasses.dataclass
class Sent:
    kind: str  # "read", "move", "create"
    after_restart: bool
    status: int
    body: Any
    title: str | None = None
    case_id: int | None = None


class Stream(threading.Thread):
    """One client: reads its own adaptation, moves it (hold or resume, with the version it
    read), and now and then creates a knowledge support; until told to stop."""

    def __init__(
        self,
        served: Any,
        number: int,
        adaptation: int,
        tokens: dict[str, str],
        restarted: threading.Event,
        stop: threading.Event,
    ) -> None:
        super().__init__(daemon=True)
        self.served, self.number, self.adaptation = served, number, adaptation
        self.tokens, self.restarted, self.stop = tokens, restarted, stop
        self.sent: list[Sent] = []
        self.error: BaseException | None = None

    def record(self, kind: str, answer: Any, after: bool, **extra: Any) -> None:
        self.sent.append(Sent(kind, after, answer.status, answer.body, **extra))

    def run(self) -> None:
        try:
            path = f"/api/v1/regional-adaptations/{self.adaptation}"
            mover = self.tokens["skane-coordinator" if self.number % 2 else "vgr-coordinator"]
            step = 0
            while not self.stop.is_set():
                step += 1
                after = self.restarted.is_set()
                read = self.served.call("GET", path, mover)
                self.record("read", read, after, case_id=self.adaptation)
                if read.status == 200:
                    on_hold = read.body["state"] == "on_hold"
                    body = {
                        "trigger": "resume" if on_hold else "put_on_hold",
                        "comment": "Väntar",
                        "lock_version": read.body["lock_version"],
                    }
                    moved = self.served.call("POST", f"{path}/transitions", mover, body)
                    self.record("move", moved, after, case_id=self.adaptation)
                if step % 3 == 0:
                    title = f"Omstart {self.number}-{step}"
                    body = {"title": title, "kind": "rapport", "owner": "npo-psykisk-halsa"}
                    made = self.served.call(
                        "POST", "/api/v1/knowledge-supports", self.tokens["npo-chair"], body
                    )
                    self.record("create", made, after, title=title)
        except BaseException as exc:  # reported by the test
            self.error = exc


def test_postgresql_restart_under_gunicorn(cluster, tmp_path):
    """Four clients keep reading, moving and creating through `kflow serve` (4 workers) while
    PostgreSQL restarts. Answers during the outage are 2xx, 409 or 503, never 500; every answer
    after the restart is a success, without restarting kflow; every success is in the database
    and nothing is there twice."""
    rt = cluster_runtime(cluster, "kflow_serve")
    now = at("2026-03-02")
    with committed_world(rt) as world:
        adaptations = []
        for _ in range(2):
            ks = published_ks(world, now)
            adaptations.append(adaptation_at(world, ks, "assessing", now).id)
            skane = world.adaptation(ks, "skane")
            world.fire(skane, "start_assessment", "skane-coordinator", now=now)
            adaptations.append(skane.id)
        users = ("vgr-coordinator", "skane-coordinator", "npo-chair")
        tokens = {
            u: api_tokens.create_token(world.session, world.users[u], "restart")[1] for u in users
        }
    restarted, stop = threading.Event(), threading.Event()
    with serving(cli_env(rt), tmp_path / "serve.log", workers=4) as served:
        # Adaptations alternate vgr, skane: stream n moves adaptation n as its coordinator.
        streams = [Stream(served, n, adaptations[n], tokens, restarted, stop) for n in range(4)]
        for stream in streams:
            stream.start()
        try:
            wait_until(lambda: all(len(s.sent) >= 6 for s in streams), "the streams began")
            cluster.restart()
            restarted.set()
            wait_until(
                lambda: all(sum(x.after_restart for x in s.sent) >= 9 for s in streams),
                "requests after the restart",
            )
        finally:
            stop.set()
            for stream in streams:
                stream.join(timeout=120)
        assert [s.error for s in streams] == [None] * 4
        # Without restarting kflow, a last round: every request succeeds.
        final = [served.call("GET", "/api/v1/inbox", tokens["vgr-coordinator"]) for _ in range(8)]
        assert {a.status for a in final} == {200}
        log = served.log()
    sent = [x for s in streams for x in s.sent]
    statuses = collections.Counter((x.kind, x.status) for x in sent)
    assert not [x for x in sent if x.status >= 500 and x.status != 503], statuses
    assert {x.status for x in sent} <= {200, 201, 409, 503}, statuses
    after = [x for x in sent if x.after_restart]
    assert {x.status for x in after} <= {200, 201}, collections.Counter(x.status for x in after)
    assert "Traceback" not in log, log[-4000:]
    assert "running it again" in log  # requests met the dead connections and were retried
    rt.engine.dispose()  # this process's own pooled connections died with the restart
    with rt.transaction(write=False) as s:
        # Every created knowledge support answered 201 is there; no title twice.
        titles = collections.Counter(
            s.scalars(
                select(KnowledgeSupport.title).where(KnowledgeSupport.title.like("Omstart %"))
            )
        )
        assert set(titles.values()) <= {1}
        made = {x.title for x in sent if x.kind == "create" and x.status == 201}
        assert made and made <= set(titles)
        unanswered = {x.title for x in sent if x.kind == "create" and x.status != 201}
        assert set(titles) <= made | unanswered
        # Every 200 move is the history row of the version it answered; one chain per case.
        for case_id in adaptations:
            chain = list(
                s.scalars(
                    select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
                )
            )
            case = s.get(Case, case_id)
            assert case is not None and len(chain) == case.lock_version
            for before, later in itertools.pairwise(chain):
                assert later.from_state == before.to_state
            assert chain[-1].to_state == case.state
            moves = [x for x in sent if x.kind == "move" and x.case_id == case_id]
            for x in moves:
                if x.status == 200:
                    assert chain[x.body["lock_version"] - 1].to_state == x.body["state"]
            ok = sum(x.status == 200 for x in moves)
            assert ok <= len(chain) - 2 <= ok + sum(x.status != 200 for x in moves)
    print(f"answers: {dict(statuses)}")


def wait_until(condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_postgresql_restart_under_the_scheduler(cluster, tmp_path):
    """`kflow scheduler` (relay every second) keeps running across the restart and relays the
    mail of a hand-off made afterwards; every mail arrives once."""
    rt = cluster_runtime(cluster, "kflow_scheduler")
    now = at("2026-03-02")
    with committed_world(rt) as world:
        handed_off(world, now)
        ra = adaptation_at(world, published_ks(world, now), "adopted", now)
    with faulty_server() as (server, _):
        env = cli_env(
            rt, KFLOW_REMINDERS__DIGEST="false", KFLOW_REMINDERS__RELAY_SECONDS="1", **server.env()
        )
        process = start_kflow(env, "scheduler")
        try:
            wait_until(lambda: pending(rt) == 0 and len(server.messages) == total(rt), "relay")
            cluster.restart()
            rt.engine.dispose()  # this process's own connections died too
            with rt.transaction() as s:  # the hand-off, as the service does it for the API
                case = s.get(Case, ra.id)
                coordinator = s.scalar(select(User).where(User.email == "vgr-coordinator@test.se"))
                assert case is not None and coordinator is not None
                params = {"units": ["vgr-psyk-1"]}
                auth = Authority(s, Actor(coordinator))
                fire(s, auth, case, "hand_off", settings=rt.settings, params=params)
            assert pending(rt) > 0
            wait_until(lambda: pending(rt) == 0 and len(server.messages) == total(rt), "relay")
            time.sleep(1.5)  # another relay round: nothing more may come
            assert process.poll() is None, "the scheduler stopped"
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
        received = by_message_id(server)
    assert process.returncode == 0, err
    assert "Traceback" not in err, err[-4000:]
    with rt.transaction(write=False) as s:
        rows = {
            m: status for m, status in s.execute(select(OutboxMail.message_id, OutboxMail.status))
        }
    assert set(rows.values()) == {"sent"}
    assert received == collections.Counter(set(rows))  # each mail once
    assert any(m.subject.startswith("Nytt ärende: Lokalt införande") for m in server.messages)


def pending(rt: Runtime) -> int:
    with rt.engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count()).select_from(OutboxMail).where(OutboxMail.status != "sent")
            )
            or 0
        )


def total(rt: Runtime) -> int:
    with rt.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(OutboxMail)) or 0)


def test_scheduler_jobs_recover_at_their_next_run(cluster, caplog):
    """The jobs in process: after the restart the first job finds its pooled connection dead,
    logs one warning and ends; the next runs work (new rungs, mail sent)."""
    rt = cluster_runtime(cluster, "kflow_jobs", reminders={"digest": False})
    with faulty_server() as (server, _):
        rt = on_smtp(rt, server)
        scheduler.build(rt)
        for job in (scheduler.sweep_job, scheduler.digest_job, scheduler.relay_job):
            job()  # warm: the pool now holds connections
        cluster.restart()
        caplog.set_level(logging.WARNING, logger="kflow.jobs.scheduler")
        for job in (scheduler.sweep_job, scheduler.digest_job, scheduler.relay_job):
            job()  # must not raise
        # The first met the dead pool (SQLAlchemy then drops every connection made before).
        assert caplog.messages[0].startswith("sweep_job: database unavailable"), caplog.messages
        # Work that comes after the restart: a hand-off long overdue.
        with committed_world(rt) as world:
            _, li, _ = handed_off(world, utcnow() - dt.timedelta(days=60))
        scheduler.sweep_job()
        with rt.transaction(write=False) as s:
            rungs = s.scalars(select(Reminder.rung).where(Reminder.case_id == li.id)).all()
        assert rungs == ["escalated"]
        scheduler.relay_job()
        assert pending(rt) == 0
        received = by_message_id(server)
    assert received and set(received.values()) == {1}
    assert any(m.subject.startswith("Påminnelse") for m in server.messages)
