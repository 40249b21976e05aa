"""The two ways a trigger is fired leave the same rows.

The web API and UI fire by id (``fire_id``/``fire_row``): the case is read as a plain row and a
trigger without pre-move effects is written with one guarded UPDATE and its history row, outside
the ORM's unit of work. Service callers holding an ORM object (``fire``) go through the same
write. These tests pin down that both give identical cases and history, that the guarded write
catches a change made after the read, and that the statements on that path (kflow.hotpath)
behave like SQLAlchemy's on both engines.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import exc, select, text, update

from kflow.cases.events import CaseEvent
from kflow.cases.models import Case, CaseRow
from kflow.db import utcnow
from kflow.engine import cases
from kflow.engine.history import CASES
from kflow.errors import Conflict, Forbidden, NotFound
from kflow.org.models import Unit
from kflow.statements import ListValue, Prepared, in_list

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
CASE_COLUMNS = ("state", "lock_version", "due", "next_reminder_on", "updated_at")
EVENT_COLUMNS = ("trigger", "from_state", "to_state", "actor", "role", "override", "at")


def two_adaptations(world):
    """Two adaptations of different knowledge supports, both in ``assessing`` at VGR."""
    return world.adaptation_in("assessing"), world.adaptation_in("assessing")


def stored(session, case_id):
    """The case row and its newest history row as the database holds them (raw JSON text)."""
    session.expire_all()
    case = session.get(Case, case_id)
    event = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id.desc())
    ).first()
    raw_params = session.execute(
        text("SELECT params FROM case_events WHERE id = :id"), {"id": event.id}
    ).scalar()
    return (
        tuple(getattr(case, c) for c in CASE_COLUMNS),
        tuple(getattr(event, c) for c in EVENT_COLUMNS),
        event.comment,
        raw_params,
    )


@pytest.mark.parametrize(
    ("trigger", "who", "kwargs"),
    [
        ("put_on_hold", "vgr-coordinator", {"comment": "Väntar på <b>beslut</b>"}),
        ("submit_for_decision", "vgr-lead", {"comment": "Klar"}),
        ("assign", "vgr-coordinator", {"params": {"unit": "vgr-rpo-psyk"}}),
    ],
)
def test_by_id_and_by_object_leave_the_same_rows(world, session, trigger, who, kwargs):
    by_object, by_id = two_adaptations(world)
    world.fire(by_object, trigger, who, now=NOW, **kwargs)
    cases.fire_id(
        session,
        world.authority(who),
        by_id.id,
        trigger,
        case_type="regional_adaptation",
        settings=world.settings,
        now=NOW,
        **kwargs,
    )
    assert stored(session, by_id.id) == stored(session, by_object.id)


def test_a_lean_move_returns_the_row_and_keeps_orm_copies_fresh(world, session):
    ra = world.adaptation_in("assessing")
    held = session.get(Case, ra.id)  # read earlier in the same transaction
    version = held.lock_version
    fired = cases.fire_id(
        session, world.authority("vgr-coordinator"), ra.id, "put_on_hold",
        settings=world.settings, comment="Paus",
    )  # fmt: skip
    assert isinstance(fired.case, CaseRow)
    assert (fired.case.state, fired.case.lock_version) == ("on_hold", version + 1)
    assert (held.state, held.lock_version) == ("on_hold", version + 1)
    assert cases.as_case(session, fired) is held


def test_the_object_path_leaves_nothing_for_the_orm_to_flush(world, session):
    ra = world.adaptation_in("assessing")
    world.fire(ra, "put_on_hold", "vgr-coordinator", comment="Paus")
    assert ra not in session.dirty
    assert (ra.state, session.get(Case, ra.id).state) == ("on_hold", "on_hold")


def test_not_found_forbidden_and_stale_by_id(world, session):
    ra = world.adaptation_in("assessing")
    settings = world.settings
    with pytest.raises(NotFound):  # another region's case does not exist for skane
        cases.fire_id(
            session, world.authority("skane-coordinator"), ra.id, "put_on_hold",
            settings=settings, comment="x",
        )  # fmt: skip
    with pytest.raises(Forbidden):  # visible to the viewer, but not theirs to move
        cases.fire_id(
            session, world.authority("vgr-viewer"), ra.id, "put_on_hold",
            settings=settings, comment="x",
        )  # fmt: skip
    with pytest.raises(Conflict):
        cases.fire_id(
            session, world.authority("vgr-coordinator"), ra.id, "put_on_hold",
            settings=settings, comment="x", lock_version=ra.lock_version - 1,
        )  # fmt: skip
    with pytest.raises(NotFound):
        cases.fire_id(
            session, world.authority("vgr-coordinator"), ra.id, "put_on_hold",
            case_type="local_implementation", settings=settings, comment="x",
        )  # fmt: skip


def test_a_change_after_the_read_is_a_conflict_and_writes_nothing(world, session):
    ra = world.adaptation_in("assessing")
    authority = world.authority("vgr-coordinator")
    row = cases.readable_row(session, authority, ra.id, "regional_adaptation")
    events = session.scalar(select(CaseEvent.id).order_by(CaseEvent.id.desc()).limit(1))
    # Someone else moves the case between this request's read and its write.
    session.execute(
        update(CASES).where(CASES.c.id == ra.id).values(lock_version=CASES.c.lock_version + 1)
    )
    with pytest.raises(Conflict):
        cases.fire_row(session, authority, row, "put_on_hold", settings=world.settings, comment="x")
    assert session.scalar(select(CaseEvent.id).order_by(CaseEvent.id.desc()).limit(1)) == events
    session.expire_all()
    assert session.get(Case, ra.id).state == "assessing"


def test_effects_after_a_lean_move_run_on_the_row(world, session):
    ra = world.adaptation_in("adopted")
    fired = cases.fire_id(
        session, world.authority("vgr-coordinator"), ra.id, "hand_off",
        settings=world.settings, params={"units": ["vgr-psyk-1", "vgr-psyk-2", "vgr-psyk-1"]},
    )  # fmt: skip
    assert isinstance(fired.case, CaseRow)
    assert fired.outcome == {"created": 2, "skipped": 0}
    created = session.scalars(
        select(Case).where(Case.parent_id == ra.id, Case.type == "local_implementation")
    ).all()
    assert sorted(c.owner.code for c in created) == ["vgr-psyk-1", "vgr-psyk-2"]


def test_in_list_matches_none_some_and_all(session):
    codes = Prepared(
        select(Unit.__table__.c.code)
        .where(in_list(Unit.__table__.c.code, "codes"))
        .order_by(Unit.__table__.c.code)
    )
    assert codes.execute(session, {"codes": ListValue([])}).fetchall() == []
    found = codes.execute(session, {"codes": ListValue(["vgr", "nope", "skane"])}).fetchall()
    assert [c for (c,) in found] == ["skane", "vgr"]
    ids = Prepared(select(Unit.__table__.c.id).where(in_list(Unit.__table__.c.id, "ids")))
    every = session.scalars(select(Unit.id)).all()
    assert sorted(i for (i,) in ids.execute(session, {"ids": ListValue(every)}).fetchall()) == (
        sorted(every)
    )


def test_errors_on_the_hot_path_are_sqlalchemys(world, session):
    ra = world.adaptation_in("assessing")
    stamp = Prepared(select(CASES.c.updated_at, CASES.c.due).where(CASES.c.id == ra.id))
    raw = stamp.execute(session, {}).fetchone()
    assert raw is not None
    assert utcnow() - dt.timedelta(hours=1) < _aware(raw[0]) <= utcnow()
    bad = Prepared(update(CASES).where(CASES.c.id == ra.id).values(state=None))
    with pytest.raises(exc.IntegrityError):  # the transaction is done for; the fixture ends it
        bad.execute(session, {})


def _aware(value):
    from kflow.statements import sqlite_datetime

    return sqlite_datetime(value)
