"""The inbox, page by page: exactly the cases that wait for a person now (what the case's state
waits for, which their roles allow, and for a published support or a follow-up only once the due
date is near), earliest due first, undated last, then by id, whichever case types, roles and
places (owner, assignee, region) bring them there."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from kflow.cases.models import Case
from kflow.queries import inbox as inbox_list
from kflow.queries.waiting import awaited
from tests.support.world import MEMBERSHIPS

TODAY = dt.date(2026, 6, 1)
NEAR = inbox_list.near_until(TODAY)


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
    world.adaptation_in("adopted")  # waits for vgr's hand-off
    world.adaptation_in("assessing")  # waits for vgr's proposal
    world.ks_in("review")  # waits for the NPO chair
    ids = session.scalars(select(Case.id).order_by(Case.id)).all()
    for number, case_id in enumerate(ids):
        due = None if number % 5 == 0 else TODAY + dt.timedelta(days=(number % 3) * 5)
        session.execute(update(Case).where(Case.id == case_id).values(due=due))
    session.expire_all()
    return world


def expected(session, authority):
    cases = session.scalars(select(Case)).all()
    mine = [c for c in cases if awaited(authority, c, NEAR)]
    return [c.id for c in sorted(mine, key=lambda c: (c.due is None, c.due or TODAY, c.id))]


@pytest.mark.parametrize("who", sorted(MEMBERSHIPS))
def test_inbox_pages_are_what_one_may_act_on_now_in_due_order(inbox_world, session, who):
    authority = inbox_world.authority(who)
    want = expected(session, authority)
    page = inbox_list.inbox(session, authority, limit=500, near=NEAR)
    assert ([c.id for c in page.items], page.total) == (want, len(want))
    pages = [
        inbox_list.inbox(session, authority, limit=3, offset=off, near=NEAR)
        for off in range(0, 60, 3)
    ]
    assert [c.id for p in pages for c in p.items] == want
    assert {p.total for p in pages} == {len(want)}
    beyond = inbox_list.inbox(session, authority, limit=10, offset=len(want) + 1, near=NEAR)
    assert (list(beyond.items), beyond.total) == ([], len(want))


def test_the_inbox_world_is_worth_checking(inbox_world, session):
    """Someone's inbox spans several pages of several case types, and someone reaches a case
    both as its owner and as its assignee (two parts of the query find it; it is listed once)."""
    coordinator = inbox_list.inbox(
        session, inbox_world.authority("vgr-coordinator"), limit=500, near=NEAR
    )
    assert coordinator.total > 3 and len({c.type for c in coordinator.items}) >= 2
    twice = []
    for who in MEMBERSHIPS:
        authority = inbox_world.authority(who)
        page = inbox_list.inbox(session, authority, limit=500, near=NEAR)
        assert len({c.id for c in page.items}) == len(page.items) == page.total
        twice += [
            c
            for c in page.items
            if authority.roles_at(c.owner_id) and authority.roles_at(c.assignee_id)
        ]
    assert twice


def test_what_waits_for_nobody_is_not_in_the_inbox(world, session):
    """A published support waits for its revision only once the review is near; drafting and a
    consultation wait for nobody in kflow; an implemented case, or one in follow-up without a
    measurement due, waits for nobody either."""
    published = world.ks_in("published")
    world.ks_in("drafting")
    world.ks_in("consultation")
    ra = world.adaptation_in("implementing", published)
    implemented = world.implementation(ra)
    for trigger in ("acknowledge", "start_implementation", "report_implemented"):
        world.fire(implemented, trigger, "local-lead")
    following = world.implementation(ra, "vgr-psyk-2")
    for trigger in (
        "acknowledge",
        "start_implementation",
        "report_implemented",
        "start_follow_up",
    ):
        world.fire(following, trigger, "local2-lead")
    today = world.today()
    near = inbox_list.near_until(today)

    def ids(who):
        return {c.id for c in inbox_list.inbox(session, world.authority(who), near=near).items}

    assert published.id not in ids("npo-chair") | ids("npo-lead")
    assert ids("npo-chair") == set()  # nothing of the three supports waits for the chair
    assert ids("local-lead") == set() and ids("local2-lead") == set()
    for case in (published, following):
        session.execute(update(Case).where(Case.id == case.id).values(due=near))
    session.expire_all()
    assert published.id in ids("npo-lead") and published.id in ids("npo-chair")
    assert ids("local2-lead") == {following.id}
    assert ids("local-member") == set()  # not their unit
    later = world.authority("local2-lead")
    assert [a for a in awaited(later, following, near)] == [
        ("Rapportera mätvärde", "Rapportera mätvärde")
    ]
