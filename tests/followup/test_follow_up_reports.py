"""Follow-up reports (lifecycle.md §6.6): the chain and its recipients, opening each period's
reports (once), the machine with its guard and analysis rule, the snapshot frozen at submit,
the mail to the recipient, the timer that marks a report missed, lists and the API collection.

The chain built here, in VGR: RPO Hjärta (mirrors NPO hjärt- och kärlsjukdomar) → Regionalt
processteam hjärtsvikt → two lokala processteam (Sahlgrenska holds a target, Skaraborg owns a
local implementation in deviation)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from kflow.cases.events import CaseEvent
from kflow.cases.models import FollowUpReport
from kflow.engine.authority import Actor, Authority
from kflow.engine.fire import fire
from kflow.followup.models import Measurement
from kflow.followup.reports import open_reports, recipient_of
from kflow.jobs.timers import fire_timers
from kflow.mailing.models import OutboxMail
from kflow.org.models import User
from kflow.queries.inbox import inbox
from kflow.queries.overdue import overdue
from tests.support.checks import nothing_written, refused
from tests.support.reports import (
    DUE,
    NPO,
    OPENS,
    approved_list,
    build_chain,
    deviation,
    indicator,
    measure,
    report_of,
)
from tests.support.timeline import outbox
from tests.support.world import World

REPORTS = "follow-up-reports"


@pytest.fixture
def chain(world):
    build_chain(world)
    return world


@pytest.fixture
def opened(chain):
    """The T2 reports opened: Sahlgrenska's (a target), Skaraborg's (a deviation), the RPT's."""
    ind = indicator(chain)
    approved_list(chain, ind)
    deviation(chain)
    ids = open_reports(chain.session, OPENS, chain.settings)
    assert len(ids) == 3
    chain.indicator = ind
    return chain


def count_reports(world: World) -> int:
    return world.session.scalar(select(func.count()).select_from(FollowUpReport)) or 0


# --- the chain ------------------------------------------------------------------------------


def test_each_unit_of_the_chain_reports_one_step_up(chain):
    u, session = chain.units, chain.session
    assert recipient_of(session, u["vgr-lpt-sahlgrenska"]) is u["vgr-rpt-hf"]
    assert recipient_of(session, u["vgr-rpt-hf"]) is u["vgr-rpo-hjarta"]
    assert recipient_of(session, u["vgr-rpo-hjarta"]) is u[NPO]
    assert recipient_of(session, u["vgr-samrad-hjarta"]) is u[NPO]
    assert recipient_of(session, u["vgr-psyk-1"]) is None  # outside the chain
    assert recipient_of(session, u["vgr"]) is None


# --- opening the reports --------------------------------------------------------------------


def test_reports_open_for_units_with_targets_or_local_work_and_only_once(opened):
    world = opened
    for unit, recipient in (
        ("vgr-lpt-sahlgrenska", "vgr-rpt-hf"),
        ("vgr-lpt-skaraborg", "vgr-rpt-hf"),
        ("vgr-rpt-hf", "vgr-rpo-hjarta"),
    ):
        report = report_of(world, unit)
        assert (report.state, report.due) == ("open", DUE)
        assert report.recipient_id == world.units[recipient].id
        assert report.region_id == world.units["vgr"].id
        (row,) = world.session.scalars(select(CaseEvent).where(CaseEvent.case_id == report.id))
        assert (row.trigger, row.to_state, row.actor, row.params) == (
            "create", "open", "system", {"period": "2026-T2"},
        )  # fmt: skip
    before = count_reports(world)
    assert open_reports(world.session, OPENS, world.settings) == []
    assert open_reports(world.session, OPENS + dt.timedelta(days=7), world.settings) == []
    assert count_reports(world) == before == 3
    # Each unit's people are told at once.
    (mail,) = outbox(world.session, OutboxMail.to_addr == "lpt-lead@test.se")
    assert "Rapport om måluppfyllelse" in mail.body_text


def test_nothing_opens_outside_the_reporting_window_or_without_work(chain):
    approved_list(chain, indicator(chain))
    assert open_reports(chain.session, dt.date(2026, 8, 31), chain.settings) == []  # T2 not over
    assert open_reports(chain.session, dt.date(2026, 10, 15), chain.settings) == []  # past due
    ids = open_reports(chain.session, OPENS, chain.settings)
    owners = {chain.session.get(FollowUpReport, i).owner_id for i in ids}
    assert chain.units["vgr-lpt-skaraborg"].id not in owners  # nothing to report there


def test_each_region_reports_yearly_to_the_npo_its_programme_unit_mirrors(chain):
    ids = open_reports(chain.session, dt.date(2027, 1, 4), chain.settings)
    reports = [chain.session.get(FollowUpReport, i) for i in ids]
    yearly = {(r.owner_id, r.recipient_id, r.period) for r in reports if r.period == "2026"}
    npo = chain.units[NPO].id
    # One per region: VGR's RPO before its samordningsråd that mirrors the same NPO.
    assert yearly == {
        (chain.units["vgr-rpo-hjarta"].id, npo, "2026"),
        (chain.units["skane-rpo-hjarta"].id, npo, "2026"),
    }
    assert open_reports(chain.session, dt.date(2027, 1, 5), chain.settings) == []


# --- the machine ----------------------------------------------------------------------------


def test_a_unit_reports_only_once_the_units_below_have(opened):
    world = opened
    rpt = report_of(world, "vgr-rpt-hf")
    err = refused(world, rpt, "submit", "rpt-lead", "validation_error", params={"analysis": "x"})
    assert "LPT Sahlgrenska" in err.message and "LPT Skaraborg" in err.message
    measure(world, world.indicator, "vgr-lpt-sahlgrenska", "2026-T2", 85)
    world.fire(report_of(world, "vgr-lpt-sahlgrenska"), "submit", "lpt-lead")
    err = refused(world, rpt, "submit", "rpt-lead", "validation_error", params={"analysis": "x"})
    assert "LPT Skaraborg" in err.message and "Sahlgrenska" not in err.message
    skaraborg = report_of(world, "vgr-lpt-skaraborg")
    world.fire(skaraborg, "waive", "rpt-chair", comment="Processteamet har lagts ner")
    world.fire(report_of(world, "vgr-lpt-sahlgrenska"), "accept", "rpt-lead")
    world.fire(rpt, "submit", "rpt-lead", params={"analysis": "Skaraborg har en avvikelse."})
    assert rpt.state == "submitted"
    (below,) = rpt.snapshot["reports"]
    assert (below["unit"], below["period"], below["not_met"]) == ("LPT Sahlgrenska", "2026-T2", 0)


def test_analysis_is_required_when_a_target_is_not_met(opened):
    world = opened
    report = report_of(world, "vgr-lpt-sahlgrenska")
    measure(world, world.indicator, "vgr-lpt-sahlgrenska", "2026-T2", 60)  # target 80
    err = refused(world, report, "submit", "lpt-lead", "validation_error")
    assert "analysis" in err.message
    refused(world, report, "submit", "lpt-lead", "validation_error", params={"analysis": "  "})
    world.fire(report, "submit", "lpt-lead", params={"analysis": "Personalbrist under sommaren."})
    assert (report.state, report.analysis) == ("submitted", "Personalbrist under sommaren.")
    (row,) = report.snapshot["targets"]
    assert (row["unit"], row["value"], row["target"], row["status"]) == (
        "LPT Sahlgrenska", 60.0, 80.0, "not_met",
    )  # fmt: skip


def test_analysis_is_required_when_a_deviation_is_open_below(opened):
    world = opened
    report = report_of(world, "vgr-lpt-skaraborg")
    refused(world, report, "submit", "lpt2-lead", "validation_error")
    world.fire(report, "submit", "lpt2-lead", params={"analysis": "Rekrytering pågår."})
    (found,) = report.snapshot["deviations"]
    assert (found["unit"], found["comment"]) == (
        "LPT Skaraborg", "Ingen sjuksköterska på mottagningen",
    )  # fmt: skip


def test_the_snapshot_is_frozen_at_submit(opened):
    world = opened
    report = report_of(world, "vgr-lpt-sahlgrenska")
    measure(world, world.indicator, "vgr-lpt-sahlgrenska", "2026-T2", 90)
    world.fire(report, "submit", "lpt-lead")
    frozen = dict(report.snapshot)
    assert [r["status"] for r in frozen["targets"]] == ["met"]
    # A later correction (a new current value) changes the live figures, not the snapshot.
    world.session.execute(
        Measurement.__table__.update().values(superseded_at=dt.datetime.now(dt.UTC))
    )
    measure(world, world.indicator, "vgr-lpt-sahlgrenska", "2026-T2", 10)
    world.session.expire_all()
    assert report_of(world, "vgr-lpt-sahlgrenska").snapshot == frozen


def test_who_may_accept_return_and_waive(opened):
    world = opened
    report = report_of(world, "vgr-lpt-sahlgrenska")
    measure(world, world.indicator, "vgr-lpt-sahlgrenska", "2026-T2", 90)
    refused(world, report, "submit", "lpt2-lead", "forbidden")  # a sibling team
    refused(world, report, "submit", "vgr-coordinator", "forbidden")  # not a reporter's role
    refused(world, report, "waive", "rpt-lead", "forbidden", comment="x")  # the chair waives
    world.fire(report, "submit", "lpt-lead")
    refused(world, report, "accept", "lpt-lead", "forbidden")  # not one's own report
    refused(world, report, "accept", "npo-hjarta-chair", "forbidden")  # not its recipient
    refused(world, report, "return", "rpt-lead", "validation_error")  # a comment is required
    world.fire(report, "return", "rpt-lead", comment="Beskriv åtgärderna för hösten.")
    assert report.state == "open" and report.due is not None and report.due > DUE
    world.fire(report, "submit", "lpt-lead", params={"analysis": "Åtgärder: ..."})
    world.fire(report, "accept", "rpt-chair")
    assert report.state == "accepted" and not report.is_open
    refused(world, report, "return", "rpt-lead", "invalid_transition", comment="x")


def test_submit_mails_the_recipient_at_once(opened):
    world = opened
    report = report_of(world, "vgr-lpt-sahlgrenska")
    measure(world, world.indicator, "vgr-lpt-sahlgrenska", "2026-T2", 90)
    world.fire(report, "submit", "lpt-lead")
    mails = outbox(world.session, OutboxMail.idempotency_key.like(f"handoff:{report.id}.v%"))
    told = {m.to_addr for m in mails}
    assert {"rpt-lead@test.se", "rpt-chair@test.se"} <= told
    assert "lpt-lead@test.se" not in told and "lpt2-lead@test.se" not in told


def test_bad_input_writes_nothing(opened):
    world = opened
    report = report_of(world, "vgr-rpt-hf")
    with nothing_written(world.session, report):
        for params in ({"analysis": 12}, {"analysis": "x" * 10_001}, {"unknown": "x"}):
            refused(world, report, "submit", "rpt-lead", "validation_error", params=params)
    refused(world, report, "accept", "rpo-hjarta-chair", "invalid_transition")
    refused(world, report, "expire", "rpt-lead", "forbidden")  # the system's


# --- lists ----------------------------------------------------------------------------------


def test_inbox_and_overdue(opened):
    world = opened
    report = report_of(world, "vgr-lpt-sahlgrenska")
    lead = world.authority("lpt-lead")
    assert report.id in {c.id for c in inbox(world.session, lead).items}
    late = overdue(world.session, lead, DUE + dt.timedelta(days=1)).items
    assert report.id in {c.id for c in late}
    measure(world, world.indicator, "vgr-lpt-sahlgrenska", "2026-T2", 90)
    world.fire(report, "submit", "lpt-lead")
    received = inbox(world.session, world.authority("rpt-lead"))
    assert report.id in {c.id for c in received.items}
    assert report.id not in {c.id for c in inbox(world.session, lead).items}


# --- the timer ------------------------------------------------------------------------------


def test_a_report_left_open_is_missed_15_business_days_after_due(committed_runtime):
    runtime = committed_runtime
    with runtime.transaction() as session:
        world = World.build(session, runtime.settings)
        build_chain(world)
        approved_list(world, indicator(world))
        opened = open_reports(session, OPENS, runtime.settings)  # Sahlgrenska's and the RPT's
        case_id = report_of(world, "vgr-lpt-sahlgrenska").id
    # 15 business days after 29 September 2026 is Tuesday 20 October.
    assert fire_timers(runtime, dt.datetime(2026, 10, 19, 10, tzinfo=dt.UTC)) == {}
    moved = fire_timers(runtime, dt.datetime(2026, 10, 20, 10, tzinfo=dt.UTC))
    assert moved == {"follow_up_report.expire": len(opened)}
    with runtime.transaction() as session:
        report = session.get(FollowUpReport, case_id)
        assert report is not None and (report.state, report.due) == ("missed", None)
        lead = session.scalar(select(User).where(User.email == "lpt-lead@test.se"))
        authority = Authority(session, Actor(lead))
        fire(session, authority, report, "submit_late", settings=runtime.settings)
        assert report.state == "submitted" and report.snapshot is not None


# --- the API --------------------------------------------------------------------------------


def test_the_api_lists_reports_and_fires_their_triggers(api, opened):
    world = opened
    lpt = report_of(world, "vgr-lpt-sahlgrenska")
    rpt = report_of(world, "vgr-rpt-hf")
    listed = api.get(f"/api/v1/{REPORTS}", "rpt-lead", state="open")
    assert {c["id"] for c in listed["items"]} == {
        lpt.id, rpt.id, report_of(world, "vgr-lpt-skaraborg").id,
    }  # fmt: skip
    item = api.case(REPORTS, lpt.id, "lpt-lead")
    assert (item["unit"], item["recipient"], item["region"], item["period"]) == (
        "vgr-lpt-sahlgrenska", "vgr-rpt-hf", "vgr", "2026-T2",
    )  # fmt: skip
    assert item["snapshot"] is None and item["allowed_triggers"] == ["submit"]
    # The RPT reports only once the units below have: 422, and nothing written.
    before = world.session.scalar(select(func.count()).select_from(CaseEvent))
    api.fire_error(REPORTS, rpt.id, "submit", "rpt-lead", 422, "validation_error",
                   params={"analysis": "För tidigt."})  # fmt: skip
    assert world.session.scalar(select(func.count()).select_from(CaseEvent)) == before
    world.session.expire_all()
    assert report_of(world, "vgr-rpt-hf").state == "open"
    measure(world, world.indicator, "vgr-lpt-sahlgrenska", "2026-T2", 90)
    fired = api.fire(REPORTS, lpt.id, "submit", "lpt-lead")
    assert fired["state"] == "submitted" and fired["snapshot"]["targets"][0]["status"] == "met"
    api.fire_error(REPORTS, lpt.id, "accept", "lpt-lead", 403, "forbidden")
    api.fire(REPORTS, lpt.id, "accept", "rpt-lead")
    api.error("GET", f"/api/v1/{REPORTS}/{lpt.id}", "skane-coordinator", 404, "not_found")
    assert api.get(f"/api/v1/{REPORTS}", "npo-hjarta-chair")["items"] == []  # nothing sent yet
    history = api.get(f"/api/v1/{REPORTS}/{lpt.id}/history", "rpt-chair")
    assert [r["trigger"] for r in history["items"]] == ["create", "submit", "accept"]


def test_the_npo_reads_the_reports_sent_to_it(api, chain):
    ids = open_reports(chain.session, dt.date(2027, 1, 4), chain.settings)
    yearly = [i for i in ids if chain.session.get(FollowUpReport, i).period == "2026"]
    listed = api.get(f"/api/v1/{REPORTS}", "npo-hjarta-chair")
    assert sorted(c["id"] for c in listed["items"]) == sorted(yearly)
    assert {c["recipient"] for c in listed["items"]} == {NPO}
