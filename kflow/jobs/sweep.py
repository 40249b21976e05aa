"""The reminder sweep (`kflow remind`, the scheduler every few minutes): the follow-up reports
of a period that has just ended, then due automatic triggers, then every reminder rung that has
come, one batch per transaction (kflow.mailing.reminders says what a batch does and why it
happens exactly once)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from kflow.jobs.reports import open_period_reports
from kflow.jobs.timers import fire_timers
from kflow.mailing.reminders import sweep_batch
from kflow.runtime import Runtime


@dataclasses.dataclass
class SweepResult:
    # "case_type.trigger" -> how many cases the system moved by a Timer
    timers: dict[str, int] = dataclasses.field(default_factory=dict)
    rungs: int = 0
    reports_opened: int = 0  # follow-up reports opened for a period that ended
    notifications: int = 0
    mails: int = 0

    @property
    def closed_consultations(self) -> int:
        return self.timers.get("knowledge_support.close_consultation", 0)


def sweep(runtime: Runtime, now: dt.datetime) -> SweepResult:
    """Open the reports of a period that ended, fire due automatic triggers, then every
    reminder rung that has come."""
    opened = open_period_reports(runtime, now)
    result = SweepResult(timers=fire_timers(runtime, now), reports_opened=opened)
    after: tuple[dt.date, int] | None = None
    while True:
        with runtime.transaction() as session:
            batch = sweep_batch(session, runtime.settings, now, after)
            result.rungs += batch.rungs
            result.notifications += batch.notifications
            result.mails += batch.mails
            after = batch.after
        if after is None:
            break
    return result
