"""What a case page shows: its heading, facts and timeline as people read them (the read
models behind them are in kflow.queries.casepage)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from kflow import paging
from kflow.cases.events import SYSTEM_ACTOR
from kflow.cases.models import (
    Case,
    ConsultationResponse,
    FollowUpReport,
    IndicatorList,
    KnowledgeSupport,
    LocalImplementation,
    RegionalAdaptation,
)
from kflow.org.models import Unit
from kflow.queries import casepage as page_queries
from kflow.queries import followup
from kflow.queries import history as case_history
from kflow.queries import people as people_queries
from kflow.queries import units as unit_queries
from kflow.queries.rows import overdue_days
from kflow.states import MACHINES
from kflow.states import consultation_response as cr_states
from kflow.states import indicator_list as il_states
from kflow.states import knowledge_support as ks_states
from kflow.web.ui import labels

HISTORY_LIMIT = paging.MAX_LIMIT
MEASUREMENT_REPORTED = "Mätvärde rapporterat"
MEASUREMENT_CORRECTED = "Mätvärde rättat"


@dataclasses.dataclass
class Fact:
    label: str
    text: str
    href_case: int | None = None  # link to this case's page


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
    unit: str = ""  # the unit the actor holds the role in (kflow.queries.people)


def heading(case: Case, units: dict[int, Unit]) -> str:
    if isinstance(case, KnowledgeSupport | IndicatorList):
        return case.title
    if isinstance(case, FollowUpReport):
        return f"{MACHINES[case.type].label}: {units[case.owner_id].name}, {case.period}"
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
    if isinstance(case, IndicatorList):
        out += [
            Fact("År", str(case.year)),
            Fact("Omfattning", il_states.SCOPES.get(case.scope or "", case.scope or "")),
            Fact("Ägare", units[case.owner_id].name),
            Fact("Beslutsreferens", case.decision_ref or "Ej fastställd"),
        ]
    if isinstance(case, FollowUpReport):
        out += [
            Fact("Period", case.period or ""),
            Fact("Rapporterande enhet", units[case.owner_id].name),
        ]
        if case.recipient_id is not None:
            out.append(Fact("Mottagare", units[case.recipient_id].name))
        if case.region_id is not None:
            out.append(Fact("Region", units[case.region_id].name))
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
        out.append(Fact("Infört senast", labels.date_text(case.target_date)))
    out += [
        Fact("Skapat", labels.local_time(case.created_at, tz)),
        Fact("Senast ändrat", labels.local_time(case.updated_at, tz)),
    ]
    return out


def timeline(
    session: Session, case: Case, *, newest_first: bool = False
) -> tuple[list[Entry], int]:
    """The case's history; a local implementation's with its measurement reports and
    corrections interleaved by time; ``newest_first`` turns it round (the page's toggle)."""
    page = case_history.history(session, case, limit=HISTORY_LIMIT)
    entries = describe(session, page.items, {case.id: case.type})
    total = page.total
    if isinstance(case, LocalImplementation):
        rows = followup.for_timeline(session, case, HISTORY_LIMIT)
        people = people_queries.by_email(session, (row.reported_by for row in rows))
        reported = [measurement_entry(row, people) for row in rows]
        entries = sorted(entries + reported, key=lambda entry: entry.at)
        total += len(reported)
    return (entries[::-1] if newest_first else entries), total


def measurement_entry(
    row: followup.Row, people: Mapping[str, people_queries.Person] | None = None
) -> Entry:
    m = row.measurement
    value = f"{number(m.value)} {row.indicator.unit_of_measure}"
    if m.denominator is not None and m.numerator is not None:
        value += f" ({number(m.numerator)}/{number(m.denominator)})"
    return Entry(
        at=m.reported_at,
        actor=people_queries.name_of(people or {}, row.reported_by)
        if row.reported_by
        else labels.SYSTEM_LABEL,
        role="",
        action=MEASUREMENT_CORRECTED if m.supersedes_id else MEASUREMENT_REPORTED,
        from_label=None,
        to_label="",
        comment=m.comment,
        params=[("Indikator", row.indicator.name), ("Period", m.period), ("Värde", value)],
        override=False,
    )


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
    "Utförarens enhet",
]


def history_table(
    session: Session, rows: Sequence[Any], tz: str
) -> tuple[list[str], Iterator[list[Any]]]:
    """History rows of one case or a whole chain as a table for download: each row with its
    case, the case's type and unit, and the entry as the case page shows it."""
    named = page_queries.cases_named(session, {row.case_id for row in rows})
    cases = {c.id: c for c in named}
    units = unit_queries.by_id(session, (c.owner_id for c in cases.values()))
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
            entry.unit,
        ]
        for row, entry in zip(rows, entries, strict=True)
    )
    return HISTORY_HEADER, lines


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
    kinds: dict[str, str | None] = {
        str(p.kind): p.table
        for machine in set(machines.values())
        for s in machine.triggers.values()
        for p in s.params
    }
    names: dict[str, str] = {}
    if codes and {"unit", "units", "own_unit"} & set(kinds):
        names = unit_queries.names_by_code(session, codes)
    row_names: dict[int, str] = {}
    table = kinds.get("row")
    if table:
        ids = {
            int(v)
            for row in rows
            for v in (row.params or {}).values()
            if isinstance(v, int) or (isinstance(v, str) and v.isdigit())
        }
        row_names = page_queries.row_names(session, table, ids)
    people = people_queries.by_email(session, (row.actor for row in rows))
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
            elif param.kind in ("unit", "units", "own_unit"):
                values = value if isinstance(value, list) else [value]
                text = ", ".join(names.get(str(v), str(v)) for v in values)
            elif param.kind == "row" and str(value).isdigit():
                text = row_names.get(int(value), str(value))
            elif param.kind == "number" and isinstance(value, int | float):
                text = number(value)
            else:
                text = str(value)
            params.append((param.label, text))
        entries.append(
            Entry(
                at=row.at,
                actor=labels.SYSTEM_LABEL
                if row.actor == SYSTEM_ACTOR
                else people_queries.name_of(people, row.actor),
                role=labels.role_label(row.role),
                action=spec.label if spec else labels.CREATE_LABEL,
                from_label=machine.state_label(row.from_state) if row.from_state else None,
                to_label=machine.state_label(row.to_state),
                comment=row.comment,
                params=params,
                override=row.override,
                unit=_unit_of(people, row),
            )
        )
    return entries


def _unit_of(people: Mapping[str, people_queries.Person], row: Any) -> str:
    person = people.get(row.actor)
    return person.unit_for(row.role) if person else ""


def number(value: Any) -> str:
    """A number as Swedes write it: decimal comma, no trailing zeros."""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")
