"""What an administrator manages, and the administration's lists within it.

An admin in unit U manages U and every unit below it (the root admin, in "sverige", manages
everything). A user belongs to an admin's scope when every role the user holds lies within it,
so a regional admin can never mint a token for, say, an NPO chair who also works in the region.
Each list is capped at ``limit`` rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select, true
from sqlalchemy.orm import Session, aliased

from kflow.accounts.models import ApiToken
from kflow.engine.authority import ADMIN, Authority
from kflow.errors import Forbidden
from kflow.org.models import Membership, Unit, UnitClosure, User
from kflow.org.roles import UnitKind

LOCAL_KINDS = (UnitKind.REGIONAL_GROUP, UnitKind.LOCAL_UNIT)
ROOT_EXTRA_KINDS = (UnitKind.NAG,)


@dataclasses.dataclass(frozen=True)
class AdminScope:
    root: bool
    unit_ids: frozenset[int]
    admin_units: tuple[Unit, ...]

    @classmethod
    def of(cls, session: Session, authority: Authority) -> AdminScope:
        admin_ids = {unit_id for unit_id, role in authority.memberships if role == ADMIN}
        if not admin_ids:
            raise Forbidden("Administrationen är bara för användare med rollen Administratör.")
        units = tuple(
            session.scalars(select(Unit).where(Unit.id.in_(admin_ids)).order_by(Unit.name))
        )
        below = session.scalars(
            select(UnitClosure.descendant_id).where(UnitClosure.ancestor_id.in_(admin_ids))
        )
        return cls(any(u.kind == UnitKind.ROOT for u in units), frozenset(below), units)

    def covers(self, unit_id: int) -> bool:
        return self.root or unit_id in self.unit_ids

    def require(self, unit_id: int) -> None:
        if not self.covers(unit_id):
            raise Forbidden("Enheten ligger utanför det du administrerar.")

    def units(self) -> ColumnElement[bool]:
        return true() if self.root else Unit.id.in_(self.unit_ids)

    def users(self) -> ColumnElement[bool]:
        """Users all of whose roles lie in scope (those with no roles yet included)."""
        if self.root:
            return true()
        outside = exists().where(
            Membership.user_id == User.id, Membership.unit_id.not_in(self.unit_ids)
        )
        return ~outside

    def covers_user(self, session: Session, user: User) -> bool:
        return self.root or bool(
            session.scalar(select(User.id).where(User.id == user.id, self.users()))
        )

    def require_user(self, session: Session, user: User) -> None:
        if not self.covers_user(session, user):
            raise Forbidden(
                "Användaren har roller utanför det du administrerar; be en administratör "
                "för hela systemet."
            )

    @property
    def unit_kinds(self) -> tuple[str, ...]:
        """Kinds of unit this admin may create."""
        return LOCAL_KINDS + ROOT_EXTRA_KINDS if self.root else LOCAL_KINDS

    @property
    def description(self) -> str:
        if self.root:
            return "hela systemet"
        return ", ".join(u.name for u in self.admin_units) + " med allt under"


def counts(session: Session, scope: AdminScope) -> dict[str, int | None]:
    """How many units, users, memberships and live tokens the admin manages."""
    return {
        "units": session.scalar(select(func.count()).select_from(Unit).where(scope.units())),
        "users": session.scalar(select(func.count()).select_from(User).where(scope.users())),
        "memberships": session.scalar(
            select(func.count())
            .select_from(Membership)
            .join(Unit, Unit.id == Membership.unit_id)
            .where(scope.units())
        ),
        "tokens": session.scalar(
            select(func.count())
            .select_from(ApiToken)
            .join(User, User.id == ApiToken.user_id)
            .where(scope.users(), ApiToken.revoked_at.is_(None))
        ),
    }


def units(
    session: Session, scope: AdminScope, limit: int, kinds: Sequence[str] | None = None
) -> list[Unit]:
    """The units in scope (of ``kinds``), by name."""
    stmt = select(Unit).where(scope.units())
    if kinds is not None:
        stmt = stmt.where(Unit.kind.in_(kinds))
    return list(session.scalars(stmt.order_by(Unit.name).limit(limit)))


def units_with_parents(session: Session, scope: AdminScope, limit: int) -> list[Any]:
    """``(unit, parent's name, mirrored NPO's name)`` of the units in scope, by kind and name."""
    parent = aliased(Unit)
    mirrored = aliased(Unit)
    rows = session.execute(
        select(Unit, parent.name, mirrored.name)
        .outerjoin(parent, parent.id == Unit.parent_id)
        .outerjoin(mirrored, mirrored.id == Unit.mirrors_id)
        .where(scope.units())
        .order_by(Unit.kind, Unit.name)
        .limit(limit)
    )
    return list(rows)


def users(session: Session, scope: AdminScope, limit: int) -> list[User]:
    """The users in scope, by e-mail address."""
    stmt = select(User).where(scope.users()).order_by(User.email).limit(limit)
    return list(session.scalars(stmt))


def memberships(session: Session, scope: AdminScope, limit: int) -> list[Any]:
    """``(membership, user, unit)`` of the roles held in units in scope."""
    rows = session.execute(
        select(Membership, User, Unit)
        .join(User, User.id == Membership.user_id)
        .join(Unit, Unit.id == Membership.unit_id)
        .where(scope.units())
        .order_by(Unit.name, User.email, Membership.role)
        .limit(limit)
    )
    return list(rows)


def membership(session: Session, membership_id: int) -> Membership | None:
    return session.get(Membership, membership_id)


def tokens(session: Session, scope: AdminScope, limit: int) -> list[Any]:
    """``(token, user)`` of the API tokens of users in scope, the newest first."""
    rows = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(scope.users())
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        .limit(limit)
    )
    return list(rows)


def token(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)
