"""The inbox, page by page: exactly the cases a person can act on now (a manual trigger their
roles allow from the case's state), earliest due first, undated last, then by id, whichever
case types, roles and places (owner, assignee, region) bring them there."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from kflow.cases.models import Case
from kflow.queries import inbox as inbox_list
from tests.support.world import MEMBERSHIPS

TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def inbox_world(world, session):
    """Cases of every type in two regions, one adaptation also assigned to a regional group
    (reached as owner and as assignee), with due dates that tie and some with none."""
    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)  # vgr: implementations at two local units
    world.implementation(ra, "vgr-psyk-2")
    world.fire(world.adaptation(ks, "skane"), "start_assessment", "skane-coordinator")
    assigned = world.adaptation(world.ks_in("published"))
    world.fire(assigned, "assign", "vgr-coordinator", params={"unit": "vgr-rpo-psyk"})
    world.ks_in("consultation")  # responses in every region
    world.ks_in("drafting")
    ids = session.scalars(select(Case.id).order_by(Case.id)).all()
    for number, case_id in enumerate(ids):
        due = None if number % 5 == 0 else TODAY + dt.timedelta(days=number % 3)
        session.execute(update(Case).where(Case.id == case_id).values(due=due))
    session.expire_all()
    return world


def expected(session, authority):
    cases = session.scalars(select(Case)).all()
    mine = [c for c in cases if authority.allowed_triggers(c)]
    return [c.id for c in sorted(mine, key=lambda c: (c.due is None, c.due or TODAY, c.id))]


@pytest.mark.parametrize("who", sorted(MEMBERSHIPS))
def test_inbox_pages_are_what_one_may_act_on_now_in_due_order(inbox_world, session, who):
    authority = inbox_world.authority(who)
    want = expected(session, authority)
    page = inbox_list.inbox(session, authority, limit=500)
    assert ([c.id for c in page.items], page.total) == (want, len(want))
    pages = [inbox_list.inbox(session, authority, limit=3, offset=off) for off in range(0, 60, 3)]
    assert [c.id for p in pages for c in p.items] == want
    assert {p.total for p in pages} == {len(want)}
    beyond = inbox_list.inbox(session, authority, limit=10, offset=len(want) + 1)
    assert (list(beyond.items), beyond.total) == ([], len(want))


def test_the_inbox_world_is_worth_checking(inbox_world, session):
    """Someone's inbox spans several pages of several case types, and someone reaches a case
    both as its owner and as its assignee (two parts of the query find it; it is listed once)."""
    lead = inbox_list.inbox(session, inbox_world.authority("vgr-lead"), limit=500)
    assert lead.total > 3 and len({c.type for c in lead.items}) >= 2
    twice = []
    for who in MEMBERSHIPS:
        authority = inbox_world.authority(who)
        page = inbox_list.inbox(session, authority, limit=500)
        assert len({c.id for c in page.items}) == len(page.items) == page.total
        twice += [
            c
            for c in page.items
            if authority.roles_at(c.owner_id) and authority.roles_at(c.assignee_id)
        ]
    assert twice
