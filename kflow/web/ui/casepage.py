"""What a case page shows: facts, timeline and related cases, in a fixed number of queries."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kflow.cases.events import SYSTEM_ACTOR
from kflow.cases.models import (
    Case,
    ConsultationResponse,
    KnowledgeSupport,
    LocalImplementation,
    RegionalAdaptation,
)
from kflow.engine.authority import Authority
from kflow.followup.models import Indicator, Measurement
from kflow.org.models import Unit
from kflow.queries import lists as queries
from kflow.states import MACHINES
from kflow.states import consultation_response as cr_states
from kflow.states import knowledge_support as ks_states
from kflow.states import local_implementation as li_states
from kflow.web.ui import labels
from kflow.web.ui.matrix import sorted_regions
from kflow.web.ui.rows import overdue_days, units_by_id

HISTORY_LIMIT = queries.MAX_LIMIT


@dataclasses.dataclass
class Fact:
    label: str
    text: str
    href_case: int | None = None  # link to this case's page


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
    ks_owner_id: int,
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


@dataclasses.dataclass
class Entry:
    at: dt.datetime
    actor: str
    role: str
    action: str
    from_label: str | None
    to_label: str
    comment: str | None
    params: list[tuple[str, str]]
    override: bool


def heading(case: Case, units: dict[int, Unit]) -> str:
    if isinstance(case, KnowledgeSupport):
        return case.title
    return f"{MACHINES[case.type].label}: {units[case.owner_id].name}"


def facts(
    case: Case,
    units: dict[int, Unit],
    ks: KnowledgeSupport | None,
    today: dt.date,
    tz: str = "Europe/Stockholm",
) -> list[Fact]:
    machine = MACHINES[case.type]
    out = [Fact("Ärende", f"#{case.id}"), Fact("Ärendetyp", machine.label)]
    if ks is not None and ks is not case:
        out.append(Fact("Kunskapsstöd", ks.title, ks.id))
    out.append(Fact("Läge", case.state_label))
    due = labels.date_text(case.due)
    late = overdue_days(case, today)
    if late:
        due += f" (Försenad {labels.days_text(late)})"
    out.append(Fact("Förfallodag", due))
    if isinstance(case, KnowledgeSupport):
        out += [
            Fact("Typ av kunskapsstöd", ks_states.KINDS.get(case.kind, case.kind)),
            Fact("Ägare", units[case.owner_id].name),
            Fact("Version under arbete", str(case.version)),
            Fact("Gällande version", str(case.published_version or "Ej publicerad")),
            Fact("Nästa revision senast", labels.date_text(case.next_review_due)),
        ]
        if case.consultation_round:
            channel = dict(ks_states.CHANNELS).get(case.consultation_channel or "", "")
            out.append(
                Fact(
                    "Remiss",
                    f"Omgång {case.consultation_round} ({channel}), sista svarsdag "
                    f"{labels.date_text(case.consultation_deadline)}",
                )
            )
    elif isinstance(case, ConsultationResponse):
        out += [Fact("Region", units[case.owner_id].name), Fact("Remissomgång", str(case.round))]
        position = dict(cr_states.POSITIONS).get(case.position or "", "Inte lämnat")
        out.append(Fact("Ställningstagande", position))
    elif isinstance(case, RegionalAdaptation):
        out.append(Fact("Region", units[case.owner_id].name))
        assignee = units[case.assignee_id].name if case.assignee_id else "Ingen"
        out += [
            Fact("Tilldelad regional grupp", assignee),
            Fact("Version som tillämpas", str(case.adapted_version or "–")),
            Fact("Beslutsreferens", case.decision_ref or "–"),
        ]
    elif isinstance(case, LocalImplementation):
        out += [Fact("Enhet", units[case.owner_id].name)]
        if case.region_id is not None:
            out.append(Fact("Region", units[case.region_id].name))
        out.append(Fact("Klart senast", labels.date_text(case.target_date)))
    out += [
        Fact("Skapat", labels.local_time(case.created_at, tz)),
        Fact("Senast ändrat", labels.local_time(case.updated_at, tz)),
    ]
    return out


def timeline(session: Session, case: Case) -> tuple[list[Entry], int]:
    page = queries.history(session, case, limit=HISTORY_LIMIT)
    return describe(session, page.items, {case.id: case.type}), page.total


HISTORY_HEADER = [
    "Tid",
    "Ärende",
    "Ärendetyp",
    "Enhet",
    "Händelse",
    "Från läge",
    "Till läge",
    "Utförd av",
    "Roll",
    "Undantag av administratör",
    "Uppgifter",
    "Kommentar",
]


def history_table(
    session: Session, rows: Sequence[Any], tz: str
) -> tuple[list[str], Iterator[list[Any]]]:
    """History rows of one case or a whole chain as a table for download: each row with its
    case, the case's type and unit, and the entry as the case page shows it."""
    cases = {c.id: c for c in _cases_named(session, {row.case_id for row in rows})}
    units = units_by_id(session, (c.owner_id for c in cases.values()))
    entries = describe(session, rows, {i: c.type for i, c in cases.items()})
    lines = (
        [
            labels.local_time(entry.at, tz),
            row.case_id,
            MACHINES[cases[row.case_id].type].label,
            units[cases[row.case_id].owner_id].name,
            entry.action,
            entry.from_label or "",
            entry.to_label,
            entry.actor,
            entry.role,
            "ja" if entry.override else "",
            "; ".join(f"{label}: {text}" for label, text in entry.params),
            entry.comment or "",
        ]
        for row, entry in zip(rows, entries, strict=True)
    )
    return HISTORY_HEADER, lines


def _cases_named(session: Session, ids: Collection[int]) -> Sequence[Any]:
    """(id, type, owner_id) of the cases history rows name."""
    if not ids:
        return []
    return session.execute(
        select(Case.id, Case.type, Case.owner_id).where(Case.id.in_(sorted(ids)))
    ).all()


def describe(session: Session, rows: Sequence[Any], types: Mapping[int, str]) -> list[Entry]:
    """History rows as people read them, one entry per row; ``types``: each case's type."""
    machines = {case_id: MACHINES[case_type] for case_id, case_type in types.items()}
    codes = {
        code
        for row in rows
        for value in (row.params or {}).values()
        for code in (value if isinstance(value, list) else [value])
        if isinstance(code, str)
    }
    names: dict[str, str] = {}
    if codes and any(
        p.kind in ("unit", "units")
        for machine in set(machines.values())
        for s in machine.triggers.values()
        for p in s.params
    ):
        rows_found = session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(codes)))
        names = {code: name for code, name in rows_found}
    entries = []
    for row in rows:
        machine = machines[row.case_id]
        spec = machine.triggers.get(row.trigger)
        params = []
        for param in spec.params if spec else ():
            if param.name not in (row.params or {}):
                continue
            value = (row.params or {})[param.name]
            if param.kind == "choice":
                text = dict(param.choices).get(value, str(value))
            elif param.kind in ("unit", "units"):
                values = value if isinstance(value, list) else [value]
                text = ", ".join(names.get(str(v), str(v)) for v in values)
            else:
                text = str(value)
            params.append((param.label, text))
        entries.append(
            Entry(
                at=row.at,
                actor=labels.SYSTEM_LABEL if row.actor == SYSTEM_ACTOR else row.actor,
                role=labels.role_label(row.role),
                action=spec.label if spec else labels.CREATE_LABEL,
                from_label=machine.state_label(row.from_state) if row.from_state else None,
                to_label=machine.state_label(row.to_state),
                comment=row.comment,
                params=params,
                override=row.override,
            )
        )
    return entries


def region_rows(
    session: Session, authority: Authority, ks: KnowledgeSupport, today: dt.date
) -> list[RegionRow]:
    """A knowledge support's 21 regions: adaptation, current consultation response, local units."""
    regions = sorted_regions(session)
    adaptations = {
        c.region_id: c
        for c in session.scalars(
            select(Case).where(
                Case.type == "regional_adaptation", Case.knowledge_support_id == ks.id
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
        .where(Case.type == "local_implementation", Case.knowledge_support_id == ks.id)
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
            select(Case).where(Case.type == "local_implementation", Case.parent_id == adaptation.id)
        )
    )
    units = units_by_id(session, (c.owner_id for c in found))
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


@dataclasses.dataclass
class MeasurementRow:
    indicator: str
    unit_of_measure: str
    period: str
    value: float
    reported_at: dt.datetime


def measurements(session: Session, implementation: Case) -> list[MeasurementRow]:
    rows = session.execute(
        select(Indicator.name, Indicator.unit_of_measure, Measurement)
        .join(Indicator, Indicator.id == Measurement.indicator_id)
        .where(Measurement.implementation_id == implementation.id)
        .order_by(Measurement.period.desc(), Indicator.name)
    )
    return [MeasurementRow(name, uom, m.period, m.value, m.reported_at) for name, uom, m in rows]


def indicators_of(session: Session, ks_id: int) -> list[Indicator]:
    return list(
        session.scalars(
            select(Indicator)
            .where(Indicator.knowledge_support_id == ks_id)
            .order_by(Indicator.name)
        )
    )


def number(value: Any) -> str:
    """A number as Swedes write it: decimal comma, no trailing zeros."""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")
