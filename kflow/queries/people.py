"""People as the pages name them: a history row stores its actor's e-mail (lifecycle.md §2);
timelines, downloads and mail show the person's name, with the role used and the unit it is
held in, read here for many rows at once."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.org.models import Membership, Unit, User


@dataclasses.dataclass(frozen=True)
class Person:
    """A user as others read them: the name, and the units each role is held in."""

    email: str
    name: str
    units_by_role: dict[str, tuple[str, ...]]

    def unit_for(self, role: str | None) -> str:
        """The unit the person holds ``role`` in ("" when they hold it nowhere now); several
        units are joined ("RPO Psykisk hälsa VGR, Region Skåne")."""
        return ", ".join(self.units_by_role.get(role or "", ()))


def by_email(session: Session, emails: Iterable[str | None]) -> dict[str, Person]:
    """The users ``emails`` names (the system and unknown addresses are left out), by e-mail,
    with their memberships: two reads whatever the number of rows."""
    wanted = sorted({e for e in emails if e and "@" in e})
    if not wanted:
        return {}
    users = session.execute(select(User.id, User.email, User.name).where(User.email.in_(wanted)))
    found = {user_id: (email, name) for user_id, email, name in users}
    held: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    if found:
        rows = session.execute(
            select(Membership.user_id, Membership.role, Unit.name)
            .join(Unit, Unit.id == Membership.unit_id)
            .where(Membership.user_id.in_(found))
            .order_by(Membership.user_id, Membership.role, Unit.name)
        )
        for user_id, role, unit_name in rows:
            held[user_id][role].append(unit_name)
    return {
        email: Person(email, name, {r: tuple(u) for r, u in held[user_id].items()})
        for user_id, (email, name) in found.items()
    }


def name_of(people: Mapping[str, Person], actor: str) -> str:
    """The person's name, or what the row stores when no user has that address any more."""
    person = people.get(actor)
    return person.name if person else actor
