"""History rows cannot be changed or deleted, not even by a stray SQL statement."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


@pytest.mark.parametrize(
    "statement",
    ["UPDATE case_events SET comment = 'rewritten'", "DELETE FROM case_events"],
)
def test_database_refuses_to_change_history(session, world, statement):
    world.ks_in("drafting")
    before = session.scalar(sa.text("SELECT count(*) FROM case_events"))
    assert before >= 3
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), session.begin_nested():
        session.execute(sa.text(statement))
    assert session.scalar(sa.text("SELECT count(*) FROM case_events")) == before
    assert (
        session.scalar(sa.text("SELECT count(*) FROM case_events WHERE comment = 'rewritten'")) == 0
    )


def test_region_staff_see_their_regions_adaptation(world):
    from kflow.engine.read import readable_case
    from kflow.errors import NotFound

    ks = world.ks_in("published")
    ra = world.adaptation(ks, "skane")
    assert readable_case(world.session, world.authority("skane-local-lead"), ra.id).id == ra.id
    with pytest.raises(NotFound):
        readable_case(world.session, world.authority("local-lead"), ra.id)  # a VGR unit


def test_one_trigger_bumps_lock_version_by_exactly_one(session, world):
    from kflow.cases.models import Case
    from kflow.engine.read import get_case

    ks = world.create_ks(kind="vardforlopp")
    session.expunge_all()  # load it afresh through the base class, as the API does
    case = get_case(session, ks.id)
    before = case.lock_version
    world.fire(case, "commission", "npo-chair", params={"decision_ref": "SKS-1"})
    session.expire_all()
    assert session.get(Case, ks.id).lock_version == before + 1
