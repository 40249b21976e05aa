"""The personal calendar feed: iCalendar of the inbox's due dates, revocable, per user."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from kflow.accounts.models import CalendarFeed
from kflow.web.ui import ical
from tests.support.ui_support import Page, Ui
from tests.support.world import World


def make_feed(ui: Ui) -> str:
    page = ui.post("/inkorg/kalender", {}, expect=200)
    url = page.doc.by_id("kalenderlank").attrs["value"]
    assert url.startswith("http://localhost/kalender/kal_") and url.endswith(".ics")
    return url.removeprefix("http://localhost")


def unfolded(page: Page) -> list[str]:
    body = page.response.get_data(as_text=True)
    assert body.endswith("\r\n") and "\n" not in body.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))
    return body.replace("\r\n ", "").split("\r\n")


def body(ui: Ui, path: str) -> str:
    return ui.get(path).response.get_data(as_text=True)


def test_the_feed_lists_the_inbox_due_dates(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    li = world.implementation(ra)
    ui.login("local-lead")
    path = make_feed(ui)
    ui.client.post("/logout")
    page = ui.get(path)  # a calendar cannot sign in: the secret is the key
    assert page.response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    lines = unfolded(page)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines
    assert lines.count("BEGIN:VEVENT") == 1
    assert f"UID:kflow-arende-{li.id}@localhost" in lines
    assert f"DTSTART;VALUE=DATE:{li.due:%Y%m%d}" in lines
    assert f"DTEND;VALUE=DATE:{li.due + dt.timedelta(days=1):%Y%m%d}" in lines
    assert f"SUMMARY:Kvittera: Depression hos vuxna (Lokalt införande #{li.id})" in lines
    assert f"URL:http://localhost/arenden/{li.id}" in lines
    assert ui.get(path).response.get_data(as_text=True).count("UID:") == 1  # stable


def test_revoked_and_foreign_feeds(ui: Ui, world: World) -> None:
    ra = world.adaptation_in("implementing")
    mine, theirs = world.implementation(ra), world.implementation(ra, "vgr-psyk-2")
    ui.login("local2-lead")
    other = make_feed(ui)
    ui.login("local-lead")
    first = make_feed(ui)
    second = make_feed(ui)  # a new link: the first stops working
    assert ui.get(first, expect=410).status == 410
    assert f"arende-{mine.id}@" in body(ui, second)
    assert f"arende-{mine.id}@" not in body(ui, other)  # another's link shows only theirs
    assert f"arende-{theirs.id}@" in body(ui, other)
    page = ui.get("/")
    assert "Återkalla kalenderlänken" in page.text
    assert ui.post("/inkorg/kalender/aterkalla", {}, expect=303).status == 303
    assert ui.get(second, expect=410).status == 410
    assert "Återkalla kalenderlänken" not in ui.get("/").text
    ui.get("/kalender/kal_finnsinte.ics", expect=404)
    ui.get("/kalender/nonsense.ics", expect=404)
    stored = world.session.scalars(select(CalendarFeed.token_hash)).all()
    secret = re.sub(r".*/(kal_[^.]+)\.ics", r"\1", second)
    assert secret not in stored and len(stored) == 3


def test_ical_text_is_escaped_and_folded() -> None:
    assert ical.escape("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne"
    line = "SUMMARY:" + "å" * 60
    folded = ical.fold(line)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == line
