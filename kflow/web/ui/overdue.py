"""Försenade: every case the user may read whose due date has passed, the most overdue first:
where a coordinator sees which regions and units lag behind."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from kflow import paging
from kflow.queries import overdue as overdue_list
from kflow.queries.rows import case_rows
from kflow.web import boundary
from kflow.web.ui.base import authority, install
from kflow.web.ui.labels import today

bp = Blueprint("overdue", __name__)
install(bp)

PAGE_SIZE = 100


@bp.get("/forsenade")
def index() -> Any:
    session = boundary.session()
    auth = authority()
    day = today()
    limit, offset = paging.page_args(PAGE_SIZE, request.args.get("offset"))
    page = overdue_list.overdue(session, auth, day, limit=limit, offset=offset)
    return render_template(
        "ui/overdue.html",
        rows=case_rows(session, auth, page.items, day),
        total=page.total,
        offset=offset,
        limit=limit,
    )
