"""The OpenAPI paths and schemas of indicators and measurements (kflow.web.api.followup);
kflow.web.api.openapi adds them to the document."""

from __future__ import annotations

from typing import Any

from kflow.followup.models import AGGREGATIONS, DIRECTIONS, SOURCES
from kflow.paging import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _list_of(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "total"],
        "properties": {
            "items": {"type": "array", "items": _ref(name)},
            "total": {"type": "integer"},
        },
    }


def _query(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema or {"type": "string", "minLength": 1}}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


PAGING = [
    _query(
        "limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
    ),
    _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}),
]
READ_ERRORS = {
    "401": _error("Not logged in or bad token"),
    "422": _error("Bad query parameter (an empty one, an unknown unit code, a malformed period)"),
}
NUMBER = {"type": ["number", "null"]}
STRING = {"type": ["string", "null"]}
PERIOD = {
    "type": "string",
    "minLength": 4,
    "pattern": r"^(19|2\d)\d\d(-(H[12]|T[1-3]|Q[1-4]|0[1-9]|1[0-2]))?$",
    "description": "ÅÅÅÅ, ÅÅÅÅ-H1..H2, ÅÅÅÅ-T1..T3, ÅÅÅÅ-Q1..Q4 or ÅÅÅÅ-MM; it must have started",
}
WRITE_ERRORS = {
    "400": _error("Malformed JSON"),
    "401": _error("Not logged in"),
    "403": _error("The caller may not report for this unit"),
    "409": _error(
        "invalid_transition: the unit's local implementation is not implemented or following "
        "up; conflict: the value was corrected meanwhile"
    ),
    "422": _error("Invalid field: unknown indicator or unit, bad period, value out of range"),
}
MEASURED = {
    "value": {**NUMBER, "description": "Required unless the indicator is a ratio"},
    "numerator": {**NUMBER, "description": "Ratio indicators only, with denominator"},
    "denominator": {**NUMBER, "description": "Ratio indicators only; greater than 0"},
    "comment": {"type": ["string", "null"], "maxLength": 2000},
}

RESULT_LEVELS = ("local_unit", "region", "healthcare_region", "nation")
RESULT = {
    "type": "object",
    "required": [
        "unit",
        "unit_name",
        "value",
        "previous",
        "target",
        "status",
        "status_label",
        "trend",
        "reports",
    ],
    "properties": {
        "unit": {**STRING, "description": "The unit's code; null for the nation"},
        "unit_name": {"type": "string"},
        "value": {**NUMBER, "description": "The indicator's aggregation in the period"},
        "previous": {**NUMBER, "description": "The value in the period before"},
        "target": NUMBER,
        "status": {"type": "string", "enum": ["met", "near", "not_met", "no_data"]},
        "status_label": {"type": "string"},
        "trend": {"type": ["string", "null"], "enum": ["up", "down", "same", None]},
        "reports": {"type": "integer", "minimum": 0},
    },
}

SCHEMAS: dict[str, Any] = {
    "Result": RESULT,
    "Results": {
        "type": "object",
        "required": ["indicator", "level", "period", "previous_period", "items"],
        "properties": {
            "indicator": {"type": "integer"},
            "level": {"type": "string", "enum": list(RESULT_LEVELS)},
            "period": {"type": "string"},
            "previous_period": {"type": "string"},
            "items": {"type": "array", "items": _ref("Result")},
        },
    },
    "Indicator": {
        "type": "object",
        "required": [
            "id",
            "code",
            "name",
            "unit_of_measure",
            "direction",
            "source",
            "aggregation",
            "target_value",
            "knowledge_support",
            "owner_unit",
        ],
        "properties": {
            "id": {"type": "integer"},
            "code": STRING,
            "name": {"type": "string"},
            "unit_of_measure": {"type": "string"},
            "direction": {"type": "string", "enum": list(DIRECTIONS)},
            "source": {"type": "string", "enum": list(SOURCES)},
            "aggregation": {"type": "string", "enum": list(AGGREGATIONS)},
            "target_value": NUMBER,
            "knowledge_support": {"type": ["integer", "null"]},
            "owner_unit": {**STRING, "description": "Code of the owning programme unit"},
        },
    },
    "NewIndicator": {
        "type": "object",
        "required": ["name", "unit_of_measure"],
        "description": "Give knowledge_support or owner_unit, not both",
        "properties": {
            "knowledge_support": {"type": "integer"},
            "owner_unit": {"type": "string"},
            "code": {"type": ["string", "null"], "maxLength": 50},
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "unit_of_measure": {"type": "string", "minLength": 1, "maxLength": 50},
            "direction": {
                "type": "string",
                "enum": [*DIRECTIONS, "higher", "lower"],
                "description": "higher and lower are older names, still taken",
            },
            "source": {"type": "string", "enum": list(SOURCES)},
            "aggregation": {"type": "string", "enum": list(AGGREGATIONS)},
            "target_value": NUMBER,
        },
    },
    "Measurement": {
        "type": "object",
        "required": [
            "id",
            "indicator",
            "unit",
            "case",
            "period",
            "value",
            "numerator",
            "denominator",
            "comment",
            "reported_by",
            "reported_at",
            "supersedes",
            "superseded_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "indicator": {"type": "integer"},
            "unit": {"type": "string", "description": "The reporting unit's code"},
            "case": {
                "type": ["integer", "null"],
                "description": "The local implementation whose timeline shows the report",
            },
            "period": {"type": "string"},
            "value": {"type": "number"},
            "numerator": NUMBER,
            "denominator": NUMBER,
            "comment": STRING,
            "reported_by": {**STRING, "description": "The reporter's e-mail"},
            "reported_at": {"type": "string", "format": "date-time"},
            "supersedes": {
                "type": ["integer", "null"],
                "description": "The measurement this one corrects",
            },
            "superseded_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When a correction replaced this value (null: current)",
            },
        },
    },
    "NewMeasurement": {
        "type": "object",
        "required": ["indicator", "unit", "period"],
        "properties": {
            "indicator": {"type": "integer"},
            "unit": {"type": "string", "minLength": 1},
            "period": PERIOD,
            **MEASURED,
        },
    },
    "Correction": {"type": "object", "properties": MEASURED},
    "ImportRefused": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": ["validation_error"]},
                    "message": {"type": "string"},
                    "lines": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["line", "reason"],
                            "properties": {
                                "line": {"type": "integer", "minimum": 1},
                                "reason": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    },
}

CSV_DOC = (
    "A CSV file: a header row `indikator;enhet;period;värde[;täljare;nämnare][;kommentar]`, "
    "indicator and unit by code, UTF-8 with or without BOM, `;` or `,` between fields. All "
    "lines are imported in one transaction or none; a refused file is 422 validation_error "
    "naming every refused line and its reason. A line for a period that already has a value "
    "corrects it."
)


def paths() -> dict[str, Any]:
    return {
        "/api/v1/indicators": {
            "get": {
                "summary": "Indicators (of knowledge supports and programme units)",
                "operationId": "list_indicators",
                "parameters": [
                    _query("knowledge_support", {"type": "integer"}),
                    _query("owner_unit"),
                    *PAGING,
                ],
                "responses": {"200": _json(_list_of("Indicator"))} | READ_ERRORS,
            },
            "post": {
                "summary": "Define an indicator (the owner's chair or process lead)",
                "operationId": "create_indicator",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NewIndicator")}},
                },
                "responses": {
                    "201": _json(_ref("Indicator"), "Created"),
                    "400": _error("Malformed JSON"),
                    "401": _error("Not logged in"),
                    "403": _error("Not chair or process lead of the owner"),
                    "409": _error("The knowledge support is closed"),
                    "422": _error("Invalid field"),
                },
            },
        },
        "/api/v1/indicators/{indicator_id}": {
            "get": {
                "summary": "One indicator",
                "operationId": "get_indicator",
                "parameters": [_path("indicator_id")],
                "responses": {
                    "200": _json(_ref("Indicator")),
                    "401": _error("Not logged in"),
                    "404": _error("No such indicator"),
                },
            }
        },
        "/api/v1/indicators/{indicator_id}/results": {
            "get": {
                "summary": "Goal attainment: the indicator rolled up to each unit of a level (or "
                "the nation) in a period, against the national target; only units whose "
                "measurements the caller may read",
                "operationId": "indicator_results",
                "parameters": [
                    _path("indicator_id"),
                    _query(
                        "level",
                        {"type": "string", "enum": list(RESULT_LEVELS), "default": "region"},
                    ),
                    _query(
                        "period",
                        {**PERIOD, "description": "Default: the latest tertial that has ended"},
                    ),
                ],
                "responses": {
                    "200": _json(_ref("Results")),
                    "401": _error("Not logged in"),
                    "404": _error("No such indicator"),
                    "422": _error("Bad level or period"),
                },
            }
        },
        "/api/v1/measurements": {
            "get": {
                "summary": "Measurements the caller may read, newest first (current values "
                "only unless history=true)",
                "operationId": "list_measurements",
                "parameters": [
                    _query("indicator", {"type": "integer"}),
                    _query("unit"),
                    _query("period", PERIOD),
                    _query("history", {"type": "string", "enum": ["true", "false"]}),
                    *PAGING,
                ],
                "responses": {"200": _json(_list_of("Measurement"))} | READ_ERRORS,
            },
            "post": {
                "summary": "Report a measurement (one for a period with a value corrects it)",
                "operationId": "create_measurement",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NewMeasurement")}},
                },
                "responses": {"201": _json(_ref("Measurement"), "Created")} | WRITE_ERRORS,
            },
        },
        "/api/v1/measurements/{measurement_id}/corrections": {
            "post": {
                "summary": "Correct a measurement: a new row supersedes it (both stay readable)",
                "operationId": "correct_measurement",
                "parameters": [_path("measurement_id")],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("Correction")}},
                },
                "responses": {
                    "201": _json(_ref("Measurement"), "The correction"),
                    "404": _error("No such measurement the caller may read"),
                }
                | WRITE_ERRORS,
            }
        },
        "/api/v1/measurements/import": {
            "post": {
                "summary": "Import measurements from CSV, all or nothing",
                "description": CSV_DOC,
                "operationId": "import_measurements",
                "requestBody": {
                    "required": True,
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                "responses": {
                    "201": _json(
                        {
                            "type": "object",
                            "required": ["imported"],
                            "properties": {"imported": {"type": "integer", "minimum": 1}},
                        },
                        "Every line imported",
                    ),
                    "401": _error("Not logged in"),
                    "422": _error("Refused lines (nothing imported)", "ImportRefused"),
                },
            }
        },
    }
