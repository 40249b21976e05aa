"""The JSON API under /api/v1: bearer tokens, JSON in and out, errors as lifecycle.md §3."""

from __future__ import annotations

import functools
import re
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from kflow.accounts import tokens as api_tokens
from kflow.calendar import local_date
from kflow.db import utcnow
from kflow.engine import create as create_case
from kflow.engine import fire as engine
from kflow.engine.authority import Actor, Authority
from kflow.engine.read import case_to_fire, readable_case
from kflow.errors import (
    Conflict,
    KflowError,
    NotFound,
    Unauthenticated,
    ValidationError,
)
from kflow.org.models import Unit
from kflow.org.roles import UnitKind
from kflow.queries import lists as queries
from kflow.web import db, limits, retry
from kflow.web.api.openapi import COLLECTIONS, openapi_document
from kflow.web.api.serialize import Serializer, event, unit

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.openapi"}


def error_response(error: KflowError) -> Response:
    response = jsonify(error.to_dict())
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kflow"'
    return response


@bp.errorhandler(KflowError)
def _kflow_error(error: KflowError) -> Response:
    return error_response(error)


HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found"}


# Werkzeug's own descriptions are English; these say the same in Swedish (§3).
HTTP_MESSAGES = {
    404: "Det finns ingen sådan adress i API:t. Se /api/v1/openapi.json.",
    405: "Metoden går inte att använda på den här adressen; se rubriken Allow.",
}


def http_error_response(error: HTTPException) -> Response:
    """An HTTP error (404 and 405 from routing, 414, ...) as a §3 JSON error. Another 4xx is
    ``bad_request``; a 405 keeps Werkzeug's ``Allow`` header, naming the methods the path takes."""
    status = error.code or 500
    code = HTTP_CODES.get(status, "bad_request" if status < 500 else "server_error")
    message = error.description
    if message == type(error).description:  # Werkzeug's default, not one of kflow's
        message = HTTP_MESSAGES.get(status, message)
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers["Allow"] = value
    return response


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return http_error_response(error)


@bp.before_request
def _authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Logga in: skicka Authorization: Bearer <token>.")
    found = api_tokens.authenticate(db.session(), token.strip())
    if found is None:
        raise Unauthenticated("Ogiltig eller återkallad token.")
    if found.needs_touch(utcnow()):
        g.api_token_touch = found.token_id  # written after the request (kflow.web.api.tokens)
    g.authority = Authority(db.session(), Actor(found.user))
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


@bp.after_request
def _commit(response: Response) -> Response:
    """The request boundary owns the transaction: commit what a successful write did."""
    if request.method in db.SAFE_METHODS or response.status_code >= 400:
        return response
    try:
        db.commit()
    except (StaleDataError, IntegrityError):
        return error_response(Conflict("Ärendet ändrades samtidigt av någon annan; försök igen."))
    # A transient database error goes on to kflow.web.retry, which runs the request again.
    return response


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


def listing(page: queries.Page, items: list[Any]) -> Response:
    return jsonify(items=items, total=page.total)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.get("/me")
def me() -> Response:
    auth = authority()
    user = auth.actor.user
    assert user is not None
    session = db.session()
    codes = {unit_id: code for unit_id, code in session.execute(select(Unit.id, Unit.code))}
    return jsonify(
        email=user.email,
        name=user.name,
        memberships=[{"unit": codes[u], "role": r} for u, r in auth.memberships],
    )


@bp.get("/org-units")
def org_units() -> Response:
    session = db.session()
    parent = aliased(Unit)
    stmt = select(Unit, parent.code).outerjoin(parent, Unit.parent_id == parent.id)
    kind = request.args.get("kind")
    if kind:
        if kind not in set(UnitKind):
            raise ValidationError(f"kind måste vara en av: {', '.join(UnitKind)}.")
        stmt = stmt.where(Unit.kind == kind)
    parent_code = request.args.get("parent")
    if parent_code:
        parent_unit = session.scalar(select(Unit).where(Unit.code == parent_code))
        if parent_unit is None:
            raise ValidationError(f"parent: det finns ingen enhet med koden '{parent_code}'.")
        stmt = stmt.where(Unit.parent_id == parent_unit.id)
    limit, offset = queries.page_args(request.args.get("limit"), request.args.get("offset"))
    rows = session.execute(stmt.order_by(Unit.kind, Unit.name)).all()
    items = [unit(u, p) for u, p in rows]
    return jsonify(items=items[offset : offset + limit], total=len(items))


@bp.post("/knowledge-supports")
def create_knowledge_support() -> tuple[Response, int]:
    body = json_body()
    session = db.session()
    case = create_case.create_knowledge_support(
        session,
        authority(),
        title=text_field(body, "title"),
        kind=text_field(body, "kind"),
        owner=text_field(body, "owner"),
        description=text_field(body, "description"),
    )
    return jsonify(Serializer(session, authority()).case(case)), 201


@bp.get("/<collection>")
def list_cases(collection: str) -> Response:
    case_type = case_type_for(collection)
    session = db.session()
    args = request.args
    page = queries.list_cases(
        session,
        authority(),
        case_type,
        knowledge_support=args.get("knowledge_support"),
        region=args.get("region"),
        unit=args.get("unit"),
        state=args.get("state"),
        owner=args.get("owner") if case_type == "knowledge_support" else None,
        kind=args.get("kind") if case_type == "knowledge_support" else None,
        limit=args.get("limit"),
        offset=args.get("offset"),
    )
    return listing(page, Serializer(session, authority()).cases(page.items))


@bp.get("/<collection>/<int:case_id>")
def get_case(collection: str, case_id: int) -> Response:
    session = db.session()
    case = readable_case(session, authority(), case_id, case_type_for(collection))
    return jsonify(Serializer(session, authority()).case(case))


@bp.post("/<collection>/<int:case_id>/transitions")
def fire(collection: str, case_id: int) -> Response:
    case_type = case_type_for(collection)
    body = json_body()
    session = db.session()
    auth = authority()
    row = case_to_fire(session, auth, case_id, case_type)
    override = body.get("override", False)
    if not isinstance(override, bool):
        raise ValidationError("override måste vara true eller false.")
    # Run again after a lost COMMIT, this request insists on the version it first read: if the
    # lost try did commit, the answer is 409 conflict, not the move applied twice.
    pinned = retry.version_guard(f"case:{row.id}", row.lock_version)
    lock_version = body.get("lock_version")
    fired = engine.fire(
        session,
        auth,
        row,
        text_field(body, "trigger"),
        settings=db.runtime().settings,
        comment=text_field(body, "comment"),
        params=body.get("params"),
        lock_version=pinned if lock_version is None else lock_version,
        override=override,
    )
    data = Serializer(session, auth).case(fired.case)
    if fired.outcome:
        data["outcome"] = fired.outcome
    return jsonify(data)


@bp.get("/<collection>/<int:case_id>/history")
def case_history(collection: str, case_id: int) -> Response:
    session = db.session()
    case = readable_case(session, authority(), case_id, case_type_for(collection))
    page = queries.history(
        session, case, limit=request.args.get("limit"), offset=request.args.get("offset")
    )
    return listing(page, [event(row) for row in page.items])


@bp.get("/knowledge-supports/<int:case_id>/chain-history")
def chain_history(case_id: int) -> Response:
    """The knowledge support's history and that of every case below it the caller may read."""
    session = db.session()
    ks = readable_case(session, authority(), case_id, "knowledge_support")
    page = queries.chain_history(
        session, authority(), ks, limit=request.args.get("limit"), offset=request.args.get("offset")
    )
    return listing(page, [event(row) for row in page.items])


@bp.get("/inbox")
def inbox() -> Response:
    session = db.session()
    page = queries.inbox(
        session, authority(), limit=request.args.get("limit"), offset=request.args.get("offset")
    )
    return listing(page, Serializer(session, authority()).cases(page.items))


@bp.get("/overdue")
def overdue() -> Response:
    session = db.session()
    page = queries.overdue(
        session,
        authority(),
        local_date(utcnow()),
        limit=request.args.get("limit"),
        offset=request.args.get("offset"),
    )
    return listing(page, Serializer(session, authority()).cases(page.items))


@bp.get("/overview")
def overview() -> Response:
    session = db.session()
    args = request.args
    page = queries.overview(
        session,
        owner=args.get("owner"),
        kind=args.get("kind"),
        state=args.get("state"),
        limit=args.get("limit"),
        offset=args.get("offset"),
    )
    return listing(page, Serializer(session, authority()).overview(list(page.items)))


# /api/v1/tokens and the recording of token use live in their own module, on this blueprint.
from kflow.web.api import tokens as _tokens  # noqa: E402, F401
