"""The OpenAPI 3.1 document for /api/v1, built from the machine declarations so it stays true."""

from __future__ import annotations

import functools
from typing import Any

from kflow.org.roles import Role, UnitKind
from kflow.org.subkinds import Subkind
from kflow.paging import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from kflow.states import MACHINES
from kflow.states import consultation_response as cr_states
from kflow.states import indicator_list as il_states
from kflow.states import knowledge_support as ks_states
from kflow.states.base import CaseType
from kflow.web.api import openapi_basis, openapi_followup
from kflow.web.limits import MAX_URL_LENGTH

COLLECTIONS: dict[str, str] = {
    "knowledge-supports": CaseType.KNOWLEDGE_SUPPORT,
    "consultation-responses": CaseType.CONSULTATION_RESPONSE,
    "regional-adaptations": CaseType.REGIONAL_ADAPTATION,
    "local-implementations": CaseType.LOCAL_IMPLEMENTATION,
    "indicator-lists": CaseType.INDICATOR_LIST,
    "follow-up-reports": CaseType.FOLLOW_UP_REPORT,
}
ERROR_CODES = [
    "unauthenticated",
    "forbidden",
    "not_found",
    "invalid_transition",
    "conflict",
    "validation_error",
    "bad_request",
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


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


# The bounds kflow.paging.page_args enforces (MAX_OFFSET: what every database takes).
PAGING = [
    {
        "name": "limit",
        "in": "query",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_LIMIT,
            "default": DEFAULT_LIMIT,
        },
    },
    {
        "name": "offset",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
    },
]
AUTH_ERRORS = {
    "401": _error("Not logged in or bad token"),
    "422": _error("Bad query parameter (an empty one included)"),
}


def _filter(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A query parameter that filters a list: given, it may not be empty (422)."""
    return {
        "name": name,
        "in": "query",
        "schema": schema or {"type": "string", "minLength": 1},
    }


NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}
NULLABLE_INT = {"type": ["integer", "null"]}


_INDICATOR_LIST_PROPERTIES: dict[str, Any] = {
    "title": {"type": "string"},
    "year": {"type": "integer"},
    "scope": {"type": "string", "enum": list(il_states.SCOPES)},
    "owner": {"type": "string", "description": "Code of the region or healthcare region"},
    "region": NULLABLE_STRING,
    "decision_ref": NULLABLE_STRING,
    "targets": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["indicator", "unit", "target_value"],
            "properties": {
                "indicator": {"type": "integer"},
                "unit": {"type": "string"},
                "target_value": {"type": "number"},
                "tolerance_pct": {"type": ["number", "null"]},
                "responsible": NULLABLE_STRING,
            },
        },
    },
}


_SNAPSHOT_ROWS = {"type": "array", "items": {"type": "object"}}
_FOLLOW_UP_REPORT_PROPERTIES: dict[str, Any] = {
    "unit": {"type": "string", "description": "Code of the reporting unit"},
    "recipient": {"type": "string", "description": "Code of the unit it reports to"},
    "region": NULLABLE_STRING,
    "period": {"type": "string", "description": "ÅÅÅÅ, ÅÅÅÅ-T1..T3, ÅÅÅÅ-Q1..Q4 or ÅÅÅÅ-H1..H2"},
    "analysis": NULLABLE_STRING,
    "snapshot": {
        "type": ["object", "null"],
        "description": "Frozen at submit (null before): the goal attainment of the unit's "
        "targets and those below it, the open deviations below it and the accepted reports "
        "from below",
        "properties": {
            "period": {"type": "string"},
            "frozen_at": {"type": "string", "format": "date-time"},
            "targets": _SNAPSHOT_ROWS,
            "deviations": _SNAPSHOT_ROWS,
            "reports": _SNAPSHOT_ROWS,
        },
    },
}


def _case_schema(case_type: str) -> dict[str, Any]:
    machine = MACHINES[case_type]
    props: dict[str, Any] = {
        "id": {"type": "integer"},
        "type": {"type": "string", "const": case_type},
        "state": {"type": "string", "enum": [s.value for s in machine.states]},
        "state_label": {"type": "string"},
        "lock_version": {"type": "integer"},
        "allowed_triggers": {
            "type": "array",
            "items": {"type": "string", "enum": list(machine.triggers)},
        },
        "due": NULLABLE_DATE,
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "outcome": {"type": "object", "description": "Effects of the trigger just fired"},
    }
    if case_type == CaseType.KNOWLEDGE_SUPPORT:
        props |= {
            "title": {"type": "string"},
            "kind": {"type": "string", "enum": list(ks_states.KINDS)},
            "owner": {"type": "string"},
            "description": NULLABLE_STRING,
            "document_url": {**NULLABLE_STRING, "description": "The published document (http(s))"},
            "version": {"type": "integer"},
            "published_version": NULLABLE_INT,
            "next_review_due": NULLABLE_DATE,
            "consultation": {
                "type": ["object", "null"],
                "properties": {
                    "round": {"type": "integer"},
                    "channel": {"type": "string"},
                    "deadline": NULLABLE_DATE,
                },
            },
        }
    elif case_type == CaseType.INDICATOR_LIST:
        props |= _INDICATOR_LIST_PROPERTIES
    elif case_type == CaseType.FOLLOW_UP_REPORT:
        props |= _FOLLOW_UP_REPORT_PROPERTIES
    else:
        props |= {"knowledge_support": {"type": "integer"}, "region": {"type": "string"}}
    if case_type == CaseType.CONSULTATION_RESPONSE:
        props |= {
            "round": {"type": "integer"},
            "position": {
                "type": ["string", "null"],
                "enum": [key for key, _ in cr_states.POSITIONS] + [None],
            },
        }
    if case_type == CaseType.REGIONAL_ADAPTATION:
        props |= {
            "adapted_version": {"type": "integer"},
            "assignee": NULLABLE_STRING,
            "decision_ref": NULLABLE_STRING,
        }
    if case_type == CaseType.LOCAL_IMPLEMENTATION:
        props |= {
            "unit": {"type": "string"},
            "adaptation": {"type": "integer"},
            "target_date": NULLABLE_DATE,
        }
    required = ["id", "type", "state", "state_label", "lock_version", "allowed_triggers", "due"]
    return {"type": "object", "required": required, "properties": props}


def _trigger_docs(case_type: str) -> str:
    machine = MACHINES[case_type]
    lines = []
    for spec in machine.triggers.values():
        who = ", ".join(
            f"{g.role}" + ("" if g.scope == "case" else f" ({g.scope})") for g in spec.grants
        )
        if spec.auto:
            who = (who + "; " if who else "") + "auto"
        params = ", ".join(p.name + ("" if p.required else "?") for p in spec.params) + (
            ", comment" if spec.comment_required else ""
        )
        moves = "; ".join(f"{'|'.join(src)} → {dst or 'same'}" for src, dst in spec.moves)
        lines.append(f"- `{spec.name}`: {moves}. Who: {who}. Params: {params or 'none'}.")
    return "\n".join(lines)


def _collection_paths(collection: str, case_type: str) -> dict[str, Any]:
    schema = f"Case_{case_type}"
    filters = [
        _filter("knowledge_support", {"type": "integer"}),
        _filter("region"),
        _filter("unit"),
        _filter("state", {"type": "string", "enum": [s.value for s in MACHINES[case_type].states]}),
    ]
    if case_type == CaseType.KNOWLEDGE_SUPPORT:
        filters += [
            _filter("owner"),
            _filter("kind", {"type": "string", "enum": list(ks_states.KINDS)}),
        ]
    id_param = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    paths: dict[str, Any] = {
        f"/api/v1/{collection}": {
            "get": {
                "summary": f"List {case_type} cases visible to the caller",
                "operationId": f"list_{case_type}",
                "parameters": filters + PAGING,
                "responses": {"200": _json(_list_of(schema))} | AUTH_ERRORS,
            }
        },
        f"/api/v1/{collection}/{{case_id}}": {
            "get": {
                "summary": f"One {case_type}",
                "operationId": f"get_{case_type}",
                "parameters": [id_param],
                "responses": {"200": _json(_ref(schema)), "404": _error("No such case")}
                | AUTH_ERRORS,
            }
        },
        f"/api/v1/{collection}/{{case_id}}/transitions": {
            "post": {
                "summary": f"Fire a trigger on a {case_type}",
                "description": _trigger_docs(case_type),
                "operationId": f"fire_{case_type}",
                "parameters": [id_param],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(f"Transition_{case_type}")}},
                },
                "responses": {
                    "200": _json(_ref(schema), "The updated case"),
                    "400": _error("Malformed JSON"),
                    "401": _error("Not logged in"),
                    "403": _error("Role does not allow this trigger"),
                    "404": _error("No such case"),
                    "409": _error("invalid_transition or conflict"),
                    "422": _error("Unknown trigger, bad parameter or failed guard"),
                },
            }
        },
        f"/api/v1/{collection}/{{case_id}}/history": {
            "get": {
                "summary": "The case's history, oldest first",
                "operationId": f"history_{case_type}",
                "parameters": [id_param, *PAGING],
                "responses": {"200": _json(_list_of("HistoryRow")), "404": _error("No such case")}
                | AUTH_ERRORS,
            }
        },
    }
    return paths


def _transition_schema(case_type: str) -> dict[str, Any]:
    machine = MACHINES[case_type]
    return {
        "type": "object",
        "required": ["trigger"],
        "properties": {
            "trigger": {"type": "string", "enum": list(machine.triggers)},
            "comment": {"type": ["string", "null"], "maxLength": 10000},
            "lock_version": {"type": ["integer", "null"]},
            "override": {"type": "boolean", "description": "Admin override, recorded as such"},
            "params": {"type": ["object", "null"]},
        },
    }


NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_TOKEN_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "name": {"type": "string"},
    "prefix": {"type": "string", "description": "The token's first characters, to recognise it"},
    "created_at": {"type": "string", "format": "date-time"},
    "last_used_at": {
        "type": ["string", "null"],
        "format": "date-time",
        "description": "When the token was last used, to within five minutes",
    },
    "revoked_at": NULLABLE_TIME,
}
_TOKEN_REQUIRED = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
TOKEN_SCHEMAS: dict[str, Any] = {
    "Token": {"type": "object", "required": _TOKEN_REQUIRED, "properties": _TOKEN_PROPERTIES},
    "CreatedToken": {
        "type": "object",
        "required": [*_TOKEN_REQUIRED, "token"],
        "properties": {
            **_TOKEN_PROPERTIES,
            "token": {
                "type": "string",
                "description": "The secret bearer token. Shown only in this answer; only its "
                "SHA-256 is stored.",
            },
        },
    },
    "NewToken": {
        "type": "object",
        "properties": {"name": {"type": ["string", "null"], "maxLength": 200}},
    },
}


def _token_paths() -> dict[str, Any]:
    return {
        "/api/v1/tokens": {
            "get": {
                "summary": "The caller's own API tokens, newest first (revoked ones included)",
                "operationId": "list_tokens",
                "parameters": PAGING,
                "responses": {"200": _json(_list_of("Token"))} | AUTH_ERRORS,
            },
            "post": {
                "summary": "Create an API token for the caller; the secret is returned once",
                "operationId": "create_token",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NewToken")}},
                },
                "responses": {
                    "201": _json(_ref("CreatedToken"), "Created"),
                    "400": _error("Malformed JSON"),
                    "401": _error("Not logged in"),
                    "422": _error("Bad name, or too many live tokens"),
                },
            },
        },
        "/api/v1/tokens/{token_id}": {
            "delete": {
                "summary": "Revoke one of the caller's own tokens (at once; again is no change)",
                "operationId": "revoke_token",
                "parameters": [
                    {
                        "name": "token_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {
                    "204": {"description": "Revoked"},
                    "401": _error("Not logged in"),
                    "404": _error("No such token of the caller's (another user's is not found)"),
                },
            }
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for collection, case_type in COLLECTIONS.items():
        paths |= _collection_paths(collection, case_type)
    paths["/api/v1/knowledge-supports"]["post"] = {
        "summary": "Create a knowledge support (need_identified)",
        "operationId": "create_knowledge_support",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("NewKnowledgeSupport")}},
        },
        "responses": {
            "201": _json(_ref("Case_knowledge_support"), "Created"),
            "400": _error("Malformed JSON"),
            "401": _error("Not logged in"),
            "403": _error("Not chair or process lead of the owner"),
            "422": _error("Invalid field"),
        },
    }
    paths["/api/v1/indicator-lists"]["post"] = {
        "summary": "Create an indikatorlista (drafting)",
        "operationId": "create_indicator_list",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("NewIndicatorList")}},
        },
        "responses": {
            "201": _json(_ref("Case_indicator_list"), "Created"),
            "400": _error("Malformed JSON"),
            "401": _error("Not logged in"),
            "403": _error("Not coordinator or process lead of the owner"),
            "422": _error("Invalid field"),
        },
    }
    paths["/api/v1/org-units"] = {
        "get": {
            "summary": "Organisation units",
            "operationId": "list_units",
            "parameters": [
                _filter("kind", {"type": "string", "enum": list(UnitKind)}),
                _filter("parent"),
                *PAGING,
            ],
            "responses": {"200": _json(_list_of("Unit"))} | AUTH_ERRORS,
        }
    }
    paths["/api/v1/knowledge-supports/{case_id}/chain-history"] = {
        "get": {
            "summary": "History across the tiers: the knowledge support and every readable case "
            "below it, oldest first",
            "operationId": "chain_history",
            "parameters": [
                {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                *PAGING,
            ],
            "responses": {"200": _json(_list_of("HistoryRow")), "404": _error("No such case")}
            | AUTH_ERRORS,
        }
    }
    paths["/api/v1/inbox"] = {
        "get": {
            "summary": "Cases the caller can act on now, earliest due first",
            "operationId": "inbox",
            "parameters": PAGING,
            "responses": {"200": _json(_list_of("AnyCase"))} | AUTH_ERRORS,
        }
    }
    paths["/api/v1/overdue"] = {
        "get": {
            "summary": "Cases the caller may read whose due date has passed, most overdue first",
            "operationId": "overdue",
            "parameters": PAGING,
            "responses": {"200": _json(_list_of("AnyCase"))} | AUTH_ERRORS,
        }
    }
    paths["/api/v1/overview"] = {
        "get": {
            "summary": "Per knowledge support: each region's adaptation and local implementations",
            "operationId": "overview",
            "parameters": [
                _filter("owner"),
                _filter("kind", {"type": "string", "enum": list(ks_states.KINDS)}),
                _filter("state", {"type": "string", "enum": [s.value for s in ks_states.State]}),
                *PAGING,
            ],
            "responses": {"200": _json(_list_of("OverviewRow"))} | AUTH_ERRORS,
        }
    }
    paths["/api/v1/me"] = {
        "get": {
            "summary": "The caller and their roles",
            "operationId": "me",
            "responses": {"200": _json(_ref("Me")), "401": _error("Not logged in")},
        }
    }
    paths |= _token_paths()
    paths |= openapi_followup.paths()
    paths |= openapi_basis.paths(COLLECTIONS)
    paths["/healthz"] = {
        "get": {
            "summary": "Liveness check",
            "operationId": "healthz",
            "security": [],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["status"],
                        "properties": {"status": {"type": "string", "const": "ok"}},
                    },
                    "The server is up",
                )
            },
        }
    }
    paths["/api/v1/openapi.json"] = {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "security": [],
            "responses": {
                "200": _json(
                    {"type": "object", "required": ["openapi", "info", "paths"]},
                    "OpenAPI 3.1 document",
                )
            },
        }
    }
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {
                            "type": "string",
                            "enum": [*ERROR_CODES, "unavailable", "server_error"],
                        },
                        "message": {"type": "string"},
                    },
                }
            },
        },
        "NewKnowledgeSupport": {
            "type": "object",
            "required": ["title", "kind", "owner"],
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": 300},
                "kind": {"type": "string", "enum": list(ks_states.KINDS)},
                "owner": {
                    "type": "string",
                    "description": "Code of an NPO, NSG or national council",
                },
                "description": {"type": ["string", "null"], "maxLength": 20000},
                "document_url": {
                    "type": ["string", "null"],
                    "maxLength": 2000,
                    "description": "The published document: a URL starting https:// or http://",
                },
            },
        },
        "NewIndicatorList": {
            "type": "object",
            "required": ["owner", "year", "scope", "title"],
            "properties": {
                "owner": {"type": "string", "description": "Code of a region or healthcare region"},
                "year": {"type": "integer", "minimum": 2000, "maximum": 2100},
                "scope": {"type": "string", "enum": list(il_states.SCOPES)},
                "title": {"type": "string", "minLength": 1, "maxLength": 300},
            },
        },
        "HistoryRow": {
            "type": "object",
            "required": [
                "trigger",
                "from_state",
                "to_state",
                "actor",
                "role",
                "at",
                "comment",
                "params",
            ],
            "properties": {
                "id": {"type": "integer"},
                "case": {"type": "integer", "description": "The case the event belongs to"},
                "trigger": {"type": "string"},
                "from_state": NULLABLE_STRING,
                "to_state": {"type": "string"},
                "actor": {"type": "string", "description": "The user's e-mail, or system"},
                "actor_name": {
                    "type": ["string", "null"],
                    "description": "The user's name now (null for system or a removed user)",
                },
                "role": {"type": ["string", "null"], "enum": [*list(Role), None]},
                "override": {"type": "boolean"},
                "at": {"type": "string", "format": "date-time"},
                "comment": NULLABLE_STRING,
                "params": {"type": "object"},
            },
        },
        "Unit": {
            "type": "object",
            "required": ["code", "name", "kind", "parent", "subkind", "subkind_label", "mirrors"],
            "properties": {
                "code": {"type": "string"},
                "name": {"type": "string"},
                "kind": {"type": "string", "enum": list(UnitKind)},
                "parent": NULLABLE_STRING,
                "subkind": {"type": ["string", "null"], "enum": [*Subkind, None]},
                "subkind_label": NULLABLE_STRING,
                "mirrors": NULLABLE_STRING,
            },
        },
        "Me": {
            "type": "object",
            "required": ["email", "name", "memberships"],
            "properties": {
                "email": {"type": "string"},
                "name": {"type": "string"},
                "memberships": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["unit", "role"],
                        "properties": {
                            "unit": {"type": "string"},
                            "role": {"type": "string", "enum": list(Role)},
                        },
                    },
                },
            },
        },
        "OverviewRow": {
            "type": "object",
            "required": ["knowledge_support", "regions"],
            "properties": {
                "knowledge_support": {
                    "type": "object",
                    "required": [
                        "id",
                        "title",
                        "kind",
                        "owner",
                        "state",
                        "state_label",
                        "version",
                        "published_version",
                    ],
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string"},
                        "kind": {"type": "string", "enum": list(ks_states.KINDS)},
                        "owner": {"type": "string"},
                        "state": {"type": "string", "enum": [s.value for s in ks_states.State]},
                        "state_label": {"type": "string"},
                        "version": {"type": "integer"},
                        "published_version": NULLABLE_INT,
                    },
                },
                "regions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["region", "adaptation", "local_implementations", "done_share"],
                        "properties": {
                            "region": {"type": "string"},
                            "region_name": {"type": "string"},
                            "adaptation": {
                                "type": ["object", "null"],
                                "description": (
                                    "The region's regional_adaptation (null: none). Its state "
                                    "is shown to every caller; its id and due date only to a "
                                    "caller who may read it (null otherwise)"
                                ),
                                "required": ["id", "state", "state_label", "due"],
                                "properties": {
                                    "id": NULLABLE_INT,
                                    "state": {
                                        "type": "string",
                                        "enum": [
                                            s.value
                                            for s in MACHINES[CaseType.REGIONAL_ADAPTATION].states
                                        ],
                                    },
                                    "state_label": {"type": "string"},
                                    "due": NULLABLE_DATE,
                                },
                            },
                            "local_implementations": {
                                "type": "object",
                                "description": "Local implementations of the region by state",
                                "propertyNames": {
                                    "enum": [
                                        s.value
                                        for s in MACHINES[CaseType.LOCAL_IMPLEMENTATION].states
                                    ]
                                },
                                "additionalProperties": {"type": "integer", "minimum": 1},
                            },
                            "done_share": {
                                "type": ["number", "null"],
                                "minimum": 0,
                                "maximum": 1,
                                "description": (
                                    "Share of the region's local implementations (cancelled "
                                    "ones left out) that are implemented, following up, closed "
                                    "or waived; null when there are none"
                                ),
                            },
                        },
                    },
                },
            },
        },
        "AnyCase": {"oneOf": [_ref(f"Case_{t}") for t in MACHINES]},
        **TOKEN_SCHEMAS,
        **openapi_followup.SCHEMAS,
        **openapi_basis.SCHEMAS,
    }
    for case_type in MACHINES:
        schemas[f"Case_{case_type}"] = _case_schema(case_type)
        schemas[f"Transition_{case_type}"] = _transition_schema(case_type)
    for operations in paths.values():
        for operation in operations.values():
            if "requestBody" in operation:  # kflow.web.limits: bodies are at most 2 MB
                operation["responses"].setdefault("413", _error("Body larger than 2 MB"))
            operation["responses"]["414"] = _error(
                f"URL (path and query string) longer than {MAX_URL_LENGTH} characters"
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kflow API",
            "version": "1",
            "description": (
                "Tracks every kunskapsstöd from NPO to local unit. States, triggers and roles "
                'follow lifecycle.md. Errors: {"error": {"code", "message"}}. A method a path '
                "does not take is 405 bad_request with an Allow header naming those it takes."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
    }
