"""Översikt's data: a page of knowledge supports, each region's adaptation and its local
implementations counted by state."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    and_,
    func,
    select,
)
from sqlalchemy.orm import Session

from kflow.cases.models import Case, KnowledgeSupport
from kflow.engine.history import CASES
from kflow.errors import ValidationError
from kflow.followup import series
from kflow.listparams import among
from kflow.paging import Page, page_args
from kflow.queries import places
from kflow.queries.lists import _kind, _unit_id
from kflow.states import MACHINES
from kflow.states.base import CaseType


class AdaptationCell(NamedTuple):
    """A regional adaptation as the overview shows it (a page holds a thousand of them)."""

    id: int
    type: str
    state: str
    lock_version: int
    owner_id: int
    assignee_id: int | None
    region_id: int | None
    knowledge_support_id: int | None
    due: dt.date | None
    recipient_id: int | None = None  # an adaptation reports to no one (Placed)


@dataclasses.dataclass
class OverviewRow:
    knowledge_support: KnowledgeSupport
    adaptations: dict[int, AdaptationCell]  # region id -> adaptation
    # region id -> {state: count}
    implementations: dict[int, dict[str, int]]


# A page's adaptations and its implementations by region and state: index-only reads (a page
# of 50 knowledge supports returns a thousand adaptations and thousands of counts).
_ADAPTATIONS_OF = select(*(CASES.c[name] for name in AdaptationCell._fields)).where(
    CASES.c.type == CaseType.REGIONAL_ADAPTATION,
    among(CASES.c.knowledge_support_id, "supports"),
)


_IMPLEMENTATIONS_OF = (
    select(CASES.c.knowledge_support_id, CASES.c.region_id, CASES.c.state, func.count())
    .where(
        CASES.c.type == CaseType.LOCAL_IMPLEMENTATION,
        among(CASES.c.knowledge_support_id, "supports"),
    )
    .group_by(CASES.c.knowledge_support_id, CASES.c.region_id, CASES.c.state)
)
# *Min enhet*: only the implementations of the user's units (and those below them).
_IMPLEMENTATIONS_IN = _IMPLEMENTATIONS_OF.where(among(CASES.c.owner_id, "units"))


def overview(
    session: Session,
    *,
    owner: str | None = None,
    kind: str | None = None,
    state: str | None = None,
    search: str | None = None,
    published: bool | None = None,
    units: Sequence[int] | None = None,
    limit: Any = None,
    offset: Any = None,
) -> Page:
    """Per knowledge support, each region's adaptation and its local implementations by state.

    ``search``: only supports whose title holds every word of it; ``published``: only those
    published at least once (True) or never (False); ``units``: count only the implementations
    of these units. Three queries per page whatever its size: the knowledge supports, their
    adaptations, and the implementation counts grouped by (knowledge support, region, state).
    """
    lim, off = page_args(limit, offset)
    conditions: list[ColumnElement[bool]] = [Case.type == CaseType.KNOWLEDGE_SUPPORT]
    if owner:
        conditions.append(Case.owner_id == _unit_id(session, owner, "owner"))
    if kind:
        conditions.append(KnowledgeSupport.kind == _kind(kind))
    if state:
        if state not in MACHINES[CaseType.KNOWLEDGE_SUPPORT].state_names:
            raise ValidationError("state är inget läge för kunskapsstöd.")
        conditions.append(Case.state == state)
    if search:
        conditions.append(Case.id.in_(places.titled_cases(session, search)))
    if published is not None:
        version = KnowledgeSupport.published_version
        conditions.append(version.is_not(None) if published else version.is_(None))
    where = and_(*conditions)
    total = session.scalar(select(func.count()).select_from(Case).where(where)) or 0
    supports = session.scalars(
        select(KnowledgeSupport).where(where).order_by(Case.id.desc()).limit(lim).offset(off)
    ).all()
    ids = [ks.id for ks in supports]
    rows = {ks.id: OverviewRow(ks, {}, defaultdict(dict)) for ks in supports}
    # A support never published has no adaptations, nor local implementations, to read.
    if ids and published is not False:
        supports_of = {"supports": ids}
        connection = session.connection()
        for values in connection.execute(_ADAPTATIONS_OF, supports_of):
            adaptation = AdaptationCell(*values)
            assert adaptation.knowledge_support_id is not None and adaptation.region_id
            rows[adaptation.knowledge_support_id].adaptations[adaptation.region_id] = adaptation
        if units is None:
            counts = connection.execute(_IMPLEMENTATIONS_OF, supports_of).all()
        else:
            within = {**supports_of, "units": list(units)}
            counts = connection.execute(_IMPLEMENTATIONS_IN, within).all()
        for ks_id, region_id, li_state, count in counts:
            assert ks_id is not None and region_id is not None
            rows[ks_id].implementations[region_id][li_state] = count
    return Page([rows[i] for i in ids], total)


def goals_met(
    session: Session, rows: Sequence[OverviewRow], period: str, tolerance_pct: float
) -> dict[int, tuple[int, int]]:
    """Per knowledge support of the page: (regions meeting every target of its indicators,
    regions with a status) in ``period``, computed in SQL (kflow.followup.series). A public
    aggregate like the rest of the overview: counts only, no region named."""
    ids = [row.knowledge_support.id for row in rows]
    return series.regions_meeting(session, ids, period, tolerance_pct=tolerance_pct)
