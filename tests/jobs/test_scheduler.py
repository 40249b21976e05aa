"""`kflow scheduler`: three fixed jobs, Europe/Stockholm, coalescing, never more than one run.

kflow.jobs.scheduler.build() returns the BlockingScheduler unstarted; to see the jobs as APScheduler
really holds them (defaults applied) it is started paused in a thread and shut down again.
Running schedulers are tested with real processes in tests/mailing/test_exactly_once.py.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from kflow.calendar import STOCKHOLM
from kflow.jobs.digests import digest_due
from kflow.jobs.scheduler import build
from kflow.runtime import Runtime
from tests.conftest import make_settings

UTC = dt.UTC
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def scheduler_runtime(tmp_path):
    rt = Runtime.create(make_settings(database_url=f"sqlite:///{tmp_path / 'scheduler.db'}"))
    yield rt
    rt.engine.dispose()


def started_paused(scheduler):
    """Start ``scheduler`` paused in a thread (it blocks); return the thread."""
    thread = threading.Thread(target=scheduler.start, kwargs={"paused": True}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not scheduler.running:
        assert time.monotonic() < deadline, "the scheduler did not start"
        time.sleep(0.01)
    return thread


def test_build_makes_four_fixed_jobs_and_a_start_up_and_does_not_start(scheduler_runtime):
    scheduler = build(scheduler_runtime)
    assert not scheduler.running
    assert str(scheduler.timezone) == "Europe/Stockholm"
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"start_up", "sweep", "digests", "relay", "statistics"}
    assert {job.func_ref for job in jobs.values()} == {
        "kflow.jobs.scheduler:start_up_job",
        "kflow.jobs.scheduler:sweep_job",
        "kflow.jobs.scheduler:digest_job",
        "kflow.jobs.scheduler:relay_job",
        "kflow.jobs.scheduler:statistics_job",
    }
    thread = started_paused(scheduler)
    try:
        for job in scheduler.get_jobs():
            assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, None)
        now = dt.datetime.now(UTC)
        # The start-up job runs at once: the sweep, then the digests (catching up on a 07:00
        # missed while the scheduler was down; at most one a day), then the relay, in order.
        first = scheduler.get_job("start_up").next_run_time
        assert abs(first - now) < dt.timedelta(minutes=1)
        assert scheduler.get_job("statistics").next_run_time - now < dt.timedelta(minutes=1)
        # After it, the sweep and the relay keep their intervals.
        for job_id, interval in (("sweep", dt.timedelta(minutes=15)), ("relay", 60 * SECOND)):
            gap = scheduler.get_job(job_id).next_run_time - now
            assert interval - dt.timedelta(seconds=5) < gap <= interval + SECOND, job_id
        # After that, digests follow their cron: 07:00 Stockholm on weekdays.
        digest_next = scheduler.get_job("digests").trigger.get_next_fire_time(None, now)
        local = digest_next.astimezone(STOCKHOLM)
        assert (local.hour, local.minute, local.second) == (7, 0, 0)
        assert local.weekday() < 5 and digest_next > now
    finally:
        scheduler.shutdown(wait=False)
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_intervals_come_from_the_configuration(tmp_path):
    settings = make_settings(
        database_url=f"sqlite:///{tmp_path / 's.db'}",
        reminders={"sweep_minutes": 5, "relay_seconds": 20, "digest_hour": 8},
    )
    rt = Runtime.create(settings)
    jobs = {job.id: job for job in build(rt).get_jobs()}
    assert isinstance(jobs["sweep"].trigger, IntervalTrigger)
    assert jobs["sweep"].trigger.interval == dt.timedelta(minutes=5)
    assert jobs["relay"].trigger.interval == dt.timedelta(seconds=20)
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=STOCKHOLM)
    fire = jobs["digests"].trigger.get_next_fire_time(None, start)
    assert fire == dt.datetime(2026, 3, 3, 8, 0, tzinfo=STOCKHOLM)
    rt.engine.dispose()


def fire_times(trigger, start: dt.datetime, count: int) -> list[dt.datetime]:
    times, moment = [], start
    for _ in range(count):
        moment = trigger.get_next_fire_time(None, moment)
        times.append(moment)
        moment += dt.timedelta(seconds=1)
    return times


def test_digest_job_fires_at_seven_stockholm_across_dst(scheduler_runtime):
    trigger = build(scheduler_runtime).get_job("digests").trigger
    assert isinstance(trigger, CronTrigger)
    assert str(trigger.timezone) == "Europe/Stockholm"
    # Spring forward on Sunday 29 March 2026: 07:00 is 06:00 UTC before, 05:00 UTC after.
    spring = fire_times(trigger, dt.datetime(2026, 3, 26, 8, 0, tzinfo=STOCKHOLM), 3)
    assert [t.astimezone(UTC) for t in spring] == [
        dt.datetime(2026, 3, 27, 6, 0, tzinfo=UTC),
        dt.datetime(2026, 3, 30, 5, 0, tzinfo=UTC),
        dt.datetime(2026, 3, 31, 5, 0, tzinfo=UTC),
    ]
    # Fall back on Sunday 25 October 2026.
    autumn = fire_times(trigger, dt.datetime(2026, 10, 22, 8, 0, tzinfo=STOCKHOLM), 3)
    assert [t.astimezone(UTC) for t in autumn] == [
        dt.datetime(2026, 10, 23, 5, 0, tzinfo=UTC),
        dt.datetime(2026, 10, 26, 6, 0, tzinfo=UTC),
        dt.datetime(2026, 10, 27, 6, 0, tzinfo=UTC),
    ]
    for moment in spring + autumn:
        local = moment.astimezone(STOCKHOLM)
        assert (local.hour, local.minute) == (7, 0) and local.weekday() < 5


def test_digests_go_out_on_working_days_only(scheduler_runtime):
    """The cron fires Monday to Friday; on a holiday the digest job finds nothing due, so the
    digests of Easter week 2026 go out on Mon 30 Mar - Thu 2 Apr and Tue 7 Apr onwards."""
    trigger = build(scheduler_runtime).get_job("digests").trigger
    week = fire_times(trigger, dt.datetime(2026, 3, 29, 12, 0, tzinfo=STOCKHOLM), 8)
    sent = [
        t.astimezone(STOCKHOLM).date().isoformat() for t in week if digest_due(t, scheduler_runtime)
    ]
    assert sent == [
        "2026-03-30",
        "2026-03-31",
        "2026-04-01",
        "2026-04-02",
        "2026-04-07",
        "2026-04-08",
    ]
