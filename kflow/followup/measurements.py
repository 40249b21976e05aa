"""Reporting and correcting measurements (lifecycle.md §6.2).

A measurement is (indicator, unit, period, value; numerator and denominator for a ratio;
comment). Rows are only ever added: a report for a (indicator, unit, period) that already has a
value, or an explicit correction, appends a row that supersedes the current one, which keeps its
value and gets ``superseded_at``. A report on a unit with a local implementation of the
indicator's knowledge support is linked to it (``case_id``), so the implementation's timeline
shows it; in ``following_up`` it moves the next measurement's due date a year on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kflow.calendar import local_date
from kflow.cases.models import LocalImplementation
from kflow.config import Settings
from kflow.db import utcnow
from kflow.engine.authority import Authority
from kflow.engine.deadlines import due_values
from kflow.errors import Conflict, Forbidden, InvalidTransition, ValidationError
from kflow.followup import periods, rights
from kflow.followup.models import Indicator, Measurement
from kflow.followup.reporters import NOT_MEASURING, Reporters
from kflow.followup.values import measured
from kflow.org.models import Unit
from kflow.states import local_implementation as li_states

MAX_COMMENT = 2000
CONCURRENT = "Ett mätvärde för samma period sparades samtidigt av någon annan; försök igen."


def check_may_report(
    session: Session, authority: Authority, indicator: Indicator, unit: Unit
) -> LocalImplementation | None:
    """Refuse a reporter without the right (§6.2); the implementation to link the report to."""
    return Reporters(session, authority).check(indicator, unit)


def current(session: Session, indicator_id: int, unit_id: int, period: str) -> Measurement | None:
    return session.scalar(
        select(Measurement).where(
            Measurement.indicator_id == indicator_id,
            Measurement.unit_id == unit_id,
            Measurement.period == period,
            Measurement.superseded_at.is_(None),
        )
    )


@dataclasses.dataclass(slots=True)
class Prepared:
    """A report that passed every check, ready to be written (kflow.followup.csv_import checks
    a whole file before it writes any line)."""

    indicator: Indicator
    unit_id: int
    implementation: LocalImplementation | None
    period: str
    values: tuple[float, float | None, float | None]
    comment: str | None
    previous: Measurement | None


def prepare(
    session: Session,
    authority: Authority,
    indicator: Indicator,
    unit: Unit,
    *,
    period: Any,
    value: Any = None,
    numerator: Any = None,
    denominator: Any = None,
    comment: Any = None,
    now: dt.datetime,
    reporters: Reporters | None = None,
    find_current: bool = True,
) -> Prepared:
    """Check a report: the right to make it, the period, the values and the comment. A caller
    checking many reports passes one ``Reporters`` and finds the current values itself."""
    reporters = reporters or Reporters(session, authority)
    implementation = reporters.check(indicator, unit)
    code = _started(period, now)
    values = measured(
        indicator.aggregation, indicator.unit_of_measure, value, numerator, denominator
    )
    text = comment_text(comment)
    previous = current(session, indicator.id, unit.id, code) if find_current else None
    return Prepared(indicator, unit.id, implementation, code, values, text, previous)


def report(
    session: Session,
    authority: Authority,
    indicator: Indicator,
    unit: Unit,
    *,
    settings: Settings,
    period: Any,
    now: dt.datetime | None = None,
    **values: Any,
) -> Measurement:
    """Record a measurement (``value``, or ``numerator`` and ``denominator``; ``comment``); one
    for a period that already has a value corrects it."""
    now = now or utcnow()
    ready = prepare(session, authority, indicator, unit, period=period, now=now, **values)
    return write(session, authority, ready, settings=settings, now=now)


def correct(
    session: Session,
    authority: Authority,
    measurement: Measurement,
    *,
    settings: Settings,
    value: Any = None,
    numerator: Any = None,
    denominator: Any = None,
    comment: Any = None,
    now: dt.datetime | None = None,
) -> Measurement:
    """Correct ``measurement`` (the current value of its indicator, unit and period)."""
    now = now or utcnow()
    indicator = session.get_one(Indicator, measurement.indicator_id)
    unit = session.get_one(Unit, measurement.unit_id)
    implementation = check_may_report(session, authority, indicator, unit)
    if measurement.superseded_at is not None:
        raise Conflict("Mätvärdet är redan rättat: rätta det senaste värdet för perioden.")
    values = measured(
        indicator.aggregation, indicator.unit_of_measure, value, numerator, denominator
    )
    ready = Prepared(
        indicator,
        unit.id,
        implementation,
        measurement.period,
        values,
        comment_text(comment),
        measurement,
    )
    return write(session, authority, ready, settings=settings, now=now)


def write(
    session: Session,
    authority: Authority,
    ready: Prepared,
    *,
    settings: Settings,
    now: dt.datetime,
) -> Measurement:
    """Append the prepared measurement, superseding the value it corrects."""
    previous, implementation = ready.previous, ready.implementation
    if previous is not None:
        # Guarded by the row still being current: of two corrections at once, one wins and
        # the other is a conflict, not a second current value.
        marked = session.execute(
            update(Measurement)
            .where(Measurement.id == previous.id, Measurement.superseded_at.is_(None))
            .values(superseded_at=now)
            .execution_options(synchronize_session=False)
        )
        if marked.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("Mätvärdet rättades samtidigt av någon annan; försök igen.")
        session.expire(previous)
    value, numerator, denominator = ready.values
    measurement = Measurement(
        indicator_id=ready.indicator.id,
        unit_id=ready.unit_id,
        case_id=implementation.id if implementation is not None else None,
        period=ready.period,
        value=value,
        numerator=numerator,
        denominator=denominator,
        comment=ready.comment,
        reported_by_id=authority.actor.user_id,
        reported_at=now,
        supersedes_id=previous.id if previous is not None else None,
    )
    session.add(measurement)
    if implementation is not None and implementation.state == li_states.State.FOLLOWING_UP:
        next_due = local_date(now) + dt.timedelta(
            days=settings.deadlines.follow_up_measurement_days
        )
        for column, new in due_values(next_due, settings).items():
            setattr(implementation, column, new)
        implementation.updated_at = now
    try:
        session.flush()  # generate measurement.id; surface the implementation's version check
    except IntegrityError:  # the partial unique index: a first value written at the same time
        raise Conflict(CONCURRENT) from None
    return measurement


def _started(period: Any, now: dt.datetime) -> str:
    parsed = periods.parse(period)
    periods.require_started(parsed, local_date(now))
    return parsed.code


def comment_text(comment: Any) -> str | None:
    if comment is None:
        return None
    if not isinstance(comment, str):
        raise ValidationError("comment måste vara text.")
    if len(comment.strip()) > MAX_COMMENT:
        raise ValidationError(f"comment får vara högst {MAX_COMMENT} tecken.")
    return comment.strip() or None


def report_on_implementation(
    session: Session,
    authority: Authority,
    implementation: LocalImplementation,
    *,
    settings: Settings,
    indicator_id: Any,
    period: Any,
    now: dt.datetime | None = None,
    **values: Any,
) -> Measurement:
    """A report made on a local implementation's page: for its unit, against an indicator of
    its knowledge support."""
    indicator = session.get(Indicator, indicator_id) if isinstance(indicator_id, int) else None
    if indicator is None or indicator.knowledge_support_id != implementation.knowledge_support_id:
        # Who may report here, and when, is answered before what was sent.
        if rights.REGION_REPORT_ROLE not in authority.roles_at(implementation.region_id):
            if not set(rights.REPORT_ROLES) & authority.case_roles(implementation):
                raise Forbidden("Du får inte rapportera mätvärden för den här enheten.")
            if implementation.state not in li_states.MEASURING:
                raise InvalidTransition(NOT_MEASURING)
        raise ValidationError("indicator måste vara en indikator för det här kunskapsstödet.")
    unit = session.get_one(Unit, implementation.owner_id)
    return report(
        session, authority, indicator, unit, settings=settings, period=period, now=now, **values
    )
