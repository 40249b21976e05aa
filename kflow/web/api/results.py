"""/api/v1/indicators/{id}/results: an indicator's goal attainment at one level in one period
(lifecycle.md §6.4, §6.5), the units the caller may read (kflow.queries.results)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from kflow.followup import periods
from kflow.queries import followup as queries
from kflow.queries import results
from kflow.web import boundary
from kflow.web.api.base import authority, bp
from kflow.web.ui.labels import today


def result_json(row: results.UnitResult) -> dict[str, Any]:
    r = row.result
    return {
        "unit": row.unit_code,
        "unit_name": row.unit_name,
        "value": r.value,
        "previous": r.previous,
        "target": r.target,
        "status": r.status,
        "status_label": r.status_label,
        "trend": r.trend,
        "reports": r.reports,
    }


@bp.get("/indicators/<int:indicator_id>/results")
def indicator_results(indicator_id: int) -> Response:
    args = request.args  # checked first: a bad query is 422 whether or not the indicator exists
    level = results.level(args.get("level", "region"))
    raw = args.get("period")
    period = (
        periods.parse(raw) if raw is not None else periods.parse(results.default_period(today()))
    )
    session = boundary.session()
    indicator = queries.indicator(session, indicator_id)
    found = results.results(
        session,
        authority(),
        indicator,
        period.code,
        level,
        tolerance_pct=boundary.runtime().settings.followup.tolerance_pct,
    )
    return jsonify(
        indicator=indicator.id,
        level=level,
        period=period.code,
        previous_period=period.previous().code,
        items=[result_json(row) for row in found],
    )
