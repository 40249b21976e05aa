"""Follow-up indicators of a knowledge support and the measurements local units report."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kflow.db import Base, utcnow


class Indicator(Base):
    __tablename__ = "indicators"
    __table_args__ = (
        CheckConstraint("direction IN ('higher', 'lower')", name="direction"),
        UniqueConstraint("knowledge_support_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    knowledge_support_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    name: Mapped[str] = mapped_column(String(200))
    unit_of_measure: Mapped[str] = mapped_column(String(50))
    target_value: Mapped[float | None]
    direction: Mapped[str] = mapped_column(String(8), default="higher")


class Measurement(Base):
    __tablename__ = "measurements"
    __table_args__ = (UniqueConstraint("indicator_id", "implementation_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"))
    implementation_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # A period as reported: "2026", "2026-H1", "2026-Q3" or "2026-09".
    period: Mapped[str] = mapped_column(String(10))
    value: Mapped[float]
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
