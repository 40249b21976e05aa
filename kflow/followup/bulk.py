"""Writing many checked measurements at once (the CSV import, lifecycle.md §6.2) with a fixed
number of statements per thousand rows: the current values they correct are found in chunks,
superseded with one UPDATE per chunk, and the new rows go in with one INSERT ... SELECT per
twenty thousand (kflow.followup.rows_insert). The meaning
is that of ``measurements.write`` for each row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kflow.calendar import local_date
from kflow.config import Settings
from kflow.engine.authority import Authority
from kflow.engine.deadlines import due_values
from kflow.errors import Conflict
from kflow.followup.measurements import CONCURRENT, Prepared
from kflow.followup.models import Measurement
from kflow.followup.reporters import chunks
from kflow.followup.rows_insert import insert_rows
from kflow.states import local_implementation as li_states

M = cast(Table, Measurement.__table__)
Key = tuple[int, int, str]


def current_ids(session: Session, keys: Sequence[Key]) -> dict[Key, int]:
    """The current measurement of each (indicator, unit, period) that has one: read by the
    indicators, periods and units the keys name (a file's keys fill most of that box), a few
    hundred units at a time, and matched to the keys here."""
    wanted = set(keys)
    indicators = sorted({k[0] for k in wanted})
    periods = sorted({k[2] for k in wanted})
    found: dict[Key, int] = {}
    connection = session.connection()
    for units in chunks(sorted({k[1] for k in wanted})):
        rows = connection.execute(
            select(M.c.indicator_id, M.c.unit_id, M.c.period, M.c.id).where(
                M.c.indicator_id.in_(indicators),
                M.c.period.in_(periods),
                M.c.unit_id.in_(units),
                M.c.superseded_at.is_(None),
            )
        )
        for indicator, unit, period, id_ in rows:
            if (indicator, unit, period) in wanted:
                found[(indicator, unit, period)] = id_
    return found


def write_many(
    session: Session,
    authority: Authority,
    ready: Sequence[Prepared],
    *,
    settings: Settings,
    now: dt.datetime,
) -> int:
    """Append every prepared measurement, superseding the values they correct."""
    if not ready:
        return 0
    session.flush()
    connection = session.connection()
    ids_of = {id(r.indicator): r.indicator.id for r in ready}  # one attribute read each
    keys = [(ids_of[id(r.indicator)], r.unit_id, r.period) for r in ready]
    reporter = authority.actor.user_id
    previous = current_ids(session, keys)
    ids = sorted(previous.values())
    marked = 0
    for part in chunks(ids):
        result = connection.execute(
            update(M).where(M.c.id.in_(part), M.c.superseded_at.is_(None)).values(superseded_at=now)
        )
        marked += result.rowcount
    if marked != len(ids):
        raise Conflict("Mätvärden rättades samtidigt av någon annan; försök igen.")
    implementations = {id(r.implementation): r.implementation for r in ready}
    case_ids = {key: li.id if li is not None else None for key, li in implementations.items()}
    rows = [
        (
            key[0],
            key[1],
            key[2],
            r.values[0],
            r.values[1],
            r.values[2],
            r.comment,
            case_ids[id(r.implementation)],
            previous.get(key),
        )
        for r, key in zip(ready, keys, strict=True)
    ]
    following = [
        li
        for li in implementations.values()
        if li is not None and li.state == li_states.State.FOLLOWING_UP
    ]
    try:
        insert_rows(connection, rows, reported_by_id=reporter, reported_at=now)
    except IntegrityError:  # the partial unique index: a value written at the same time
        raise Conflict(CONCURRENT) from None
    if following:
        days = settings.deadlines.follow_up_measurement_days
        next_due = local_date(now) + dt.timedelta(days=days)
        for li in following:
            for column, new in due_values(next_due, settings).items():
                setattr(li, column, new)
            li.updated_at = now
        session.flush()
    return len(rows)
