"""Shared assertions: counting history rows and cases, refusals that write nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kflow.cases.events import CaseEvent
from kflow.cases.models import Case
from kflow.errors import KflowError
from kflow.org import users as org_users
from kflow.org.models import Membership, User

STATUS = {
    "forbidden": 403,
    "not_found": 404,
    "invalid_transition": 409,
    "conflict": 409,
    "validation_error": 422,
}


def count_events(session: Session, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(CaseEvent).where(*where)) or 0


def count_cases(session: Session, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(Case).where(*where)) or 0


def events(session: Session, case: Case) -> list[CaseEvent]:
    return list(
        session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )


@contextlib.contextmanager
def nothing_written(session: Session, *cases: Case) -> Iterator[None]:
    """The block writes no history, creates no case and moves none of ``cases``."""
    before = [(case, case.state, case.lock_version) for case in cases]
    n_events, n_cases = count_events(session), count_cases(session)
    states = dict(session.execute(select(Case.id, Case.state)).all())
    yield
    session.flush()
    for case, state, version in before:
        session.expire(case)
        assert (case.state, case.lock_version) == (state, version), case
    assert count_events(session) == n_events
    assert count_cases(session) == n_cases
    assert dict(session.execute(select(Case.id, Case.state)).all()) == states


def refused(world: Any, case: Case, trigger: str, who: str, code: str, **kwargs: Any) -> KflowError:
    """Fire and expect the error ``code``; nothing may be written."""
    with nothing_written(world.session, case), pytest.raises(KflowError) as err:
        world.fire(case, trigger, who, **kwargs)
    assert err.value.code == code, err.value.message
    assert err.value.status == STATUS[code]
    assert err.value.message.strip()
    return err.value


def add_user(world: Any, name: str, *grants: tuple[str, str]) -> User:
    """A user with the given (role, unit code) memberships, known to ``world`` by ``name``."""
    user = org_users.create_user(world.session, f"{name}@test.se", name)
    world.session.flush()
    for role, unit in grants:
        org_users.grant(world.session, user, role, world.units[unit])
    world.session.flush()
    assert count_memberships(world.session, user) == len(grants)
    world.users[name] = user
    return user


def count_memberships(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Membership).where(Membership.user_id == user.id)
        )
        or 0
    )
