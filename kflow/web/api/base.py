"""The API's blueprint and what every operation shares: bearer tokens, JSON in, errors as
lifecycle.md §3. The operations are in kflow.web.api.cases and kflow.web.api.tokens."""

from __future__ import annotations

import functools
import re
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from kflow.accounts import tokens as api_tokens
from kflow.db import utcnow
from kflow.engine.authority import Actor, Authority
from kflow.errors import KflowError, NotFound, Unauthenticated, ValidationError
from kflow.web import boundary, errors, limits
from kflow.web.api.openapi import COLLECTIONS, openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.register_error_handler(KflowError, errors.error_response)
bp.register_error_handler(HTTPException, errors.http_error_response)

PUBLIC_ENDPOINTS = {"api.openapi"}


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.before_request
def _authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Logga in: skicka Authorization: Bearer <token>.")
    found = api_tokens.authenticate(boundary.session(), token.strip())
    if found is None:
        raise Unauthenticated("Ogiltig eller återkallad token.")
    if found.needs_touch(utcnow()):
        token_id = found.token_id
        boundary.afterwards(
            f"last_used_at of token {token_id}",
            lambda session: api_tokens.touch(session, token_id, utcnow()),
        )
    g.authority = Authority(boundary.session(), Actor(found.user))
    g.api_token_minter = found.minted_by_id


_PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")


@functools.cache
def _declared_query(template: str, method: str) -> frozenset[str]:
    """The query parameters the OpenAPI document declares for an operation."""
    operation = openapi_document()["paths"].get(template, {}).get(method.lower(), {})
    return frozenset(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")


def refuse_empty_parameters() -> None:
    """A declared query parameter given without a value (``?state=``) is refused, not ignored:
    the caller meant to filter or page by something (the document says ``minLength: 1``)."""
    if request.url_rule is None or not request.args:
        return
    template = request.url_rule.rule
    collection = (request.view_args or {}).get("collection")
    if isinstance(collection, str):
        template = template.replace("<collection>", collection)
    declared = _declared_query(_PLACEHOLDER.sub(r"{\1}", template), request.method)
    for name, value in request.args.items(multi=True):
        if name in declared and not value.strip():
            raise ValidationError(f"{name} är tomt: ange ett värde eller utelämna parametern.")


# After authentication, so that a caller without a token learns nothing from these checks.
bp.before_request(limits.check_fields)
bp.before_request(refuse_empty_parameters)


def authority() -> Authority:
    auth: Authority = g.authority
    return auth


def json_body() -> dict[str, Any]:
    """The body as a JSON object: strict JSON, bounded depth, storable text (kflow.web.limits)."""
    return limits.json_object(request)


def text_field(body: dict[str, Any], name: str) -> Any:
    """``body[name]``, which must be text when given (a list or number there is 422, not 500)."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{name} måste vara text.")
    return value


def case_type_for(collection: str) -> str:
    if collection not in COLLECTIONS:
        raise NotFound(f"Okänd samling '{collection}'.")
    return COLLECTIONS[collection]
