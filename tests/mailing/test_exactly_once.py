"""Exactly once with real processes: parallel `kflow remind` runs, SIGKILL mid-sweep and
mid-relay, two `kflow scheduler` processes at once; on SQLite and PostgreSQL, with a real SMTP
server in this process. What arrives at the server is what counts.

The one window no design can close is SMTP accepting a mail and the relay dying before it
records that: the mail is sent again after the lease, with the same Message-ID. So a relay
killed mid-run may leave at most one repeated Message-ID per kill; every other mail, and every
(case, rung, recipient), arrives exactly once.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import signal
import time

import pytest
from sqlalchemy import func, select, text, update

from kflow.db import utcnow
from kflow.jobs.relay import relay
from kflow.mailing.models import Notification, OutboxMail, Reminder
from kflow.mailing.outbox import lease
from kflow.org import units as org_units
from kflow.org import users as org_users
from tests.support.processes import cli_env, committed_world, start_kflow
from tests.support.smtp import running_server
from tests.support.timeline import adaptation_at, at, published_ks

pytestmark = pytest.mark.slow
RUNG_DAYS = {"upcoming": "2026-03-09", "due": "2026-03-16", "overdue": "2026-03-23"}
RUNG_DAYS["escalated"] = "2026-04-08"
RUNG_RECIPIENTS = {
    "upcoming": {"lag-lead@test.se"},
    "due": {"lag-lead@test.se"},
    "overdue": {"lag-lead@test.se", "vgr-lead@test.se"},
    "escalated": {"lag-lead@test.se", "vgr-lead@test.se", "vgr-chair@test.se"},
}


def many_cases(runtime, supports: int, units: int, now: dt.datetime) -> list[int]:
    """``supports`` knowledge supports, each handed off by vgr to the same ``units`` local
    units of one local group whose only local lead is lag-lead: supports x units cases."""
    with committed_world(runtime) as world:
        s = world.session
        group = org_units.create_unit(
            s, "vgr-lag", "Lokal arbetsgrupp VGR", "regional_group", world.units["vgr"]
        )
        codes = [f"lag-enhet-{i:04d}" for i in range(units)]
        for code in codes:
            org_units.create_unit(s, code, f"Vårdenhet {code[-4:]}", "local_unit", group)
        lead = org_users.create_user(s, "lag-lead@test.se", "Åsa Öberg")
        s.flush()
        org_users.grant(s, lead, "local_lead", group)
        for _ in range(supports):
            ra = adaptation_at(world, published_ks(world, now), "adopted", now)
            world.fire(ra, "hand_off", "vgr-coordinator", params={"units": codes}, now=now)
        s.flush()
        ids = list(s.scalars(text("SELECT id FROM cases WHERE type = 'local_implementation'")))
    assert len(ids) == supports * units
    return ids


def count(runtime, stmt) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def reminders(runtime, rung: str) -> int:
    return count(runtime, select(func.count()).select_from(Reminder).where(Reminder.rung == rung))


def kill_when(process, condition, timeout: float = 60) -> None:
    """SIGKILL ``process`` as soon as ``condition()`` holds (it must still be running)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"finished before the kill: {process.communicate()}"
        assert time.monotonic() < deadline, "the condition never came"
        time.sleep(0.003)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def run_all(env, *moments: str) -> list[str]:
    """`kflow remind --now M` for every moment, all at once; each must succeed."""
    processes = [start_kflow(env, "remind", "--now", moment) for moment in moments]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        outputs.append(out)
    return outputs


def reminder_mails(server):
    """What the server received apart from hand-off mails."""
    return [m for m in server.messages if m.subject.startswith("Påminnelse")]


def delivered(messages) -> tuple[collections.Counter, collections.Counter]:
    """(how often each Message-ID arrived, how often each (recipient, rung, case) arrived
    counting each Message-ID once)."""
    by_id = collections.Counter(m.message_id for m in messages)
    items: collections.Counter = collections.Counter()
    seen: set[str] = set()
    for m in messages:
        if m.message_id not in seen:
            seen.add(m.message_id)
            items.update((m.to, rung, case) for rung, case in m.items())
    return by_id, items


def expected_items(case_ids, rungs=RUNG_RECIPIENTS):
    return collections.Counter(
        (to, rung, case) for rung, people in rungs.items() for to in people for case in case_ids
    )


def test_parallel_runs_and_a_sweep_killed_midway_send_each_rung_once(committed_runtime):
    """Daily digests (the default); 800 cases, so a sweep spans two batches."""
    rt = committed_runtime
    case_ids = many_cases(rt, supports=4, units=200, now=at("2026-03-02"))
    total = len(case_ids)
    with running_server() as server:
        env = cli_env(rt, **server.env())
        # Upcoming: one run alone, killed once its first batch has committed.
        lone = start_kflow(env, "remind", "--now", "2026-03-09T07:30")
        kill_when(lone, lambda: reminders(rt, "upcoming") > 0)
        partial = reminders(rt, "upcoming")
        assert 0 < partial < total, f"not killed mid-sweep: {partial} of {total}"
        # Restarted as two parallel runs; then the other rungs, alone or two at a time.
        run_all(env, "2026-03-09T07:30", "2026-03-09T07:30")
        assert reminders(rt, "upcoming") == total
        # No run on the due date (16 March): the scheduler was down, only overdue is sent.
        run_all(env, "2026-03-23T07:30", "2026-03-23T07:31")
        run_all(env, "2026-04-08T07:30", "2026-04-08T07:30")
        # Anything that fell due after a day's digest went out comes in the next one.
        run_all(env, "2026-04-09T07:30")
        digests = reminder_mails(server)
        run_all(env, "2026-04-10T08:00")
        late = reminder_mails(server)
    assert late == digests, "a repeated run sent something"
    by_id, items = delivered(digests)
    assert max(by_id.values()) == 1  # no mail arrived twice
    sent_rungs = {r: p for r, p in RUNG_RECIPIENTS.items() if r != "due"}
    assert items == expected_items(case_ids, sent_rungs)  # each (recipient, rung, case) once
    to_lead = [m for m in digests if m.to == "lag-lead@test.se"]
    assert all(m.text().startswith("Hej Åsa Öberg,") for m in to_lead)
    per_person = collections.Counter(m.to for m in digests)
    assert set(per_person) == {"lag-lead@test.se", "vgr-lead@test.se", "vgr-chair@test.se"}
    assert per_person["lag-lead@test.se"] <= 5  # at most one a day, over five days
    with rt.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Reminder)) == 3 * total
        waiting = select(func.count()).select_from(Notification)
        assert s.scalar(waiting.where(Notification.digest_key.is_(None))) == 0
        assert s.scalar(waiting) == sum(len(p) for p in sent_rungs.values()) * total
        keys = list(
            s.scalars(
                select(OutboxMail.idempotency_key).where(
                    OutboxMail.idempotency_key.like("digest:%")
                )
            )
        )
        assert len(keys) == len(digests)
        statuses = set(s.scalars(select(OutboxMail.status)))
    assert statuses == {"sent"}


def test_a_relay_killed_midway_loses_and_doubles_nothing(committed_runtime):
    """One mail per rung (reminders.digest = false); the relay is killed after the first
    mails arrive, restarted twice in parallel and later drained past the lease."""
    rt = committed_runtime
    case_ids = many_cases(rt, supports=1, units=80, now=at("2026-03-02"))
    with running_server() as server:
        env = cli_env(rt, KFLOW_REMINDERS__DIGEST="false", **server.env())
        lone = start_kflow(env, "remind", "--now", "2026-03-09T07:30")
        kill_when(lone, lambda: len(reminder_mails(server)) >= 10)
        assert len(reminder_mails(server)) < len(case_ids), "not killed mid-relay"
        outputs = run_all(env, "2026-03-09T07:30", "2026-03-09T07:45")
        assert all("0 reminder rungs" in out for out in outputs)  # the sweep had finished
        # A claim left by the killed relay is taken over once its lease has run out (on the
        # real clock: the claim is made older).
        with_smtp = dataclasses.replace(
            rt,
            settings=rt.settings.replace(
                mail=dataclasses.replace(
                    rt.settings.mail, smtp_host=server.host, smtp_port=server.port
                )
            ),
        )
        with rt.transaction() as s:
            s.execute(
                update(OutboxMail)
                .where(OutboxMail.status == "sending")
                .values(claimed_at=utcnow() - lease(rt.settings) - dt.timedelta(seconds=1))
            )
        relay(with_smtp)
        messages = reminder_mails(server)
    by_id, items = delivered(messages)
    repeated = [mid for mid, n in by_id.items() if n > 1]
    assert len(repeated) <= 1 and max(by_id.values()) <= 2, repeated
    for mid in repeated:  # the crash window: the very same mail, recognisable by its id
        copies = {(m.to, m.subject, m.text()) for m in messages if m.message_id == mid}
        assert len(copies) == 1
    assert items == expected_items(case_ids, {"upcoming": RUNG_RECIPIENTS["upcoming"]})
    assert all(m.subject.startswith("Påminnelse: ") for m in messages)
    with rt.transaction(write=False) as s:
        rows = s.execute(select(OutboxMail.status, OutboxMail.message_id)).all()
    assert {status for status, _ in rows} == {"sent"}
    assert set(by_id) <= {mid for _, mid in rows}


def test_two_scheduler_processes_at_once(committed_runtime):
    """`kflow scheduler` twice, on the real clock: the sweep and relay jobs run at start."""
    rt = committed_runtime
    handed = utcnow() - dt.timedelta(days=60)  # long overdue: only the escalation is sent
    case_ids = many_cases(rt, supports=1, units=40, now=handed)
    with running_server() as server:
        env = cli_env(
            rt,
            KFLOW_REMINDERS__DIGEST="false",
            KFLOW_REMINDERS__RELAY_SECONDS="1",
            **server.env(),
        )
        schedulers = [start_kflow(env, "scheduler") for _ in range(2)]
        expected = expected_items(case_ids, {"escalated": RUNG_RECIPIENTS["escalated"]})
        try:
            deadline = time.monotonic() + 60
            while sum(expected.values()) > sum(delivered(reminder_mails(server))[1].values()):
                assert all(p.poll() is None for p in schedulers), "a scheduler stopped"
                assert time.monotonic() < deadline, "the schedulers did not deliver in time"
                time.sleep(0.1)
            time.sleep(1.5)  # another relay round: nothing further may come
        finally:
            for process in schedulers:
                process.send_signal(signal.SIGTERM)
            outputs = [p.communicate(timeout=30) for p in schedulers]
        messages = reminder_mails(server)
    assert [p.returncode for p in schedulers] == [0, 0], outputs
    by_id, items = delivered(messages)
    assert max(by_id.values()) == 1
    assert items == expected
    assert any("kflow scheduler started" in err for _, err in outputs)
