"""Organisation tables: units (a tree plus the region <-> healthcare region links), their
closure, users and memberships."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kflow.db import Base, utcnow
from kflow.org.roles import Role, UnitKind
from kflow.org.subkinds import Subkind


def _in(column: str, values: object) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"  # type: ignore[attr-defined]


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (
        CheckConstraint(_in("kind", list(UnitKind)), name="kind"),
        CheckConstraint(_in("subkind", list(Subkind)), name="subkind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # lifecycle.md §5.1: the subkind (null for units from before subkinds), and for a programme
    # unit the NPO (or the national primary care council) it mirrors
    subkind: Mapped[str | None] = mapped_column(String(32))
    mirrors_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # lifecycle.md §5.2: an NPO's host healthcare region (värdskap)
    host_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))

    parent: Mapped[Unit | None] = relationship(remote_side=[id], foreign_keys=[parent_id])
    mirrors: Mapped[Unit | None] = relationship(remote_side=[id], foreign_keys=[mirrors_id])
    host: Mapped[Unit | None] = relationship(remote_side=[id], foreign_keys=[host_unit_id])

    def __repr__(self) -> str:
        return f"<Unit {self.code}>"


class HealthcareRegionMember(Base):
    """A region's membership of a sjukvårdsregion (Halland belongs to two)."""

    __tablename__ = "healthcare_region_members"

    healthcare_region_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)


class UnitClosure(Base):
    """Every (ancestor, descendant) pair of the unit graph, itself included at depth 0.

    Authority checks and visibility filters are one join against this table instead of a walk up
    the tree. Maintained by kflow.org.units whenever a unit or a healthcare-region link is added.
    """

    __tablename__ = "unit_closure"
    __table_args__ = (Index("ix_unit_closure_descendant", "descendant_id", "ancestor_id"),)

    ancestor_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    descendant_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    depth: Mapped[int]


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_hsa_id", "hsa_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Översikt's and Försenade's *Min region* / *Min enhet* choice, remembered (all, region,
    # unit; None until chosen).
    overview_scope: Mapped[str | None] = mapped_column(String(16))
    # The user's HSA-id (e.g. SE2321000131-E000000000001), which single sign-on may match on.
    hsa_id: Mapped[str | None] = mapped_column(String(64))
    last_login_at: Mapped[dt.datetime | None]

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "unit_id", "role"),
        CheckConstraint(_in("role", list(Role)), name="role"),
        Index("ix_memberships_unit_role", "unit_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    unit: Mapped[Unit] = relationship()
