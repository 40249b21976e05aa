"""Where a user belongs, for the *Min region* and *Min enhet* filters of Översikt and Försenade,
and the free-text search those pages share."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.engine.history import CASES
from kflow.org.models import Unit, UnitClosure
from kflow.org.roles import UnitKind

MAX_SEARCH = 200  # characters of a search text


@dataclasses.dataclass(frozen=True)
class Places:
    """A user's regions and units."""

    regions: tuple[int, ...]  # the regions at or above their units (else those below them)
    units: tuple[int, ...]  # their units and every unit below them

    @property
    def has_region(self) -> bool:
        return bool(self.regions)


def of_units(session: Session, unit_ids: Iterable[int]) -> Places:
    """The places of a user holding roles in ``unit_ids``: three indexed reads at most.

    Their regions are the regions at or above their units; someone whose units lie under a
    healthcare region but no region (an RPO of a sjukvårdsregion) has that healthcare region's
    regions; someone national has none.
    """
    mine = sorted(set(unit_ids))
    if not mine:
        return Places((), ())
    units = session.scalars(
        select(UnitClosure.descendant_id).where(UnitClosure.ancestor_id.in_(mine)).distinct()
    ).all()
    above = session.execute(
        select(Unit.id, Unit.kind)
        .join(UnitClosure, UnitClosure.ancestor_id == Unit.id)
        .where(
            UnitClosure.descendant_id.in_(mine),
            Unit.kind.in_((UnitKind.REGION, UnitKind.HEALTHCARE_REGION)),
        )
    ).all()
    regions = {unit_id for unit_id, kind in above if kind == UnitKind.REGION}
    healthcare = [unit_id for unit_id, kind in above if kind == UnitKind.HEALTHCARE_REGION]
    if not regions and healthcare:
        regions = set(
            session.scalars(
                select(Unit.id)
                .join(UnitClosure, UnitClosure.descendant_id == Unit.id)
                .where(UnitClosure.ancestor_id.in_(healthcare), Unit.kind == UnitKind.REGION)
            )
        )
    return Places(tuple(sorted(regions)), tuple(sorted(units)))


def search_text(raw: str | None) -> str | None:
    """The search text as given, trimmed and bounded; None for none."""
    text = " ".join((raw or "").split())[:MAX_SEARCH]
    return text or None


def _matches(text: str, value: str) -> bool:
    return all(word in value.casefold() for word in text.casefold().split())


def titled_cases(session: Session, text: str) -> list[int]:
    """The cases with a title (knowledge supports, indicator lists) whose title holds every word
    of ``text``, whatever its case; matched in Python, so å, ä and ö fold alike on SQLite and
    PostgreSQL (a few thousand titles at most)."""
    rows = session.execute(select(CASES.c.id, CASES.c.title).where(CASES.c.title.is_not(None)))
    return [case_id for case_id, title in rows if _matches(text, title or "")]


def named_units(session: Session, text: str) -> list[int]:
    """The units whose name holds every word of ``text``, whatever its case."""
    rows = session.execute(select(Unit.id, Unit.name))
    return [unit_id for unit_id, name in rows if _matches(text, name)]
