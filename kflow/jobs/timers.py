"""Automatic triggers: the system fires each trigger declared with a ``Timer`` on the day it
names (``Timer.fires_on``: the first working day after the date in its column, or some business
days after it; a consultation closes the day after its deadline, say). Part of the sweep
(kflow.jobs.sweep); each case is fired in a transaction of its own."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.calendar import local_date
from kflow.cases.models import Case
from kflow.config import Settings
from kflow.engine.authority import SYSTEM, Authority
from kflow.engine.fire import fire
from kflow.errors import KflowError
from kflow.runtime import Runtime
from kflow.states import MACHINES
from kflow.states.base import Trigger

log = logging.getLogger(__name__)


def fire_timers(runtime: Runtime, now: dt.datetime) -> dict[str, int]:
    """Fire every timer that has come; "case_type.trigger" -> how many cases it moved."""
    fired: dict[str, int] = {}
    today = local_date(now)
    for machine in MACHINES.values():
        for spec in machine.triggers.values():
            if spec.timer is not None:
                _fire_timer(runtime, now, today, machine.case_type, spec, fired)
    return fired


def _fire_timer(
    runtime: Runtime,
    now: dt.datetime,
    today: dt.date,
    case_type: str,
    spec: Trigger,
    fired: dict[str, int],
) -> None:
    with runtime.transaction(write=False) as session:
        candidates = _candidates(session, case_type, spec, today)
    assert spec.timer is not None
    for case_id, day in candidates:
        if today < spec.timer.fires_on(day, runtime.settings):
            continue
        try:
            with runtime.transaction() as session:
                if not _fire_one(session, runtime.settings, now, case_id, spec):
                    continue  # another scheduler got there first
            key = f"{case_type}.{spec.name}"
            fired[key] = fired.get(key, 0) + 1
        except KflowError as exc:  # a parallel sweep fired it between our read and write
            log.info("%s %s: not fired by this sweep: %s", spec.name, case_id, exc.message)


def _candidates(
    session: Session, case_type: str, spec: Trigger, today: dt.date
) -> list[tuple[int, dt.date]]:
    """(case id, the timer's date) of the cases in a source state whose date has passed."""
    assert spec.timer is not None
    column = Case.__table__.c[spec.timer.column]
    rows = session.execute(
        select(Case.id, column).where(
            Case.type == case_type, Case.state.in_(sorted(spec.sources)), column < today
        )
    ).all()
    return [(case_id, day) for case_id, day in rows]


def _fire_one(
    session: Session, settings: Settings, now: dt.datetime, case_id: int, spec: Trigger
) -> bool:
    """Fire ``spec`` on the case as the system; False if it has left the trigger's sources."""
    case = session.get(Case, case_id)
    if case is None or case.state not in spec.sources:
        return False
    fire(session, Authority(session, SYSTEM), case, spec.name, settings=settings, now=now)
    return True
