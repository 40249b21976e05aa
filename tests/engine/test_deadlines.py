"""Due dates set when cases enter states (lifecycle.md §4), on both databases.

Figures from config/defaults.toml: adaptation received→decided 90 days, adopted→handed off 30
days, local assigned→acknowledged 10 business days, acknowledged→implemented 180 days (or the
hand-off's `due`), following_up every 365 days, review 24 months (12 for vårdprogram).
"""

from __future__ import annotations

import datetime as dt

import pytest

from kflow.calendar import add_months
from kflow.mailing.ladder import rung_dates
from tests.conftest import make_settings
from tests.support.api_support import Api
from tests.support.timeline import adaptation_at, at, handed_off, published_ks

D = dt.date.fromisoformat


def test_consultation_responses_are_due_at_the_consultation_deadline(world, session):
    ks = world.create_ks()
    for trigger in ("commission", "start_drafting", "approve_for_review"):
        world.fire(ks, trigger, "npo-chair", now=at("2026-03-03"))
    world.fire(
        ks, "open_consultation", "npo-chair", params={"channel": "remiss"}, now=at("2026-03-03")
    )
    response = world.case_of("consultation_response", ks, "vgr")
    assert ks.due == response.due == D("2026-06-12")
    # The first rung is five business days earlier (midsommarafton is later; 6 June a Saturday).
    assert response.next_reminder_on == D("2026-06-05")
    world.fire(response, "start_response", "vgr-coordinator", now=at("2026-03-10"))
    assert response.due == D("2026-06-12")  # drafting keeps the deadline
    world.fire(ks, "close_consultation", "npo-chair", now=at("2026-03-11"))
    session.refresh(response)
    assert (response.state, response.due, response.next_reminder_on) == ("missed", None, None)
    assert ks.due is None  # revising has no deadline


def test_adaptation_due_dates_follow_its_states(world, session):
    ks = published_ks(world, at("2026-03-02"))
    ra = world.adaptation(ks)
    assert ra.due == D("2026-03-02") + dt.timedelta(days=90) == D("2026-05-31")
    # The first rung: 5 business days before Sunday 31 May (29, 28, 27, 26, 25 May).
    assert ra.next_reminder_on == D("2026-05-25")
    world.fire(ra, "start_assessment", "vgr-coordinator", now=at("2026-03-20"))
    world.fire(ra, "put_on_hold", "vgr-lead", comment="Väntar på resurser", now=at("2026-03-21"))
    world.fire(ra, "resume", "vgr-lead", now=at("2026-04-20"))
    world.fire(ra, "submit_for_decision", "vgr-lead", comment="Klar", now=at("2026-04-21"))
    assert ra.due == D("2026-05-31")  # assessing, on_hold, awaiting_decision share it
    world.fire(ra, "adopt", "vgr-chair", params={"decision_ref": "HSN-1"}, now=at("2026-05-04"))
    assert ra.due == D("2026-06-03")  # adopted: 30 days to hand off
    world.fire(ra, "start_adaptation", "vgr-lead", now=at("2026-05-20"))
    assert ra.due == D("2026-06-03")
    world.fire(
        ra, "hand_off", "vgr-coordinator", params={"units": ["vgr-psyk-1"]}, now=at("2026-05-25")
    )
    assert (ra.due, ra.next_reminder_on) == (None, None)


def test_a_rejected_adaptation_has_no_due_date(world):
    ks = published_ks(world, at("2026-03-02"))
    ra = adaptation_at(world, ks, "awaiting_decision", at("2026-03-05"))
    world.fire(ra, "reject", "vgr-chair", comment="Inte aktuellt", now=at("2026-03-06"))
    assert (ra.state, ra.due, ra.next_reminder_on) == ("not_adopted", None, None)


def test_local_implementation_due_dates(world, session):
    _, li, li2 = handed_off(world, at("2026-03-02"))
    # assigned: 10 business days to acknowledge.
    assert li.due == li2.due == D("2026-03-16")
    assert li.next_reminder_on == D("2026-03-09")
    # acknowledged: 180 days to implement, counted from the acknowledgement.
    world.fire(li, "acknowledge", "local-member", now=at("2026-03-04"))
    assert li.due == D("2026-03-04") + dt.timedelta(days=180) == D("2026-08-31")
    world.fire(li, "start_implementation", "local-lead", now=at("2026-04-01"))
    assert li.due == D("2026-08-31")
    world.fire(
        li, "report_deviation", "local-lead", comment="Saknar utbildning", now=at("2026-05-01")
    )
    assert li.due == D("2026-08-31")  # a deviation keeps the implementation deadline
    world.fire(
        li, "resolve_deviation", "vgr-lead", comment="Utbildning bokad", now=at("2026-05-04")
    )
    world.fire(li, "report_implemented", "local-lead", now=at("2026-06-01"))
    assert (li.due, li.next_reminder_on) == (None, None)
    world.fire(li, "start_follow_up", "local-lead", now=at("2026-06-02"))
    assert li.due == D("2027-06-02")  # following_up: next measurement in 365 days


def test_the_hand_off_due_param_is_the_implementation_target(world, session):
    _, li, _ = handed_off(world, at("2026-03-02"), due="2026-05-29")
    assert li.target_date == D("2026-05-29")
    assert li.due == D("2026-03-16")  # acknowledging still takes 10 business days
    world.fire(li, "acknowledge", "local-lead", now=at("2026-03-03"))
    assert li.due == D("2026-05-29")
    assert li.next_reminder_on == D("2026-05-22")


@pytest.mark.parametrize(
    ("kind", "published", "review"),
    [
        ("kliniskt_kunskapsstod", "2026-03-02", "2028-03-02"),
        ("vardprogram", "2026-03-02", "2027-03-02"),
        ("vardriktlinje", "2026-08-31", "2028-08-31"),
    ],
)
def test_review_due_after_publication(world, kind, published, review):
    ks = published_ks(world, at(published), kind=kind)
    assert ks.next_review_due == ks.due == D(review)


def test_add_months_clamps_to_the_end_of_month():
    assert add_months(D("2024-02-29"), 24) == D("2026-02-28")
    assert add_months(D("2026-01-31"), 1) == D("2026-02-28")
    assert add_months(D("2026-08-31"), 13) == D("2027-09-30")
    assert add_months(D("2026-11-15"), 3) == D("2027-02-15")


def test_reassessment_recomputes_the_due_date(world, session):
    ks = published_ks(world, at("2026-03-02"))
    ra = adaptation_at(world, ks, "adopted", at("2026-03-10"))
    assert ra.due == D("2026-04-09")
    world.fire(ks, "start_revision", "npo-chair", now=at("2026-09-01"))
    for trigger in ("approve_for_review",):
        world.fire(ks, trigger, "npo-chair", now=at("2026-09-01"))
    world.fire(
        ks, "open_consultation", "npo-chair", params={"channel": "remiss"}, now=at("2026-09-01")
    )
    assert ks.due == D("2026-11-13")
    world.fire(ks, "close_consultation", "npo-chair", now=at("2026-09-02"))
    world.fire(ks, "submit_for_approval", "npo-lead", now=at("2026-09-02"))
    world.fire(ks, "publish", "npo-chair", params={"decision_ref": "NPO-2"}, now=at("2026-09-07"))
    session.refresh(ra)
    assert (ra.state, ra.adapted_version) == ("received", 2)
    assert ra.due == D("2026-09-07") + dt.timedelta(days=90) == D("2026-12-06")
    assert ra.next_reminder_on == D("2026-11-30")  # 5 business days before Sunday 6 Dec
    assert ks.due == ks.next_review_due == D("2028-09-07")


def test_figures_come_from_the_configuration(world, session):
    custom = make_settings(
        deadlines={
            "adaptation_decision_days": 60,
            "implementation_acknowledge_business_days": 3,
        },
        reminders={"upcoming_business_days_before": 2},
    )
    ks = world.create_ks()
    for step, (trigger, kwargs) in world.PATH.items():
        who = "npo-lead" if trigger == "submit_for_approval" else "npo-chair"
        if step == "consultation":
            kwargs = {"params": {"channel": "remiss", "deadline": "2099-01-01"}}
        world.fire(ks, trigger, who, now=at("2026-04-01"), settings=custom, **kwargs)
    ra = world.adaptation(ks)
    assert ra.due == D("2026-05-31")
    assert ra.next_reminder_on == D("2026-05-28")  # 2 business days: 29 and 28 May
    for trigger, who, kwargs in world.ADAPTATION_PATH.values():
        world.fire(ra, trigger, who, now=at("2026-04-01"), settings=custom, **kwargs)
    li = world.implementation(ra)
    # 3 business days from Wed 1 April: Thu 2, (Långfredag, weekend, Annandag påsk), Tue 7, Wed 8.
    assert li.due == D("2026-04-08")
    assert rung_dates(D("2026-04-08"), custom) == [
        ("upcoming", D("2026-04-02")),
        ("due", D("2026-04-08")),
        ("overdue", D("2026-04-15")),
        ("escalated", D("2026-04-29")),
    ]


def test_the_ladder_of_a_due_date(settings):
    assert rung_dates(D("2026-03-16"), settings) == [
        ("upcoming", D("2026-03-09")),
        ("due", D("2026-03-16")),
        ("overdue", D("2026-03-23")),
        ("escalated", D("2026-04-08")),  # across Easter 2026
    ]
    # Due on a non-working day: business days still count from it.
    assert rung_dates(D("2026-06-20"), settings) == [
        ("upcoming", D("2026-06-12")),
        ("due", D("2026-06-20")),
        ("overdue", D("2026-06-26")),
        ("escalated", D("2026-07-10")),
    ]


def test_the_api_shows_due(runtime, world):
    api = Api(runtime, world)
    ra, li, _ = handed_off(world, at("2026-03-02"))
    body = api.case("local-implementations", li.id, "local-lead")
    assert body["due"] == "2026-03-16"
    assert api.case("regional-adaptations", ra.id, "vgr-lead")["due"] is None
