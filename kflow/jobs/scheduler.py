"""The scheduler (`kflow scheduler`): APScheduler 3 in a process of its own, never in web workers.

Jobs only look for work; the database decides what has been done, so a second scheduler, a
restart or a late run can never send anything twice (see kflow.mailing.reminders and outbox).
Each job calls one of kflow.jobs' units of work. No job store table: the jobs are fixed, defined
here, with fixed ids.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler

from kflow.calendar import STOCKHOLM
from kflow.db import utcnow
from kflow.jobs.digests import build_digests
from kflow.jobs.relay import relay
from kflow.jobs.statistics import refresh_statistics
from kflow.jobs.sweep import sweep
from kflow.runtime import Runtime, settle_heap
from kflow.transient import driver_error, is_transient

log = logging.getLogger(__name__)
_runtime: Runtime | None = None


def _rt() -> Runtime:
    assert _runtime is not None, "scheduler not started"
    return _runtime


def _survives_outages(job: Callable[[], None]) -> Callable[[], None]:
    """A job that meets a transient database error (PostgreSQL restarting, SQLite busy) logs
    one line and ends; the next run starts afresh, on a new connection. Each job's work is
    idempotent and committed in small transactions, so nothing is lost or done twice. Other
    errors reach APScheduler, which logs them with their traceback; the scheduler runs on."""

    @functools.wraps(job)
    def run() -> None:
        try:
            job()
        except Exception as exc:
            if not is_transient(exc):
                raise
            orig = driver_error(exc) or exc
            reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
            log.warning(
                "%s: database unavailable (%s); trying at the next run", job.__name__, reason
            )

    return run


@_survives_outages
def sweep_job() -> None:
    result = sweep(_rt(), utcnow())
    log.info("Sweep: %s", result)


@_survives_outages
def digest_job() -> None:
    log.info("Digests: %s built", build_digests(_rt(), utcnow()))


@_survives_outages
def start_up_job() -> None:
    """At start-up, in order: the sweep, the digests (catching up on the last working day's
    if today's is not due yet) and the relay, so what waits is in the outbox and sent within
    the first minute (`make run` shows a reminder and a digest in instance/outbox/)."""
    now = utcnow()
    log.info("Start-up sweep: %s", sweep(_rt(), now))
    log.info("Start-up digests: %s built", build_digests(_rt(), now, catch_up=True))
    log.info("Start-up relay: %s", relay(_rt()))


@_survives_outages
def relay_job() -> None:
    result = relay(_rt())
    if result.sent or result.retried or result.failed:
        log.info("Relay: %s", result)


@_survives_outages
def statistics_job() -> None:
    refresh_statistics(_rt())
    log.info("Planner statistics refreshed")


def build(runtime: Runtime) -> BlockingScheduler:
    global _runtime
    _runtime = runtime
    reminders = runtime.settings.reminders
    scheduler = BlockingScheduler(
        timezone=STOCKHOLM,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    now = utcnow()
    # At start-up the sweep, the digests and the relay run once, in that order (start_up_job):
    # a scheduler that was down at 07:00 catches up (the last working day's digest if today's
    # is not due yet); a second run the same day sends nothing twice (one digest per person
    # and day). Then each keeps its own schedule.
    scheduler.add_job(start_up_job, "date", run_date=now, id="start_up")
    scheduler.add_job(sweep_job, "interval", minutes=reminders.sweep_minutes, id="sweep")
    # Digests at digest_hour on weekdays (build_digests skips holidays).
    scheduler.add_job(
        digest_job, "cron", day_of_week="mon-fri", hour=reminders.digest_hour, id="digests"
    )
    scheduler.add_job(relay_job, "interval", seconds=reminders.relay_seconds, id="relay")
    # SQLite keeps no statistics by itself; refresh them nightly (and at start-up).
    scheduler.add_job(statistics_job, "cron", hour=3, minute=30, id="statistics", next_run_time=now)
    return scheduler


def run(runtime: Runtime) -> None:
    scheduler = build(runtime)
    settle_heap()

    def _stop(*_: Any) -> None:
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, _stop)
    log.info("kflow scheduler started (Europe/Stockholm): %s", [j.id for j in scheduler.get_jobs()])
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
