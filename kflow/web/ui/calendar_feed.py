"""The personal calendar feed: the due dates of a user's inbox as iCalendar, at a secret URL an
Outlook (or any calendar) subscribes to, and the inbox's forms that make and revoke that URL.

The feed itself needs no sign-in (a calendar cannot sign in): the secret in the URL is the key.
An unknown secret is 404; a revoked one 410 Gone. The feed shows what the inbox shows its user,
read with that user's Authority, so another user's secret shows only that user's own cases.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from kflow.accounts import calendar_feeds
from kflow.db import utcnow
from kflow.engine.authority import Actor, Authority
from kflow.errors import NotFound
from kflow.paging import MAX_LIMIT
from kflow.queries import inbox as inbox_list
from kflow.queries.waiting import inbox_groups
from kflow.web import boundary
from kflow.web.ui import ical
from kflow.web.ui.base import authority, install
from kflow.web.ui.inbox import bp as inbox_bp
from kflow.web.ui.labels import today

bp = Blueprint("calendar", __name__)
install(bp, login=False)

MAX_EVENTS = 2000


def _events(auth: Authority, host: str) -> list[ical.Event]:
    session = boundary.session()
    day = today()
    near = inbox_list.near_until(day, boundary.runtime().settings)
    cases: list[Any] = []
    while len(cases) < MAX_EVENTS:
        page = inbox_list.inbox(session, auth, limit=MAX_LIMIT, offset=len(cases), near=near)
        cases += page.items
        if len(cases) >= page.total or not page.items:
            break
    dated = [c for c in cases if c.due is not None]
    events = []
    for _, rows in inbox_groups(session, auth, dated, day, near):
        for row in rows:
            listed = row.listed
            case = listed.case
            assert case.due is not None  # only dated cases are asked for
            action = " / ".join(row.actions) or "Hantera"
            what = f"{listed.type_label} #{case.id}"
            summary = f"{action}: {listed.title} ({what})" if listed.title else f"{action}: {what}"
            events.append(
                ical.Event(
                    uid=f"kflow-arende-{case.id}@{host}",
                    day=case.due,
                    summary=summary,
                    description=f"{what}, {listed.unit}. Läge: {listed.state_label}. "
                    f"Åtgärd: {action}.",
                    url=url_for("cases.show", case_id=case.id, _external=True),
                )
            )
    return events


@bp.get("/kalender/<secret>.ics")
def feed(secret: str) -> Any:
    session = boundary.session()
    user, revoked = calendar_feeds.owner(session, secret)
    if user is None:
        raise NotFound("Kalenderlänken finns inte.")
    if revoked:
        return Response("Kalenderlänken har återkallats.\n", 410, mimetype="text/plain")
    auth = Authority(session, Actor(user))
    body = ical.calendar("kflow: Min inkorg", _events(auth, request.host), utcnow())
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="kflow-inkorg.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@inbox_bp.post("/inkorg/kalender")
def create_feed() -> Any:
    """A new feed link (the old one stops working); shown once, as an API token is."""
    user = authority().actor.user
    assert user is not None
    secret = calendar_feeds.create(boundary.session(), user.id)
    url = url_for("calendar.feed", secret=secret, _external=True)
    page = render_template("ui/calendar_feed.html", url=url, back=_back())
    return page, 200, {"Cache-Control": "no-store"}


@inbox_bp.post("/inkorg/kalender/aterkalla")
def revoke_feed() -> Any:
    user = authority().actor.user
    assert user is not None
    if calendar_feeds.revoke(boundary.session(), user.id, user):
        flash("Kalenderlänken är återkallad. Den gamla adressen fungerar inte längre.", "success")
    return redirect(_back() + "#kalender", 303)


def _back() -> str:
    """Where the form was: Min inkorg, or Mitt konto (``tillbaka=konto``)."""
    if request.form.get("tillbaka") == "konto":
        return url_for("account.index")
    return url_for("inbox.index")
