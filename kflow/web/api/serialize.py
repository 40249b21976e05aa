"""Cases, history rows and units as the API shows them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from kflow.cases.events import CaseEvent
from kflow.cases.models import (
    Case,
    ConsultationResponse,
    FollowUpReport,
    IndicatorList,
    KnowledgeSupport,
    LocalImplementation,
    RegionalAdaptation,
)
from kflow.engine.authority import Authority
from kflow.followup.lists import targets_of
from kflow.org import subkinds
from kflow.org.models import Unit
from kflow.queries import units
from kflow.queries.lists import regions
from kflow.queries.overview import OverviewRow
from kflow.queries.people import Person
from kflow.states import MACHINES
from kflow.states.base import CaseType


class Serializer:
    """Turns ORM rows into JSON-ready dicts, loading unit codes and permissions in batches."""

    def __init__(self, session: Session, authority: Authority) -> None:
        self.session = session
        self.authority = authority
        self._codes: dict[int, str] = {}

    def prepare(self, cases: Iterable[Case]) -> None:
        cases = list(cases)
        unit_ids = {
            u for c in cases for u in (c.owner_id, c.assignee_id, c.region_id, c.recipient_id) if u
        }
        self._codes.update(units.codes(self.session, unit_ids - set(self._codes)))
        self.authority.prefetch(unit_ids)

    def code(self, unit_id: int | None) -> str | None:
        if unit_id is None:
            return None
        if unit_id not in self._codes:
            self._codes[unit_id] = units.codes(self.session, [unit_id]).get(unit_id, "")
        return self._codes[unit_id]

    def case(self, case: Case) -> dict[str, Any]:
        self.prepare([case])
        data: dict[str, Any] = {
            "id": case.id,
            "type": case.type,
            "state": case.state,
            "state_label": case.state_label,
            "lock_version": case.lock_version,
            "allowed_triggers": self.authority.allowed_triggers(case),
            "due": case.due.isoformat() if case.due else None,
            "created_at": case.created_at.isoformat(),
            "updated_at": case.updated_at.isoformat(),
        }
        if isinstance(case, KnowledgeSupport):
            data.update(
                title=case.title,
                kind=case.kind,
                owner=self.code(case.owner_id),
                description=case.description,
                document_url=case.document_url,
                version=case.version,
                published_version=case.published_version,
                next_review_due=_iso(case.next_review_due),
                consultation=(
                    {
                        "round": case.consultation_round,
                        "channel": case.consultation_channel,
                        "deadline": _iso(case.consultation_deadline),
                    }
                    if case.consultation_round
                    else None
                ),
            )
        elif isinstance(case, IndicatorList):
            data.update(
                title=case.title,
                year=case.year,
                scope=case.scope,
                owner=self.code(case.owner_id),
                region=self.code(case.region_id),
                decision_ref=case.decision_ref,
                targets=self._targets(case),
            )
        elif isinstance(case, FollowUpReport):
            data.update(
                unit=self.code(case.owner_id),
                recipient=self.code(case.recipient_id),
                region=self.code(case.region_id),
                period=case.period,
                analysis=case.analysis,
                snapshot=case.snapshot,
            )
        else:
            data["knowledge_support"] = case.knowledge_support_id
            data["region"] = self.code(case.region_id)
        if isinstance(case, ConsultationResponse):
            data.update(round=case.round, position=case.position)
        elif isinstance(case, RegionalAdaptation):
            data.update(
                adapted_version=case.adapted_version,
                assignee=self.code(case.assignee_id),
                decision_ref=case.decision_ref,
            )
        elif isinstance(case, LocalImplementation):
            data.update(
                unit=self.code(case.owner_id),
                adaptation=case.parent_id,
                target_date=_iso(case.target_date),
            )
        return data

    def _targets(self, case: IndicatorList) -> list[dict[str, Any]]:
        targets = targets_of(self.session, case.id)
        wanted = {u for t in targets for u in (t.unit_id, t.responsible_id) if u}
        self._codes.update(units.codes(self.session, wanted - set(self._codes)))
        return [
            {
                "indicator": t.indicator_id,
                "unit": self.code(t.unit_id),
                "target_value": t.target_value,
                "tolerance_pct": t.tolerance_pct,
                "responsible": self.code(t.responsible_id),
            }
            for t in targets
        ]

    def cases(self, cases: Iterable[Case]) -> list[dict[str, Any]]:
        cases = list(cases)
        self.prepare(cases)
        return [self.case(c) for c in cases]

    def overview(self, rows: list[OverviewRow]) -> list[dict[str, Any]]:
        all_regions = regions(self.session)
        adaptation_machine = MACHINES[CaseType.REGIONAL_ADAPTATION]
        self.prepare([row.knowledge_support for row in rows])
        self.authority.prefetch_cases(
            [a for row in rows for a in row.adaptations.values()],
            [row.knowledge_support.owner_id for row in rows],
        )
        done = {"implemented", "following_up", "closed", "waived"}
        out = []
        for row in rows:
            ks = row.knowledge_support
            cells = []
            for region in all_regions:
                adaptation = row.adaptations.get(region.id)
                # The state is the public aggregate; the id and due date are the caller's to
                # see only if they may read the adaptation (as the overview page shows it).
                readable = adaptation is not None and self.authority.can_read(
                    adaptation, ks.owner_id
                )
                counts = dict(row.implementations.get(region.id, {}))
                relevant = sum(n for s, n in counts.items() if s != "cancelled")
                finished = sum(n for s, n in counts.items() if s in done)
                cells.append(
                    {
                        "region": region.code,
                        "region_name": region.name,
                        "adaptation": (
                            {
                                "id": adaptation.id if readable else None,
                                "state": adaptation.state,
                                "state_label": adaptation_machine.state_label(adaptation.state),
                                "due": _iso(adaptation.due) if readable else None,
                            }
                            if adaptation
                            else None
                        ),
                        "local_implementations": counts,
                        "done_share": round(finished / relevant, 3) if relevant else None,
                    }
                )
            out.append(
                {
                    "knowledge_support": {
                        "id": ks.id,
                        "title": ks.title,
                        "kind": ks.kind,
                        "owner": self.code(ks.owner_id),
                        "state": ks.state,
                        "state_label": ks.state_label,
                        "version": ks.version,
                        "published_version": ks.published_version,
                    },
                    "regions": cells,
                }
            )
        return out


def event(row: CaseEvent, people: Mapping[str, Person] | None = None) -> dict[str, Any]:
    """A history row; ``people`` (kflow.queries.people.by_email) gives ``actor_name``."""
    person = (people or {}).get(row.actor)
    return {
        "id": row.id,
        "case": row.case_id,
        "trigger": row.trigger,
        "from_state": row.from_state,
        "to_state": row.to_state,
        "actor": row.actor,
        "actor_name": person.name if person else None,
        "role": row.role,
        "override": row.override,
        "at": row.at.isoformat(),
        "comment": row.comment,
        "params": row.params or {},
    }


def unit(row: Unit, parent_code: str | None, mirrors_code: str | None = None) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "kind": row.kind,
        "parent": parent_code,
        "subkind": row.subkind,
        "subkind_label": subkinds.label(row.subkind),
        "mirrors": mirrors_code,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None
