"""Organisation: units (a tree plus the region <-> healthcare region links), users and roles."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kflow.db import Base, utcnow


class UnitKind(StrEnum):
    ROOT = "root"
    NATIONAL_COUNCIL = "national_council"
    NPO = "npo"
    NSG = "nsg"
    NAG = "nag"
    HEALTHCARE_REGION = "healthcare_region"
    REGION = "region"
    REGIONAL_GROUP = "regional_group"
    LOCAL_UNIT = "local_unit"


UNIT_KIND_LABELS = {
    UnitKind.ROOT: "Hela landet",
    UnitKind.NATIONAL_COUNCIL: "Nationellt råd",
    UnitKind.NPO: "Nationellt programområde",
    UnitKind.NSG: "Nationell samverkansgrupp",
    UnitKind.NAG: "Nationell arbetsgrupp",
    UnitKind.HEALTHCARE_REGION: "Sjukvårdsregion",
    UnitKind.REGION: "Region",
    UnitKind.REGIONAL_GROUP: "Regional grupp",
    UnitKind.LOCAL_UNIT: "Lokal enhet",
}
NATIONAL_KINDS = frozenset({UnitKind.NATIONAL_COUNCIL, UnitKind.NPO, UnitKind.NSG})


class Role(StrEnum):
    ADMIN = "admin"
    CHAIR = "chair"
    PROCESS_LEAD = "process_lead"
    COORDINATOR = "coordinator"
    LOCAL_LEAD = "local_lead"
    MEMBER = "member"
    VIEWER = "viewer"


ROLE_LABELS = {
    Role.ADMIN: "Administratör",
    Role.CHAIR: "Ordförande",
    Role.PROCESS_LEAD: "Processledare",
    Role.COORDINATOR: "Samordnare",
    Role.LOCAL_LEAD: "Lokalt ansvarig",
    Role.MEMBER: "Ledamot",
    Role.VIEWER: "Läsare",
}


def _in(column: str, values: object) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"  # type: ignore[attr-defined]


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (CheckConstraint(_in("kind", list(UnitKind)), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[id])

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
    the tree. Maintained by kflow.services.org whenever a unit or a healthcare-region link is added.
    """

    __tablename__ = "unit_closure"
    __table_args__ = (Index("ix_unit_closure_descendant", "descendant_id", "ancestor_id"),)

    ancestor_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    descendant_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    depth: Mapped[int]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

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


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Who made the token for the user, when that was someone else (an administrator); null when
    # the user made it (signed in with their password) or an operator did at the command line.
    # Such a token acts only while its minter administers every unit the user holds a role in
    # (kflow.services.tokens.authenticate). A token made with a token inherits its minter.
    minted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
