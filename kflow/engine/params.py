"""Validate a trigger's comment and parameters against its declaration (422 on any problem)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.db import Base
from kflow.errors import ValidationError
from kflow.listparams import among
from kflow.org.models import Unit, UnitClosure
from kflow.org.roles import UnitKind
from kflow.states.base import Param, ParamKind, Trigger

MAX_COMMENT = 10_000
MAX_TEXT = 200
MAX_UNITS = 1_000
MAX_ID = 2**31 - 1  # ids are 32-bit integers on every database


def clean_comment(spec: Trigger, comment: Any) -> str | None:
    if comment is not None and not isinstance(comment, str):
        raise ValidationError("Kommentaren måste vara text.")
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise ValidationError(f"Kommentaren får vara högst {MAX_COMMENT} tecken.")
    if spec.comment_required and not text:
        raise ValidationError(f"'{spec.name}' kräver en kommentar (comment).")
    return text or None


def clean_params(
    session: Session, spec: Trigger, case: Case, params: Any, today: dt.date
) -> dict[str, Any]:
    """Return the parameters as stored in the history: codes and ISO dates, nothing unknown."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValidationError("params måste vara ett objekt.")
    declared = {p.name: p for p in spec.params}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        allowed = ", ".join(declared) or "inga"
        raise ValidationError(
            f"Okänd parameter {', '.join(unknown)} för '{spec.name}' (tillåtna: {allowed})."
        )
    cleaned: dict[str, Any] = {}
    for param in spec.params:
        value = params.get(param.name)
        if value in (None, "", []):
            if param.is_required(case):
                raise ValidationError(f"'{spec.name}' kräver parametern {param.name}.")
            continue
        cleaned[param.name] = _clean_one(session, param, case, value, today)
    return cleaned


def _clean_one(session: Session, param: Param, case: Case, value: Any, today: dt.date) -> Any:
    name = param.name
    if param.kind is ParamKind.TEXT:
        if not isinstance(value, str) or len(value.strip()) > MAX_TEXT:
            raise ValidationError(f"{name} måste vara text på högst {MAX_TEXT} tecken.")
        return value.strip()
    if param.kind is ParamKind.LONG_TEXT:
        if not isinstance(value, str) or len(value.strip()) > MAX_COMMENT:
            raise ValidationError(f"{name} måste vara text på högst {MAX_COMMENT} tecken.")
        return value.strip()
    if param.kind is ParamKind.CHOICE:
        allowed = [key for key, _ in param.choices]
        if value not in allowed:
            raise ValidationError(f"{name} måste vara en av: {', '.join(allowed)}.")
        return value
    if param.kind is ParamKind.DATE:
        try:
            day = dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            day = None
        if day is None or len(value) != 10:
            raise ValidationError(f"{name} måste vara ett datum (ÅÅÅÅ-MM-DD).")
        if day <= today:
            raise ValidationError(f"{name} måste ligga i framtiden.")
        return day.isoformat()
    if param.kind is ParamKind.UNIT:
        if not isinstance(value, str):
            raise ValidationError(f"{name} måste vara en enhetskod.")
        anchor = case.region_id or case.owner_id
        _units_below(session, [value], anchor, {UnitKind.REGIONAL_GROUP}, name)
        return value
    if param.kind is ParamKind.OWN_UNIT:
        if not isinstance(value, str):
            raise ValidationError(f"{name} måste vara en enhetskod.")
        _units_below(session, [value], case.owner_id, {UnitKind.LOCAL_UNIT}, name)
        return value
    if param.kind is ParamKind.NUMBER:
        return _number(param, value)
    if param.kind is ParamKind.ROW:
        return _row_id(session, param, value)
    if param.kind is ParamKind.UNITS:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError(f"{name} måste vara en lista med enhetskoder.")
        codes = sorted(set(value))
        if len(codes) > MAX_UNITS:
            raise ValidationError(f"{name} får innehålla högst {MAX_UNITS} enheter.")
        _units_below(session, codes, case.region_id, {UnitKind.LOCAL_UNIT}, name)
        return codes
    raise AssertionError(f"unknown parameter kind {param.kind}")


def _number(param: Param, value: Any) -> float:
    name = param.name
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError(f"{name} måste vara ett tal.")
    try:
        number = float(value.replace(",", ".").strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise ValidationError(f"{name} måste vara ett tal.") from None
    if not math.isfinite(number):
        raise ValidationError(f"{name} måste vara ett ändligt tal.")
    if param.minimum is not None and number < param.minimum:
        raise ValidationError(f"{name} får inte vara mindre än {param.minimum:g}.")
    if param.maximum is not None and number > param.maximum:
        raise ValidationError(f"{name} får inte vara större än {param.maximum:g}.")
    return number


def _row_id(session: Session, param: Param, value: Any) -> int:
    """An id of a row of ``param.table`` that exists."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ValidationError(f"{param.name} måste vara ett id (ett positivt heltal).")
    rows = Base.metadata.tables[param.table]
    if session.connection().scalar(select(rows.c.id).where(rows.c.id == value)) is None:
        raise ValidationError(
            f"{param.name}: det finns ingen {param.label.lower()} med id {value}."
        )
    return value


_UNITS = cast(Table, Unit.__table__)
_CLOSURE = cast(Table, UnitClosure.__table__)
_UNITS_BELOW = (
    select(_UNITS.c.code)
    .join(_CLOSURE, _CLOSURE.c.descendant_id == _UNITS.c.id)
    .where(
        among(_UNITS.c.code, "codes"),
        among(_UNITS.c.kind, "kinds"),
        _CLOSURE.c.ancestor_id == bindparam("region"),
    )
)


def _units_below(
    session: Session, codes: list[str], region_id: int | None, kinds: set[str], name: str
) -> None:
    """Check that every code names a unit of ``kinds`` below the case's region."""
    values = {"codes": codes, "kinds": sorted(kinds), "region": region_id}
    found = set(session.connection().scalars(_UNITS_BELOW, values))
    missing = [code for code in codes if code not in found]
    if missing:
        kind_text = "regional grupp" if UnitKind.REGIONAL_GROUP in kinds else "lokal enhet"
        raise ValidationError(
            f"{name}: {', '.join(missing)} är ingen {kind_text} i ärendets region."
        )
