"""*Uppföljning*'s filters (NPO, knowledge support, indicator, region, period) read from a plain
GET form, and the choices its form offers. A value that names nothing is dropped with a
Swedish sentence saying why, so the page still shows (never a 500)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kflow.cases.models import Case, KnowledgeSupport
from kflow.errors import ValidationError
from kflow.followup import periods
from kflow.followup.models import Indicator, Measurement
from kflow.org.models import Unit
from kflow.org.roles import UnitKind
from kflow.queries import units as unit_queries
from kflow.queries.results import default_period
from kflow.states.base import CaseType

NAMES = ("npo", "ks", "indicator", "region", "period")
WINDOW_YEARS = 3
MAX_WINDOW = 12


@dataclasses.dataclass(frozen=True)
class Filters:
    npo: Unit | None
    ks_id: int | None
    indicator_id: int | None
    region: Unit | None
    period: periods.Period

    @property
    def query(self) -> dict[str, str]:
        """The filters as the form's GET parameters (for links: pages, exports, drill-down)."""
        out = {
            "npo": self.npo.code if self.npo else "",
            "ks": str(self.ks_id or ""),
            "indicator": str(self.indicator_id or ""),
            "region": self.region.code if self.region else "",
            "period": self.period.code,
        }
        return {k: v for k, v in out.items() if v}

    @property
    def all_regions_query(self) -> dict[str, str]:
        """The same filters without the region (back from a drill-down)."""
        return {k: v for k, v in self.query.items() if k != "region"}

    @property
    def level(self) -> str:
        """The rows' level: the regions, or a region's local units (drill-down)."""
        return UnitKind.LOCAL_UNIT if self.region else UnitKind.REGION

    @property
    def window(self) -> list[str]:
        """The chart's periods: up to three years of the period's kind, ending with it."""
        per_year = periods.KINDS[self.period.kind][1]
        count = min(WINDOW_YEARS * per_year, MAX_WINDOW)
        found = [self.period]
        while len(found) < count:
            found.insert(0, found[0].previous())
        return [p.code for p in found]


def parse(session: Session, args: Mapping[str, str], today: dt.date) -> tuple[Filters, list[str]]:
    """The filters in ``args``; the sentences saying which values were not understood."""
    errors: list[str] = []
    raw = {name: (args.get(name) or "").strip() for name in NAMES}
    npo = _unit(session, raw["npo"], None, "Programområde", errors)
    region = _unit(session, raw["region"], UnitKind.REGION, "Region", errors)
    ks_id = _id(raw["ks"], "Kunskapsstöd", errors)
    kind = session.scalar(select(Case.type).where(Case.id == ks_id)) if ks_id else None
    if ks_id is not None and kind != CaseType.KNOWLEDGE_SUPPORT:
        errors.append(f"Kunskapsstöd: det finns inget kunskapsstöd med nummer {ks_id}.")
        ks_id = None
    indicator_id = _id(raw["indicator"], "Indikator", errors)
    if indicator_id is not None and session.get(Indicator, indicator_id) is None:
        errors.append(f"Indikator: det finns ingen indikator med nummer {indicator_id}.")
        indicator_id = None
    period = periods.parse(default_period(today))
    if raw["period"]:
        try:
            period = periods.parse(raw["period"], "Period")
        except ValidationError as error:
            errors.append(error.message)
    return Filters(npo, ks_id, indicator_id, region, period), errors


def _unit(
    session: Session, code: str, kind: str | None, label: str, errors: list[str]
) -> Unit | None:
    if not code:
        return None
    found = session.scalar(select(Unit).where(Unit.code == code))
    if found is None or (kind is not None and found.kind != kind):
        what = "någon region" if kind else "någon enhet"
        errors.append(f"{label}: det finns inte {what} med koden ”{code}”.")
        return None
    return found


def _id(text: str, label: str, errors: list[str]) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        errors.append(f"{label}: ”{text}” är inget giltigt val; välj i listan.")
        return None
    return int(text)


@dataclasses.dataclass(frozen=True)
class Options:
    npos: list[Unit]
    supports: list[tuple[int, str]]
    indicators: list[tuple[int, str]]
    regions: list[Unit]
    periods: list[str]


def options(session: Session, filters: Filters, regions: list[Unit]) -> Options:
    """What the form's lists offer: knowledge supports and indicators that have indicators
    (narrowed by the NPO chosen), and the periods that have measurements (newest first)."""
    supports_stmt = (
        select(KnowledgeSupport.id, KnowledgeSupport.title)
        .join(Indicator, Indicator.knowledge_support_id == KnowledgeSupport.id)
        .distinct()
    )
    if filters.npo is not None:
        supports_stmt = supports_stmt.where(KnowledgeSupport.owner_id == filters.npo.id)
    supports = sorted(
        ((i, t or f"#{i}") for i, t in session.execute(supports_stmt)), key=lambda s: s[1]
    )
    indicator_stmt = select(Indicator.id, Indicator.name).order_by(Indicator.name)
    if filters.ks_id is not None:
        indicator_stmt = indicator_stmt.where(Indicator.knowledge_support_id == filters.ks_id)
    elif filters.npo is not None:
        indicator_stmt = indicator_stmt.where(
            Indicator.knowledge_support_id.in_([s for s, _ in supports])
            | (Indicator.owner_unit_id == filters.npo.id)
            | Indicator.owner_unit_id.in_(select(Unit.id).where(Unit.mirrors_id == filters.npo.id))
        )
    codes = measured_periods(session)
    codes.add(filters.period.code)
    ordered = sorted((periods.parse(c) for c in codes), key=lambda p: (p.end, p.months))
    return Options(
        npos=unit_queries.national(session),
        supports=supports,
        indicators=[(i, n) for i, n in session.execute(indicator_stmt)],
        regions=regions,
        periods=[p.code for p in reversed(ordered)],
    )


def measured_periods(session: Session) -> set[str]:
    """The periods with a current measurement. A loose index scan: for each indicator, period
    after period through the current-value index (indicator, period, unit), so the cost grows
    with the indicators and periods, not with the millions of measurements between them."""
    m = Measurement.__table__.c

    def after(indicator: Any, period: Any = None) -> Any:
        where = [m.indicator_id == indicator, m.superseded_at.is_(None)]
        if period is not None:
            where.append(m.period > period)
        return select(func.min(m.period)).where(*where).scalar_subquery()

    first = select(Indicator.id.label("indicator_id"), after(Indicator.id).label("period"))
    seen = first.cte("seen", recursive=True)
    step = select(seen.c.indicator_id, after(seen.c.indicator_id, seen.c.period)).where(
        seen.c.period.is_not(None)
    )
    seen = seen.union_all(step)
    found = select(seen.c.period).where(seen.c.period.is_not(None)).distinct()
    return {code for code in session.scalars(found)}
