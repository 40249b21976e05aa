"""Opening each period's follow-up reports (lifecycle.md §6.6) in a unit of work of its own:
part of every sweep (kflow.jobs.sweep), so the scheduler and `kflow remind` both do it. Outside
a reporting window it reads nothing; inside one it creates only the reports still missing."""

from __future__ import annotations

import datetime as dt

from kflow.calendar import local_date
from kflow.followup.reports import open_reports
from kflow.runtime import Runtime


def open_period_reports(runtime: Runtime, now: dt.datetime) -> int:
    """Open the reports of the periods that have just ended; how many were created."""
    with runtime.transaction() as session:
        return len(open_reports(session, local_date(now), runtime.settings, now))
