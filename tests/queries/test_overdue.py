"""The overdue list: exactly the cases a person may read (the visibility rule) whose due date
has passed, the most overdue first, whichever way they see them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from kflow.cases.models import Case
from kflow.engine import visibility
from kflow.engine.authority import SYSTEM, Authority
from kflow.errors import ValidationError
from kflow.queries import overdue as overdue_list
from tests.support.world import MEMBERSHIPS

TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def overdue_world(world, session):
    """Cases at every tier, in two regions, about half of them past their due date."""
    ks = world.ks_in("published")
    world.adaptation_in("implementing", ks)  # vgr: implementations at two local units
    world.fire(world.adaptation(ks, "skane"), "start_assessment", "skane-coordinator")
    assigned = world.adaptation(world.ks_in("published"))  # vgr, worked on by a regional group
    world.fire(assigned, "assign", "vgr-coordinator", params={"unit": "vgr-rpo-psyk"})
    world.ks_in("consultation")  # responses in every region
    ids = session.scalars(select(Case.id).order_by(Case.id)).all()
    for number, case_id in enumerate(ids):
        due = TODAY - dt.timedelta(days=number % 7 + 1) if number % 2 else TODAY
        session.execute(update(Case).where(Case.id == case_id).values(due=due))
    session.expire_all()
    return world


def expected(session, authority):
    rows = session.execute(
        select(Case.id)
        .where(visibility.visible(authority), Case.due < TODAY)
        .order_by(Case.due, Case.id)
    ).all()
    return [row[0] for row in rows]


@pytest.mark.parametrize("who", sorted(MEMBERSHIPS))
def test_overdue_is_the_visible_cases_past_due(overdue_world, session, who):
    authority = overdue_world.authority(who)
    want = expected(session, authority)
    page = overdue_list.overdue(session, authority, TODAY, limit=500)
    assert [c.id for c in page.items] == want
    assert page.total == len(want)
    assert all(c.due < TODAY for c in page.items)


def test_the_system_sees_every_case_past_due(overdue_world, session):
    want = session.scalars(select(Case.id).where(Case.due < TODAY).order_by(Case.due, Case.id))
    page = overdue_list.overdue(session, Authority(session, SYSTEM), TODAY, limit=500)
    assert [c.id for c in page.items] == list(want)
    assert page.total == len(page.items) > 4


def test_overdue_pages_and_limits(overdue_world, session):
    authority = overdue_world.authority("vgr-lead")
    everything = expected(session, authority)
    assert len(everything) > 4
    first = overdue_list.overdue(session, authority, TODAY, limit=3)
    rest = overdue_list.overdue(session, authority, TODAY, limit=500, offset=3)
    assert [c.id for c in first.items + list(rest.items)] == everything
    assert first.total == rest.total == len(everything)
    beyond = overdue_list.overdue(session, authority, TODAY, limit=10, offset=10_000)
    assert (list(beyond.items), beyond.total) == ([], len(everything))
    with pytest.raises(ValidationError):
        overdue_list.overdue(session, authority, TODAY, offset=2**31)
