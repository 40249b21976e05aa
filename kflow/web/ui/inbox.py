"""Min inkorg: the cases that wait for the user now, across all tiers, grouped by urgency
(Försenat, Förfaller denna vecka, Senare), with search and filters as a plain GET form; and the
start page that fits the user's roles."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for

from kflow import paging
from kflow.accounts import calendar_feeds
from kflow.org.roles import Role
from kflow.queries import inbox as inbox_list
from kflow.queries.waiting import URGENCY_LABELS, inbox_groups
from kflow.states import MACHINES
from kflow.web import boundary
from kflow.web.ui.base import authority, install
from kflow.web.ui.labels import today

bp = Blueprint("inbox", __name__)
install(bp)

PAGE_SIZE = 100
# Roles that act on no case: a user holding only these starts on Översikt.
NON_ACTING = frozenset({Role.ADMIN, Role.VIEWER})


def start_url() -> str:
    """Where the signed-in user starts: Översikt for administrators and readers (nothing
    waits for them), Min inkorg for everyone else."""
    roles = {role for _, role in authority().memberships}
    if roles and roles <= NON_ACTING:
        return url_for("overview.index")
    return url_for("inbox.index")


def near() -> Any:
    return inbox_list.near_until(today(), boundary.runtime().settings)


def filter_choices(session: Any, auth: Any, waiting: int | None = None) -> dict[str, Any]:
    """The filter form's options: case types, states per type, the inbox's knowledge supports
    (None past inbox_list.SUPPORTS_UP_TO_CASES waiting cases: search by title instead)."""
    return {
        "types": [(t, m.label) for t, m in MACHINES.items()],
        "states": [(m.label, [(s, m.state_label(s)) for s in m.waits]) for m in MACHINES.values()],
        "supports": inbox_list.supports(session, auth, near(), waiting=waiting),
    }


@bp.get("/")
def index() -> Any:
    session = boundary.session()
    auth = authority()
    day = today()
    limit, offset = paging.page_args(PAGE_SIZE, request.args.get("offset"))
    filters = inbox_list.Filters.parse(request.args)
    page = inbox_list.inbox(session, auth, limit=limit, offset=offset, near=near(), filters=filters)
    groups = inbox_groups(session, auth, page.items, day, near())
    user = auth.actor.user
    assert user is not None
    return render_template(
        "ui/inbox.html",
        groups=groups,
        group_labels=URGENCY_LABELS,
        total=page.total,
        offset=offset,
        limit=limit,
        overdue=sum(1 for u, rows in groups if u == "overdue" for _ in rows),
        bulk=any(row.bulk for _, rows in groups for row in rows),
        filters=filters,
        query={k: v for k, v in request.args.items() if k != "offset" and v},
        choices=filter_choices(session, auth, None if filters.active else page.total),
        supports_limit=f"{inbox_list.SUPPORTS_UP_TO_CASES:,}".replace(",", "\N{NO-BREAK SPACE}"),
        feed=calendar_feeds.active(session, user.id),
    )
