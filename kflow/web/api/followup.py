"""/api/v1 indicators and measurements (lifecycle.md §6.1, §6.2, §6.5)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from sqlalchemy.orm import Session

from kflow import paging
from kflow.cases.models import KnowledgeSupport
from kflow.errors import ValidationError
from kflow.followup import csv_import, measurements
from kflow.followup.indicators import define_indicator
from kflow.followup.models import Indicator
from kflow.org.models import Unit
from kflow.queries import followup as queries
from kflow.web import boundary, limits
from kflow.web.api.base import authority, bp, json_body, text_field


def indicator_json(indicator: Indicator, owner_unit: str | None) -> dict[str, Any]:
    return {
        "id": indicator.id,
        "code": indicator.code,
        "name": indicator.name,
        "unit_of_measure": indicator.unit_of_measure,
        "direction": indicator.direction,
        "source": indicator.source,
        "aggregation": indicator.aggregation,
        "target_value": indicator.target_value,
        "knowledge_support": indicator.knowledge_support_id,
        "owner_unit": owner_unit,
    }


def measurement_json(row: queries.Row) -> dict[str, Any]:
    m = row.measurement
    return {
        "id": m.id,
        "indicator": m.indicator_id,
        "unit": row.unit_code,
        "case": m.case_id,
        "period": m.period,
        "value": m.value,
        "numerator": m.numerator,
        "denominator": m.denominator,
        "comment": m.comment,
        "reported_by": row.reported_by,
        "reported_at": m.reported_at.isoformat(),
        "supersedes": m.supersedes_id,
        "superseded_at": m.superseded_at.isoformat() if m.superseded_at else None,
    }


def _listing(page: paging.Page, items: list[Any]) -> Response:
    return jsonify(items=items, total=page.total)


@bp.get("/indicators")
def list_indicators() -> Response:
    args = request.args
    page = queries.indicators(
        boundary.session(),
        knowledge_support=args.get("knowledge_support"),
        owner_unit=args.get("owner_unit"),
        limit=args.get("limit"),
        offset=args.get("offset"),
    )
    return _listing(page, [indicator_json(i, code) for i, code in page.items])


@bp.get("/indicators/<int:indicator_id>")
def get_indicator(indicator_id: int) -> Response:
    session = boundary.session()
    found = queries.indicator(session, indicator_id)
    return jsonify(indicator_json(found, queries.owner_code(session, found)))


def _owner(session: Session, body: dict[str, Any]) -> KnowledgeSupport | Unit:
    ks_id, unit_code = body.get("knowledge_support"), text_field(body, "owner_unit")
    if (ks_id is None) == (unit_code is None):
        raise ValidationError("Ange antingen knowledge_support eller owner_unit.")
    if unit_code is not None:
        unit = queries.unit_by_code(session, unit_code, "owner_unit")
        return unit
    if isinstance(ks_id, bool) or not isinstance(ks_id, int):
        raise ValidationError("knowledge_support måste vara ett heltal (kunskapsstödets id).")
    ks = session.get(KnowledgeSupport, ks_id) if 0 < ks_id < 2**31 else None
    if ks is None:
        raise ValidationError(f"knowledge_support: det finns inget kunskapsstöd med id {ks_id}.")
    return ks


@bp.post("/indicators")
def create_indicator() -> tuple[Response, int]:
    body = json_body()
    session = boundary.session()
    owner = _owner(session, body)
    indicator = define_indicator(
        session,
        authority(),
        owner,
        name=body.get("name"),
        unit_of_measure=body.get("unit_of_measure"),
        target_value=body.get("target_value"),
        direction=body.get("direction", "higher_is_better"),
        code=body.get("code"),
        source=body.get("source", "manuell"),
        aggregation=body.get("aggregation", "mean"),
    )
    return jsonify(indicator_json(indicator, queries.owner_code(session, indicator))), 201


@bp.get("/measurements")
def list_measurements() -> Response:
    args = request.args
    page = queries.measurements(
        boundary.session(),
        authority(),
        indicator=args.get("indicator"),
        unit=args.get("unit"),
        period=args.get("period"),
        history=args.get("history"),
        limit=args.get("limit"),
        offset=args.get("offset"),
    )
    return _listing(page, [measurement_json(row) for row in page.items])


def _values(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "value": body.get("value"),
        "numerator": body.get("numerator"),
        "denominator": body.get("denominator"),
        "comment": text_field(body, "comment"),
    }


def _numbers_only(body: dict[str, Any]) -> None:
    """Numbers in JSON are numbers: text there is refused (the UI and CSV take "80,5")."""
    for name in ("value", "numerator", "denominator"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValidationError(f"{name} måste vara ett tal.")


@bp.post("/measurements")
def create_measurement() -> tuple[Response, int]:
    body = json_body()
    session = boundary.session()
    _numbers_only(body)
    indicator_id = body.get("indicator")
    if isinstance(indicator_id, bool) or not isinstance(indicator_id, int):
        raise ValidationError("indicator måste vara ett heltal (indikatorns id).")
    indicator = session.get(Indicator, indicator_id) if 0 < indicator_id < 2**31 else None
    if indicator is None:
        raise ValidationError(f"indicator: det finns ingen indikator med id {indicator_id}.")
    unit_code = text_field(body, "unit")
    if not unit_code:
        raise ValidationError("unit krävs (den rapporterande enhetens kod).")
    unit = queries.unit_by_code(session, unit_code, "unit")
    made = measurements.report(
        session,
        authority(),
        indicator,
        unit,
        settings=boundary.runtime().settings,
        period=text_field(body, "period"),
        **_values(body),
    )
    return jsonify(measurement_json(queries.measurement(session, authority(), made.id))), 201


@bp.post("/measurements/<int:measurement_id>/corrections")
def correct_measurement(measurement_id: int) -> tuple[Response, int]:
    body = json_body()
    session = boundary.session()
    old = queries.measurement(session, authority(), measurement_id)
    _numbers_only(body)
    made = measurements.correct(
        session,
        authority(),
        old.measurement,
        settings=boundary.runtime().settings,
        **_values(body),
    )
    return jsonify(measurement_json(queries.measurement(session, authority(), made.id))), 201


@bp.post("/measurements/import")
def import_measurements() -> tuple[Response, int]:
    if request.mimetype != "text/csv":
        raise ValidationError("Skicka filen som text/csv (Content-Type: text/csv).")
    request.max_content_length = limits.MAX_IMPORT_LENGTH
    count = csv_import.import_csv(
        boundary.session(),
        authority(),
        request.get_data(cache=False),
        settings=boundary.runtime().settings,
    )
    return jsonify(imported=count), 201
