"""Min inkorg: every case the user can act on now, across all tiers, earliest due first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from kflow import paging
from kflow.queries import inbox as inbox_list
from kflow.queries.rows import case_rows
from kflow.web import boundary
from kflow.web.ui.base import authority, install
from kflow.web.ui.labels import today

bp = Blueprint("inbox", __name__)
install(bp)

PAGE_SIZE = 100


@bp.get("/")
def index() -> Any:
    session = boundary.session()
    auth = authority()
    limit, offset = paging.page_args(PAGE_SIZE, request.args.get("offset"))
    page = inbox_list.inbox(session, auth, limit=limit, offset=offset)
    rows = case_rows(session, auth, page.items, today())
    return render_template(
        "ui/inbox.html",
        rows=rows,
        total=page.total,
        offset=offset,
        limit=limit,
        overdue=sum(1 for row in rows if row.overdue),
    )
