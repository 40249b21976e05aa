"""Follow-up indicators (of a knowledge support or a programme unit) and the measurements units
report against them (lifecycle.md §6.1, §6.2)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kflow.db import Base, utcnow

DIRECTIONS = {"higher_is_better": "Högre är bättre", "lower_is_better": "Lägre är bättre"}
SOURCES = {
    "kvalitetsregister": "Kvalitetsregister",
    "vården_i_siffror": "Vården i siffror",
    "journal": "Journal",
    "manuell": "Manuell rapportering",
}
AGGREGATIONS = {"mean": "Medelvärde", "sum": "Summa", "ratio": "Kvot (täljare/nämnare)"}
CURRENT = text("superseded_at IS NULL")


def _in(column: str, values: object) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"  # type: ignore[attr-defined]


class Indicator(Base):
    __tablename__ = "indicators"
    __table_args__ = (
        CheckConstraint(_in("direction", DIRECTIONS), name="direction"),
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint(_in("aggregation", AGGREGATIONS), name="aggregation"),
        CheckConstraint(
            "(knowledge_support_id IS NULL) <> (owner_unit_id IS NULL)", name="one_owner"
        ),
        UniqueConstraint("knowledge_support_id", "name"),
        UniqueConstraint("owner_unit_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The owner: a knowledge support or a programme unit, never both.
    knowledge_support_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    code: Mapped[str | None] = mapped_column(String(50), unique=True)  # an external id
    name: Mapped[str] = mapped_column(String(200))
    unit_of_measure: Mapped[str] = mapped_column(String(50))
    target_value: Mapped[float | None]
    direction: Mapped[str] = mapped_column(String(16), default="higher_is_better")
    source: Mapped[str] = mapped_column(String(20), default="manuell")
    aggregation: Mapped[str] = mapped_column(String(8), default="mean")


class Measurement(Base):
    """One reported value. Rows are only added: a correction is a new row that ``supersedes``
    the one it corrects, which gets ``superseded_at``; the current value of (indicator, unit,
    period) is the one row without it (a partial unique index)."""

    __tablename__ = "measurements"
    __table_args__ = (
        Index(
            "ux_measurements_current",
            # One current value per (indicator, unit, period); in this order it also serves a
            # roll-up of one indicator and period over every unit (kflow.followup.attainment).
            "indicator_id",
            "period",
            "unit_id",
            unique=True,
            sqlite_where=CURRENT,
            postgresql_where=CURRENT,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"))
    # The reporting unit; case_id: the local implementation whose timeline shows the report.
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # A period code of kflow.followup.periods: "2026", "2026-H1", "2026-T2", "2026-Q3", "2026-09".
    period: Mapped[str] = mapped_column(String(10))
    value: Mapped[float]
    numerator: Mapped[float | None]
    denominator: Mapped[float | None]
    comment: Mapped[str | None] = mapped_column(String(2000))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("measurements.id"), unique=True)
    superseded_at: Mapped[dt.datetime | None]
