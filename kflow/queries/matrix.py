"""The overview matrix: knowledge supports × the regions, one cell per regional adaptation,
each as its viewer may see it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from kflow.cases.models import KnowledgeSupport
from kflow.engine.authority import Authority
from kflow.org.models import Unit
from kflow.queries import units as unit_queries
from kflow.queries.overview import OverviewRow
from kflow.queries.rows import overdue_days
from kflow.states import knowledge_support as ks_states
from kflow.states import local_implementation as li_states

DONE = frozenset(str(s) for s in li_states.DONE)


@dataclasses.dataclass
class Cell:
    """One region's cell: the public aggregate (the adaptation's state, the local units done)
    for every viewer; the adaptation's id (the link) and delay only for a viewer who may read
    the adaptation."""

    region: Unit
    adaptation_id: int | None  # None: no adaptation, or one the viewer may not open
    state: str | None  # None: no adaptation yet
    done: int
    relevant: int
    overdue_days: int

    @property
    def readable(self) -> bool:
        return self.adaptation_id is not None

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


def matrix(
    session: Session,
    authority: Authority,
    page_rows: Sequence[OverviewRow],
    regions: Sequence[Unit],
    today: dt.date,
) -> list[Row]:
    """A page of the overview (kflow.queries.lists.overview) as rows of cells, one per region
    of ``regions`` in the order given."""
    units = unit_queries.by_id(session, (r.knowledge_support.owner_id for r in page_rows))
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
            readable = adaptation is not None and authority.can_read(adaptation, ks.owner_id)
            cells.append(
                Cell(
                    region=region,
                    adaptation_id=adaptation.id if adaptation and readable else None,
                    state=adaptation.state if adaptation else None,
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
