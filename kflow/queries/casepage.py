"""What a case page reads: related cases as its viewer may see them, a knowledge support's
regions, an adaptation's local implementations and indicators; each in a fixed number of
queries. A local implementation's measurements are read by kflow.queries.followup."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kflow.cases.models import Case, ConsultationResponse, KnowledgeSupport
from kflow.engine.authority import Authority
from kflow.followup.models import Indicator
from kflow.org.models import Unit
from kflow.queries import units as unit_queries
from kflow.queries.rows import overdue_days
from kflow.states import MACHINES
from kflow.states import local_implementation as li_states
from kflow.states.base import CaseType


@dataclasses.dataclass
class Linked:
    """A related case as its viewer may see it.

    Its id (the link), state, due date and delay are there only when the viewer may read the
    case (``Authority.can_read``, the rule behind the API's 404). Of a case the viewer may not
    read, a page shows its name and type, and its state only where that state is part of the
    public aggregate (a region's adaptation, as in the overview).
    """

    name: str
    type_label: str
    case_id: int | None = None  # None: the viewer may not open the case
    state: str | None = None
    state_label: str | None = None
    due: dt.date | None = None
    overdue_days: int = 0

    @property
    def readable(self) -> bool:
        return self.case_id is not None


def related(
    authority: Authority,
    case: Case,
    name: str,
    ks_owner_id: int | None,
    today: dt.date,
    *,
    public_state: bool = False,
) -> Linked:
    """``case`` as a related case on a page; ``public_state``: its state may be shown to every
    signed-in user (a regional adaptation's, the overview's public aggregate)."""
    label = MACHINES[case.type].label
    if authority.can_read(case, ks_owner_id):
        return Linked(
            name,
            label,
            case.id,
            case.state,
            case.state_label,
            case.due,
            overdue_days(case, today),
        )
    if public_state:
        return Linked(name, label, state=case.state, state_label=case.state_label)
    return Linked(name, label)


@dataclasses.dataclass
class RegionRow:
    region: Unit
    adaptation: Linked | None
    response: Linked | None
    done: int
    relevant: int

    @property
    def hidden(self) -> bool:
        """Does the viewer miss this region's due date or consultation response?"""
        return any(
            item is not None and not item.readable for item in (self.adaptation, self.response)
        )


def region_rows(
    session: Session,
    authority: Authority,
    ks: KnowledgeSupport,
    regions: Sequence[Unit],
    today: dt.date,
) -> list[RegionRow]:
    """A knowledge support's regions (``regions``, in the order given): adaptation, current
    consultation response, local units done."""
    adaptations = {
        c.region_id: c
        for c in session.scalars(
            select(Case).where(
                Case.type == CaseType.REGIONAL_ADAPTATION, Case.knowledge_support_id == ks.id
            )
        )
    }
    responses: dict[int | None, Case] = {}
    if ks.consultation_round:
        responses = {
            c.region_id: c
            for c in session.scalars(
                select(ConsultationResponse).where(
                    ConsultationResponse.knowledge_support_id == ks.id,
                    ConsultationResponse.round == ks.consultation_round,
                )
            )
        }
    counts: dict[int, dict[str, int]] = {}
    for region_id, state, count in session.execute(
        select(Case.region_id, Case.state, func.count())
        .where(Case.type == CaseType.LOCAL_IMPLEMENTATION, Case.knowledge_support_id == ks.id)
        .group_by(Case.region_id, Case.state)
    ):
        if region_id is not None:
            counts.setdefault(region_id, {})[state] = count
    authority.prefetch_cases([*adaptations.values(), *responses.values()], [ks.owner_id])
    done_states = {str(s) for s in li_states.DONE}
    rows = []
    for region in regions:
        by_state = counts.get(region.id, {})
        adaptation = adaptations.get(region.id)
        response = responses.get(region.id)
        rows.append(
            RegionRow(
                region=region,
                adaptation=(
                    related(
                        authority, adaptation, region.name, ks.owner_id, today, public_state=True
                    )
                    if adaptation is not None
                    else None
                ),
                response=(
                    related(authority, response, region.name, ks.owner_id, today)
                    if response is not None
                    else None
                ),
                done=sum(n for s, n in by_state.items() if s in done_states),
                relevant=sum(n for s, n in by_state.items() if s != "cancelled"),
            )
        )
    return rows


@dataclasses.dataclass
class Implementations:
    """An adaptation's local implementations: those the viewer may read, and how many others
    there are (public already: the overview counts a region's local implementations)."""

    shown: list[Linked]
    others: int


def implementations(
    session: Session, authority: Authority, adaptation: Case, ks: KnowledgeSupport, today: dt.date
) -> Implementations:
    found = list(
        session.scalars(
            select(Case).where(
                Case.type == CaseType.LOCAL_IMPLEMENTATION, Case.parent_id == adaptation.id
            )
        )
    )
    units = unit_queries.by_id(session, (c.owner_id for c in found))
    authority.prefetch_cases(found, [ks.owner_id])
    linked = [related(authority, c, units[c.owner_id].name, ks.owner_id, today) for c in found]
    shown = sorted((item for item in linked if item.readable), key=lambda i: (i.name, i.case_id))
    return Implementations(shown, len(linked) - len(shown))


def parent_links(
    session: Session, authority: Authority, case: Case, ks: KnowledgeSupport, today: dt.date
) -> list[Linked]:
    """An implementation's adaptation and knowledge support; a response's knowledge support."""
    out = []
    if case.parent_id is not None:
        adaptation = session.get(Case, case.parent_id)
        if adaptation is not None:
            region = session.get(Unit, adaptation.owner_id)
            name = region.name if region else MACHINES[adaptation.type].label
            out.append(related(authority, adaptation, name, ks.owner_id, today))
    out.append(related(authority, ks, ks.title, ks.owner_id, today))
    return out


def knowledge_support_of(session: Session, case: Case) -> KnowledgeSupport | None:
    """The knowledge support ``case`` belongs to (itself, for one)."""
    if isinstance(case, KnowledgeSupport):
        return case
    if case.knowledge_support_id is None:
        return None
    found = session.get(Case, case.knowledge_support_id)
    return found if isinstance(found, KnowledgeSupport) else None


def indicators_of(session: Session, ks_id: int) -> list[Indicator]:
    return list(
        session.scalars(
            select(Indicator)
            .where(Indicator.knowledge_support_id == ks_id)
            .order_by(Indicator.name)
        )
    )


def row_choices(session: Session, table: str) -> list[tuple[int, str]]:
    """(id, label) of the rows a trigger's ROW parameter may name: indicators by name, with
    the knowledge support or programme unit they belong to."""
    assert table == "indicators", table
    cases = Case.__table__
    owner = func.coalesce(cases.c.title, Unit.name)
    rows = session.execute(
        select(Indicator.id, Indicator.name, owner)
        .outerjoin(cases, cases.c.id == Indicator.knowledge_support_id)
        .outerjoin(Unit, Unit.id == Indicator.owner_unit_id)
        .order_by(Indicator.name, Indicator.id)
    )
    return [(i, f"{name} ({where})" if where else name) for i, name, where in rows]


def row_names(session: Session, table: str, ids: Collection[int]) -> dict[int, str]:
    """The names of the rows ``ids`` of ``table`` that history rows name (indicators)."""
    assert table == "indicators", table
    if not ids:
        return {}
    rows = session.execute(select(Indicator.id, Indicator.name).where(Indicator.id.in_(ids)))
    return {i: name for i, name in rows}


def cases_named(session: Session, ids: Collection[int]) -> Sequence[Any]:
    """(id, type, owner_id) of the cases ``ids`` names (those history rows name, say)."""
    if not ids:
        return []
    return session.execute(
        select(Case.id, Case.type, Case.owner_id).where(Case.id.in_(sorted(ids)))
    ).all()


def busy_units(session: Session, adaptation: Case) -> set[int]:
    """Local units already holding an open implementation of ``adaptation``."""
    return set(
        session.scalars(
            select(Case.owner_id).where(
                Case.type == CaseType.LOCAL_IMPLEMENTATION,
                Case.parent_id == adaptation.id,
                Case.state.in_([str(s) for s in li_states.OPEN]),
            )
        )
    )
