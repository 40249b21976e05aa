"""/api/v1: the caller, units, cases and their transitions and history, the inbox, the overdue
list and the overview."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from kflow import paging
from kflow.calendar import local_date
from kflow.db import utcnow
from kflow.engine import create as create_case
from kflow.engine import fire as engine
from kflow.engine.read import case_to_fire, readable_case
from kflow.errors import ValidationError
from kflow.followup import lists
from kflow.followup import snapshot as _snapshot  # noqa: F401 (the reads a report's submit asks)
from kflow.queries import history as history_rows
from kflow.queries import inbox as inbox_list
from kflow.queries import lists as case_lists
from kflow.queries import overdue as overdue_list
from kflow.queries import overview as overview_data
from kflow.queries import people as people_queries
from kflow.queries import units as unit_queries
from kflow.states.base import CaseType
from kflow.web import boundary
from kflow.web.api.base import authority, bp, case_type_for, json_body, text_field
from kflow.web.api.serialize import Serializer, event, unit


def listing(page: paging.Page, items: list[Any]) -> Response:
    return jsonify(items=items, total=page.total)


@bp.get("/me")
def me() -> Response:
    auth = authority()
    user = auth.actor.user
    assert user is not None
    codes = unit_queries.codes(boundary.session(), (u for u, _ in auth.memberships))
    return jsonify(
        email=user.email,
        name=user.name,
        memberships=[{"unit": codes[u], "role": r} for u, r in auth.memberships],
    )


@bp.get("/org-units")
def org_units() -> Response:
    args = request.args
    page = unit_queries.listed(
        boundary.session(),
        kind=args.get("kind"),
        parent=args.get("parent"),
        limit=args.get("limit"),
        offset=args.get("offset"),
    )
    return listing(page, [unit(u, parent, mirrors) for u, parent, mirrors in page.items])


@bp.post("/knowledge-supports")
def create_knowledge_support() -> tuple[Response, int]:
    body = json_body()
    session = boundary.session()
    case = create_case.create_knowledge_support(
        session,
        authority(),
        title=text_field(body, "title"),
        kind=text_field(body, "kind"),
        owner=text_field(body, "owner"),
        description=text_field(body, "description"),
        document_url=text_field(body, "document_url"),
    )
    return jsonify(Serializer(session, authority()).case(case)), 201


@bp.post("/indicator-lists")
def create_indicator_list() -> tuple[Response, int]:
    body = json_body()
    session = boundary.session()
    year = body.get("year")
    case = lists.create_indicator_list(
        session,
        authority(),
        owner=text_field(body, "owner"),
        year=year if isinstance(year, int) else text_field(body, "year"),
        scope=text_field(body, "scope"),
        title=text_field(body, "title"),
    )
    return jsonify(Serializer(session, authority()).case(case)), 201


@bp.get("/<collection>")
def list_cases(collection: str) -> Response:
    case_type = case_type_for(collection)
    session = boundary.session()
    args = request.args
    page = case_lists.list_cases(
        session,
        authority(),
        case_type,
        knowledge_support=args.get("knowledge_support"),
        region=args.get("region"),
        unit=args.get("unit"),
        state=args.get("state"),
        owner=args.get("owner") if case_type == CaseType.KNOWLEDGE_SUPPORT else None,
        kind=args.get("kind") if case_type == CaseType.KNOWLEDGE_SUPPORT else None,
        limit=args.get("limit"),
        offset=args.get("offset"),
    )
    return listing(page, Serializer(session, authority()).cases(page.items))


@bp.get("/<collection>/<int:case_id>")
def get_case(collection: str, case_id: int) -> Response:
    session = boundary.session()
    case = readable_case(session, authority(), case_id, case_type_for(collection))
    return jsonify(Serializer(session, authority()).case(case))


@bp.post("/<collection>/<int:case_id>/transitions")
def fire(collection: str, case_id: int) -> Response:
    case_type = case_type_for(collection)
    body = json_body()
    session = boundary.session()
    auth = authority()
    row = case_to_fire(session, auth, case_id, case_type)
    override = body.get("override", False)
    if not isinstance(override, bool):
        raise ValidationError("override måste vara true eller false.")
    # Run again after a lost COMMIT, this request insists on the version it first read: if the
    # lost try did commit, the answer is 409 conflict, not the move applied twice.
    pinned = boundary.version_guard(f"case:{row.id}", row.lock_version)
    lock_version = body.get("lock_version")
    fired = engine.fire(
        session,
        auth,
        row,
        text_field(body, "trigger"),
        settings=boundary.runtime().settings,
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
    session = boundary.session()
    case = readable_case(session, authority(), case_id, case_type_for(collection))
    page = history_rows.history(
        session, case, limit=request.args.get("limit"), offset=request.args.get("offset")
    )
    people = people_queries.by_email(session, (row.actor for row in page.items))
    return listing(page, [event(row, people) for row in page.items])


@bp.get("/knowledge-supports/<int:case_id>/chain-history")
def chain_history(case_id: int) -> Response:
    """The knowledge support's history and that of every case below it the caller may read."""
    session = boundary.session()
    ks = readable_case(session, authority(), case_id, "knowledge_support")
    page = history_rows.chain_history(
        session, authority(), ks, limit=request.args.get("limit"), offset=request.args.get("offset")
    )
    people = people_queries.by_email(session, (row.actor for row in page.items))
    return listing(page, [event(row, people) for row in page.items])


@bp.get("/inbox")
def inbox() -> Response:
    session = boundary.session()
    page = inbox_list.inbox(
        session,
        authority(),
        limit=request.args.get("limit"),
        offset=request.args.get("offset"),
        near=inbox_list.near_until(local_date(utcnow()), boundary.runtime().settings),
        filters=inbox_list.Filters.parse(request.args),
    )
    return listing(page, Serializer(session, authority()).cases(page.items))


@bp.get("/overdue")
def overdue() -> Response:
    session = boundary.session()
    page = overdue_list.overdue(
        session,
        authority(),
        local_date(utcnow()),
        limit=request.args.get("limit"),
        offset=request.args.get("offset"),
    )
    return listing(page, Serializer(session, authority()).cases(page.items))


@bp.get("/overview")
def overview() -> Response:
    session = boundary.session()
    args = request.args
    page = overview_data.overview(
        session,
        owner=args.get("owner"),
        kind=args.get("kind"),
        state=args.get("state"),
        limit=args.get("limit"),
        offset=args.get("offset"),
    )
    return listing(page, Serializer(session, authority()).overview(list(page.items)))
