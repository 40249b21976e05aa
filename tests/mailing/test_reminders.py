"""The reminder ladder, digests, immediate mail and the automatic close (lifecycle.md §4).

In-process on both databases: the sweep and the digest builder run in transactions of their own
(savepoints of the test's rolled-back transaction); what they decided is read back from the
reminders, notifications and outbox tables and from the rendered mails.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from kflow.cases.events import CaseEvent
from kflow.jobs.digests import build_digests
from kflow.jobs.sweep import sweep
from kflow.mailing.models import Notification, OutboxMail, Reminder
from tests.conftest import make_settings
from tests.support.smtp import case_links, digest_items
from tests.support.timeline import (
    adaptation_at,
    at,
    count,
    handed_off,
    notified,
    outbox,
    published_ks,
    rungs,
)

D = dt.date.fromisoformat
# Handed off Monday 2 March 2026: due 16 March; upcoming 9 March, overdue 23 March, escalated
# 8 April (Långfredag 3 April and Annandag påsk 6 April are not counted).
LADDER = {"upcoming": "2026-03-09", "due": "2026-03-16", "overdue": "2026-03-23"}
LADDER["escalated"] = "2026-04-08"
LOCAL = {"local-lead", "local-member"}


def digests(session, day: str) -> dict[str, OutboxMail]:
    """The digest mails of one day, by recipient name."""
    rows = outbox(session, OutboxMail.idempotency_key.like(f"digest:%:{day}"))
    return {row.to_addr.removesuffix("@test.se"): row for row in rows}


def test_the_ladder_of_a_local_implementation(runtime, world, session):
    _, li, li2 = handed_off(world, at("2026-03-02"))
    assert sweep(runtime, at("2026-03-06", 8)).rungs == 0  # before the first rung
    expected = {
        "upcoming": LOCAL,
        "due": LOCAL,
        "overdue": LOCAL | {"vgr-lead"},  # + the region's process lead
        "escalated": LOCAL | {"vgr-lead", "vgr-chair"},  # + the region's chair
    }
    for rung, day in LADDER.items():
        result = sweep(runtime, at(day, 8))
        assert result.rungs == 2, rung  # li and li2
        assert notified(session, world, li, rung) == expected[rung]
        assert notified(session, world, li2, rung) == (expected[rung] - LOCAL) | {"local2-lead"}
        again = sweep(runtime, at(day, 16))
        assert (again.rungs, again.notifications) == (0, 0), rung
    assert rungs(session, li) == [(rung, D("2026-03-16")) for rung in LADDER]
    session.refresh(li)
    assert li.next_reminder_on is None
    for later in ("2026-04-09", "2026-06-01", "2027-01-04"):
        sweep(runtime, at(later, 8))  # other regions' adaptations have rungs of their own
        assert len(rungs(session, li)) == len(rungs(session, li2)) == 4
    # Nothing for the people who cannot act on an assigned implementation.
    assert notified(session, world, li, "escalated").isdisjoint({"vgr-coordinator", "npo-chair"})


def test_nothing_before_a_rung_and_the_next_day_is_remembered(runtime, world, session):
    _, li, _ = handed_off(world, at("2026-03-02"))
    assert li.next_reminder_on == D("2026-03-09")
    sweep(runtime, at("2026-03-09", 0, 30))
    session.refresh(li)
    assert li.next_reminder_on == D("2026-03-16")
    assert sweep(runtime, at("2026-03-15", 23, 59)).rungs == 0
    # 23:30 UTC on 15 March is already 16 March in Stockholm.
    late = dt.datetime(2026, 3, 15, 23, 30, tzinfo=dt.UTC)
    assert sweep(runtime, late).rungs == 2
    assert rungs(session, li)[-1] == ("due", D("2026-03-16"))


@pytest.mark.parametrize(
    ("first_run", "sent"),
    [
        ("2026-03-16", ["due"]),
        ("2026-03-25", ["overdue"]),
        ("2026-04-08", ["escalated"]),
        ("2026-09-01", ["escalated"]),
    ],
)
def test_only_the_latest_rung_is_sent_after_downtime(runtime, world, session, first_run, sent):
    sent = list(sent)
    _, li, _ = handed_off(world, at("2026-03-02"))
    sweep(runtime, at(first_run, 10))
    assert [rung for rung, _ in rungs(session, li)] == sent
    # Later rungs still come, each once; the skipped ones never do.
    for rung, day in LADDER.items():
        if D(day) > D(first_run):
            sweep(runtime, at(day, 10))
            sent.append(rung)
    assert [rung for rung, _ in rungs(session, li)] == sent


def test_adaptation_escalates_to_the_owner_npo(runtime, world, session):
    ks = published_ks(world, at("2026-03-02"))
    ra = adaptation_at(world, ks, "adopted", at("2026-03-02"))
    assert ra.due == D("2026-04-01")
    acting = {"vgr-coordinator", "vgr-lead", "vastra-lead"}  # vgr lies in sjukvårdsregion Västra
    # Overdue 5 business days after Wed 1 April: 2, 7, 8, 9, 10 April (Easter in between).
    sweep(runtime, at("2026-04-09", 8))
    assert [r for r, _ in rungs(session, ra)] == ["due"]
    assert notified(session, world, ra, "due") == acting
    sweep(runtime, at("2026-04-10", 8))
    assert notified(session, world, ra, "overdue") == acting | {"npo-lead"}
    sweep(runtime, at("2026-04-24", 8))  # escalated: 15 business days after
    assert notified(session, world, ra, "escalated") == acting | {"npo-lead", "npo-chair"}
    assert [r for r, _ in rungs(session, ra)] == ["due", "overdue", "escalated"]


def test_assigned_adaptation_reminds_the_regional_group(runtime, world, session):
    ks = published_ks(world, at("2026-03-02"))
    ra = world.adaptation(ks)
    world.fire(
        ra, "assign", "vgr-coordinator", params={"unit": "vgr-rpo-psyk"}, now=at("2026-03-03")
    )
    sweep(runtime, at("2026-05-25", 8))  # upcoming: due 31 May
    people = notified(session, world, ra, "upcoming")
    assert {"rpo-coordinator", "rpo-lead", "vgr-coordinator", "vgr-lead"} <= people
    assert "rpo-chair" not in people  # a chair cannot act on a received adaptation


def test_a_new_due_date_gets_a_ladder_of_its_own(runtime, world, session):
    _, li, _ = handed_off(world, at("2026-03-02"))
    sweep(runtime, at("2026-03-09", 8))
    world.fire(li, "acknowledge", "local-lead", now=at("2026-03-10"))
    assert li.due == D("2026-09-06")
    assert sweep(runtime, at("2026-03-16", 8)).rungs == 1  # li2 only: li is acknowledged
    sweep(runtime, at("2026-08-31", 8))  # five business days before Sunday 6 September
    assert rungs(session, li) == [("upcoming", D("2026-03-16")), ("upcoming", D("2026-09-06"))]
    # The acknowledged implementation is the local lead's to act on; a member cannot start it.
    assert notified(session, world, li, "upcoming", D("2026-03-16")) == LOCAL
    assert notified(session, world, li, "upcoming", D("2026-09-06")) == {"local-lead"}
    world.fire(li, "start_implementation", "local-lead", now=at("2026-09-01"))
    world.fire(li, "report_implemented", "local-lead", now=at("2026-09-02"))
    assert (li.due, li.next_reminder_on) == (None, None)
    sweep(runtime, at("2026-12-01", 8))
    assert len(rungs(session, li)) == 2  # implemented: no due date, no more reminders


def test_inactive_users_are_not_reminded(runtime, world, session):
    _, li, _ = handed_off(world, at("2026-03-02"))
    world.users["local-member"].is_active = False
    session.flush()
    sweep(runtime, at("2026-03-09", 8))
    assert notified(session, world, li, "upcoming") == {"local-lead"}


def test_daily_digest_holds_what_fell_due_since_the_last_one(runtime, world, session):
    _, li, li2 = handed_off(world, at("2026-03-02"))
    sweep(runtime, at("2026-03-09", 7))
    assert build_digests(runtime, at("2026-03-09", 7, 5)) == 3
    day1 = digests(session, "2026-03-09")
    assert set(day1) == LOCAL | {"local2-lead"}
    assert digest_items(day1["local-lead"].body_text) == [("upcoming", li.id)]
    assert day1["local-lead"].subject == "Påminnelse: Förfaller snart – Depression hos vuxna"
    assert build_digests(runtime, at("2026-03-09", 15)) == 0  # one a day
    assert count(session, OutboxMail) == len(outbox(session))
    sweep(runtime, at("2026-03-23", 7))  # overdue; due (16 March) is skipped as later-only
    assert build_digests(runtime, at("2026-03-23", 7)) == 4
    day2 = digests(session, "2026-03-23")
    assert digest_items(day2["local-lead"].body_text) == [("overdue", li.id)]  # nothing repeated
    lead = day2["vgr-lead"]
    assert sorted(digest_items(lead.body_text)) == sorted([("overdue", li.id), ("overdue", li2.id)])
    assert lead.subject == "Påminnelser från kflow: 2 ärenden"
    assert "2 ärenden behöver din uppmärksamhet" in lead.body_text
    assert "processledaren en nivå upp har också fått besked" in lead.body_text
    for row in day2.values():
        assert row.status == "pending" and row.attempts == 0
    waiting = count(session, Notification, Notification.digest_key.is_(None))
    assert waiting == 0


def test_digest_hour_and_working_days(runtime, world, session):
    handed_off(world, at("2026-03-02"))
    sweep(runtime, at("2026-03-09", 6))
    assert build_digests(runtime, at("2026-03-09", 6, 59)) == 0  # before 07:00 Stockholm
    assert build_digests(runtime, at("2026-03-07", 9)) == 0  # a Saturday
    assert build_digests(runtime, at("2026-04-03", 9)) == 0  # Långfredagen
    assert build_digests(runtime, at("2026-03-07", 9), force=True) == 3
    assert set(digests(session, "2026-03-07")) == LOCAL | {"local2-lead"}


def test_a_rung_after_todays_digest_waits_for_tomorrow(runtime, world, session):
    _, li, _ = handed_off(world, at("2026-03-02"))
    sweep(runtime, at("2026-03-09", 7))
    assert build_digests(runtime, at("2026-03-09", 7, 5)) == 3
    # Later that day a second hand-off, acknowledged at once with a target for tomorrow:
    # its upcoming rung has already come, but local-lead had today's digest.
    ks2 = published_ks(world, at("2026-03-09", 10))
    ra2 = adaptation_at(world, ks2, "adopted", at("2026-03-09", 10))
    world.fire(
        ra2,
        "hand_off",
        "vgr-coordinator",
        params={"units": ["vgr-psyk-1"], "due": "2026-03-10"},
        now=at("2026-03-09", 10),
    )
    li_b = world.implementation(ra2)
    world.fire(li_b, "acknowledge", "local-lead", now=at("2026-03-09", 10, 5))
    assert li_b.due == D("2026-03-10")
    assert sweep(runtime, at("2026-03-09", 11)).rungs == 1
    assert build_digests(runtime, at("2026-03-09", 12)) == 0
    waiting = count(session, Notification, Notification.digest_key.is_(None))
    assert waiting == 1
    # The next day's digest carries it, with that day's own rung; nothing is lost or repeated.
    sweep(runtime, at("2026-03-10", 7))
    assert build_digests(runtime, at("2026-03-10", 7)) == 1
    day2 = digests(session, "2026-03-10")
    assert list(day2) == ["local-lead"]
    assert digest_items(day2["local-lead"].body_text) == [("due", li_b.id), ("upcoming", li_b.id)]
    assert count(session, Notification, Notification.digest_key.is_(None)) == 0
    everything = [
        item
        for row in outbox(session, OutboxMail.to_addr == "local-lead@test.se")
        if row.idempotency_key.startswith("digest:")
        for item in digest_items(row.body_text)
    ]
    assert sorted(everything) == sorted(
        [("upcoming", li.id), ("due", li_b.id), ("upcoming", li_b.id)]
    )


def test_per_rung_mode_sends_one_mail_per_rung(runtime, world, session):
    per_rung = dataclasses.replace(
        runtime,
        settings=runtime.settings.replace(
            reminders=make_settings(reminders={"digest": False}).reminders
        ),
    )
    _, li, _ = handed_off(world, at("2026-03-02"))
    before = count(session, OutboxMail)
    result = sweep(per_rung, at("2026-03-23", 8))
    # li: local lead, member and the region's process lead; li2: its lead and the same.
    assert (result.rungs, result.notifications, result.mails) == (2, 0, 5)
    mails = outbox(session, OutboxMail.idempotency_key.like("reminder:%"))
    assert count(session, OutboxMail) == before + 5
    to_li = [m for m in mails if digest_items(m.body_text) == [("overdue", li.id)]]
    assert {m.to_addr for m in to_li} == {f"{n}@test.se" for n in LOCAL | {"vgr-lead"}}
    assert {m.subject for m in mails} == {"Påminnelse: Försenat – Depression hos vuxna"}
    assert build_digests(per_rung, at("2026-03-23", 9)) == 0  # nothing waits for a digest
    assert sweep(per_rung, at("2026-03-23", 9)).mails == 0
    sweep(per_rung, at("2026-04-08", 8))
    assert count(session, OutboxMail, OutboxMail.idempotency_key.like("reminder:%")) == 5 + 7


def test_handoff_mails_the_local_unit_at_once(runtime, world, session):
    ra, li, li2 = handed_off(world, at("2026-03-02"))
    mails = outbox(session, OutboxMail.idempotency_key.like(f"handoff:{ra.id}.%"))
    by_to = {m.to_addr.removesuffix("@test.se"): m for m in mails}
    assert set(by_to) == LOCAL | {"local2-lead"}
    mail = by_to["local-lead"]
    assert mail.subject == "Nytt ärende: Lokalt införande – Depression hos vuxna"
    assert case_links(mail.body_text) == [li.id]
    # The due date of an assigned implementation is the day to acknowledge by (issue 17).
    assert "Psykiatri Göteborg, kvittera senast 2026-03-16" in mail.body_text
    assert f'href="http://127.0.0.1:5000/arenden/{li.id}"' in mail.body_html
    assert case_links(by_to["local2-lead"].body_text) == [li2.id]
    assert all(m.status == "pending" for m in mails)
    # No one above the local units hears of the hand-off (the ladder escalates later).
    everyone = {m.to_addr for m in outbox(session, OutboxMail.id >= min(m.id for m in mails))}
    assert everyone == {f"{n}@test.se" for n in LOCAL | {"local2-lead"}}


def test_publication_and_consultation_mail_the_regions(runtime, world, session):
    ks = world.create_ks()
    for trigger in ("commission", "start_drafting", "approve_for_review"):
        world.fire(ks, trigger, "npo-chair", now=at("2026-03-03"))
    world.fire(
        ks, "open_consultation", "npo-chair", params={"channel": "remiss"}, now=at("2026-03-03")
    )
    opened = outbox(session, OutboxMail.idempotency_key.like(f"handoff:{ks.id}.%"))
    names = [m.to_addr.removesuffix("@test.se") for m in opened]
    # One mail per person who can start or decline a response: coordinators and process
    # leads of the regions, and of the healthcare region above them.
    assert sorted(names) == [
        "skane-coordinator",
        "skane-lead",
        "vastra-lead",
        "vgr-coordinator",
        "vgr-lead",
    ]
    vgr_response = world.case_of("consultation_response", ks, "vgr")
    mail = next(m for m in opened if m.to_addr == "vgr-coordinator@test.se")
    assert case_links(mail.body_text) == [vgr_response.id]
    assert mail.subject == "Nytt ärende: Remissvar – Depression hos vuxna"
    assert "svara senast 2026-06-12" in mail.body_text
    assert "Regionen ombeds lämna remissvar senast förfallodagen." in mail.body_text
    vastra = next(m for m in opened if m.to_addr == "vastra-lead@test.se")
    assert vgr_response.id in case_links(vastra.body_text)
    assert len(case_links(vastra.body_text)) > 1  # every region of Västra, in one mail
    world.fire(ks, "close_consultation", "npo-chair", now=at("2026-03-04"))
    world.fire(ks, "submit_for_approval", "npo-lead", now=at("2026-03-04"))
    world.fire(ks, "publish", "npo-chair", params={"decision_ref": "NPO-1"}, now=at("2026-03-05"))
    first = outbox(session, OutboxMail.idempotency_key.like(f"handoff:{ks.id}.%"))
    assert len(first) > len(opened)
    # A new version: every adaptation is reassessed and its people are told again.
    ra = world.adaptation(ks)
    world.fire(ks, "start_revision", "npo-chair", now=at("2026-04-01"))
    world.fire(ks, "approve_for_review", "npo-chair", now=at("2026-04-01"))
    world.fire(
        ks, "open_consultation", "npo-chair", params={"channel": "remiss"}, now=at("2026-04-01")
    )
    world.fire(ks, "close_consultation", "npo-chair", now=at("2026-04-02"))
    world.fire(ks, "submit_for_approval", "npo-lead", now=at("2026-04-02"))
    marker = count(session, OutboxMail)
    world.fire(ks, "publish", "npo-chair", params={"decision_ref": "NPO-2"}, now=at("2026-04-07"))
    again = [
        m
        for m in outbox(session, OutboxMail.id > max(m.id for m in first))
        if "Regional" in m.subject
    ]
    assert count(session, OutboxMail) > marker
    assert ra.id in [i for m in again for i in case_links(m.body_text)]
    assert {m.to_addr for m in again} >= {"vgr-coordinator@test.se", "vgr-lead@test.se"}


def test_a_deviation_mails_the_regions_process_lead(runtime, world, session):
    _, li, _ = handed_off(world, at("2026-03-02"))
    for trigger in ("acknowledge", "start_implementation"):
        world.fire(li, trigger, "local-lead", now=at("2026-03-03"))
    marker = max(m.id for m in outbox(session))
    world.fire(
        li,
        "report_deviation",
        "local-member",
        comment="Läkemedlet är restnoterat",
        now=at("2026-03-04"),
    )
    mails = outbox(session, OutboxMail.id > marker)
    assert [m.to_addr for m in mails] == ["vgr-lead@test.se"]
    mail = mails[0]
    assert mail.subject == "Avvikelse rapporterad: Depression hos vuxna (Psykiatri Göteborg)"
    assert "Läkemedlet är restnoterat" in mail.body_text
    # The reporter is named by name, not by e-mail address.
    assert "Local Member har rapporterat en avvikelse" in mail.body_text
    assert case_links(mail.body_text) == [li.id]
    assert "Läkemedlet är restnoterat" in mail.body_html


@pytest.mark.parametrize(
    ("deadline", "not_yet", "closes"),
    [
        ("2026-06-12", ["2026-06-12", "2026-06-13", "2026-06-14"], "2026-06-15"),  # Fri → Mon
        ("2026-06-18", ["2026-06-19", "2026-06-21"], "2026-06-22"),  # midsommarafton
        ("2026-04-02", ["2026-04-03", "2026-04-06"], "2026-04-07"),  # Easter
    ],
)
def test_the_system_closes_a_consultation_after_its_deadline(
    runtime, world, session, deadline, not_yet, closes
):
    ks = world.create_ks()
    for trigger in ("commission", "start_drafting", "approve_for_review"):
        world.fire(ks, trigger, "npo-chair", now=at("2026-03-03"))
    world.fire(
        ks,
        "open_consultation",
        "npo-chair",
        params={"channel": "remiss", "deadline": deadline},
        now=at("2026-03-03"),
    )
    vgr = world.case_of("consultation_response", ks, "vgr")
    skane = world.case_of("consultation_response", ks, "skane")
    world.fire(vgr, "start_response", "vgr-coordinator", now=at("2026-03-04"))
    world.fire(
        vgr,
        "submit",
        "vgr-chair",
        params={"position": "supports"},
        comment="Vi tillstyrker",
        now=at("2026-03-05"),
    )
    for day in not_yet:
        assert sweep(runtime, at(day, 10)).closed_consultations == 0, day
        session.refresh(ks)
        assert ks.state == "consultation"
    assert sweep(runtime, at(closes, 0, 5)).closed_consultations == 1
    session.refresh(ks)
    session.refresh(vgr)
    session.refresh(skane)
    assert (ks.state, vgr.state, skane.state) == ("revising", "submitted", "missed")
    close = session.scalar(
        select(CaseEvent).where(
            CaseEvent.case_id == ks.id, CaseEvent.trigger == "close_consultation"
        )
    )
    assert (close.actor, close.actor_id, close.from_state) == ("system", None, "consultation")
    expired = session.scalar(
        select(CaseEvent).where(CaseEvent.case_id == skane.id, CaseEvent.trigger == "expire")
    )
    assert expired.actor == "system" and expired.to_state == "missed"
    assert skane.due is None
    assert sweep(runtime, at(closes, 12)).closed_consultations == 0


def test_consultation_responses_are_reminded_before_the_deadline(runtime, world, session):
    ks = world.create_ks()
    for trigger in ("commission", "start_drafting", "approve_for_review"):
        world.fire(ks, trigger, "npo-chair", now=at("2026-03-03"))
    world.fire(
        ks, "open_consultation", "npo-chair", params={"channel": "remiss"}, now=at("2026-03-03")
    )
    vgr = world.case_of("consultation_response", ks, "vgr")
    result = sweep(runtime, at("2026-06-05", 8))
    # One per region, and one for the knowledge support itself (its owner closes it).
    assert result.rungs == count(session, Reminder) == 22
    acting = {"vgr-coordinator", "vgr-lead", "vastra-lead"}  # Västra's lead reaches vgr
    assert notified(session, world, vgr, "upcoming") == acting
    assert notified(session, world, ks, "upcoming") == {"npo-chair", "npo-lead"}
    world.fire(vgr, "start_response", "vgr-lead", now=at("2026-06-08"))
    sweep(runtime, at("2026-06-12", 8))  # due: the chair may now submit
    assert notified(session, world, vgr, "due") == {"vgr-coordinator", "vgr-chair"}
