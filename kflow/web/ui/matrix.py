"""The overview matrix: knowledge supports × the 21 regions, one cell per regional adaptation."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.cases.models import KnowledgeSupport
from kflow.engine.authority import Authority
from kflow.org.models import Unit
from kflow.org.roles import NATIONAL_KINDS
from kflow.queries import lists as queries
from kflow.states import MACHINES
from kflow.states import knowledge_support as ks_states
from kflow.states import local_implementation as li_states
from kflow.web.ui.labels import NO_ADAPTATION, swedish_key
from kflow.web.ui.rows import overdue_days, units_by_id

DONE = frozenset(str(s) for s in li_states.DONE)


@dataclasses.dataclass
class Cell:
    """One region's cell: the public aggregate (the adaptation's state, the local units done)
    for every viewer; the adaptation's id (the link) and delay only for a viewer who may read
    the adaptation."""

    region: Unit
    adaptation_id: int | None  # None: no adaptation, or one the viewer may not open
    state: str | None
    short: str
    label: str
    done: int
    relevant: int
    overdue_days: int

    @property
    def readable(self) -> bool:
        return self.adaptation_id is not None

    @property
    def css(self) -> str:
        return f"st-{self.state or 'none'}"

    @property
    def done_percent(self) -> int | None:
        return round(100 * self.done / self.relevant) if self.relevant else None


@dataclasses.dataclass
class Row:
    ks: KnowledgeSupport
    owner: str
    kind: str
    state: str
    cells: list[Cell]


@dataclasses.dataclass
class Legend:
    state: str
    short: str
    label: str

    @property
    def css(self) -> str:
        return f"st-{self.state}"


def region_label(region: Unit) -> str:
    """A region's name without the word "Region", short enough for a column head."""
    return region.name.removeprefix("Region ").strip()


def sorted_regions(session: Session) -> list[Unit]:
    """The 21 regions in the order their short names read (Blekinge … Örebro län)."""
    return sorted(queries.regions(session), key=lambda r: swedish_key(region_label(r)))


def legend() -> list[Legend]:
    machine = MACHINES["regional_adaptation"]
    items = [
        Legend(s, machine.short_label(s), machine.state_label(s)) for s in machine.state_labels
    ]
    items.append(Legend("none", NO_ADAPTATION, "Ingen regional tillämpning ännu"))
    return items


def owners(session: Session) -> list[Unit]:
    """The units that can own a knowledge support, for the filter."""
    return list(
        session.scalars(select(Unit).where(Unit.kind.in_(NATIONAL_KINDS)).order_by(Unit.name))
    )


def build(
    session: Session,
    authority: Authority,
    page_rows: Sequence[queries.OverviewRow],
    regions: list[Unit],
    today: dt.date,
) -> list[Row]:
    machine = MACHINES["regional_adaptation"]
    units = units_by_id(session, (r.knowledge_support.owner_id for r in page_rows))
    authority.prefetch_cases(
        [a for r in page_rows for a in r.adaptations.values()],
        [r.knowledge_support.owner_id for r in page_rows],
    )
    rows = []
    for row in page_rows:
        ks = row.knowledge_support
        cells = []
        for region in regions:
            adaptation = row.adaptations.get(region.id)
            counts = row.implementations.get(region.id, {})
            state = adaptation.state if adaptation else None
            readable = adaptation is not None and authority.can_read(adaptation, ks.owner_id)
            cells.append(
                Cell(
                    region=region,
                    adaptation_id=adaptation.id if adaptation and readable else None,
                    state=state,
                    short=machine.short_label(state) if state else NO_ADAPTATION,
                    label=machine.state_label(state) if state else NO_ADAPTATION,
                    done=sum(n for s, n in counts.items() if s in DONE),
                    relevant=sum(n for s, n in counts.items() if s != "cancelled"),
                    overdue_days=overdue_days(adaptation, today) if adaptation and readable else 0,
                )
            )
        rows.append(
            Row(
                ks,
                units[ks.owner_id].name,
                ks_states.KINDS.get(ks.kind, ks.kind),
                ks.state_label,
                cells,
            )
        )
    return rows
