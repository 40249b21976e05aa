"""Mail people trust (issue 17 item 7), over a real SMTP server (aiosmtpd on 127.0.0.1):
the hand-off names its deadlines, its sender and the sender's comment; a hand-off to a unit
nobody can acknowledge tells the region's coordinators; digests are grouped by knowledge
support; a rung never reaches another organisation's people; and the scheduler's start-up
catches up on the last working day's digest."""

from __future__ import annotations

import dataclasses

from kflow.jobs.digests import build_digests, last_working_day
from kflow.jobs.relay import relay
from kflow.jobs.sweep import sweep
from kflow.org import units as org_units
from kflow.org import users as org_users
from tests.support.smtp import running_server
from tests.support.timeline import adaptation_at, at, notified, published_ks
from tests.support.world import World


def on_port(runtime, port):
    mail = dataclasses.replace(
        runtime.settings.mail, backend="smtp", smtp_host="127.0.0.1", smtp_port=port
    )
    return dataclasses.replace(runtime, settings=runtime.settings.replace(mail=mail))


def sent(runtime) -> list:
    with running_server() as server:
        relay(on_port(runtime, server.port))
        return list(server.messages)


def hand_off(world: World, units: list[str], **extra):
    ks = published_ks(world, at("2026-03-02"))
    ra = adaptation_at(world, ks, "adapting", at("2026-03-02"))
    world.fire(
        ra,
        "hand_off",
        "vgr-coordinator",
        params={"units": units, **extra},
        comment="Börja med rutinen för uppföljning.\nKontakt: Anna på RPO.",
        now=at("2026-03-02"),
    )
    return ks, ra


def test_the_hand_off_names_its_deadlines_sender_and_comment(runtime, world, session):
    hand_off(world, ["vgr-psyk-1"], due="2026-09-30")
    received = sent(runtime)
    mail = next(m for m in received if m.to == "local-lead@test.se")
    text, html = mail.text().replace("\r\n", "\n"), mail.html()
    assert "Psykiatri Göteborg, kvittera senast 2026-03-16, infört senast 2026-09-30" in text
    assert "klart senast" not in text
    assert "Överlämnat av Vgr Coordinator, som skriver:" in text
    assert "  Börja med rutinen för uppföljning.\n  Kontakt: Anna på RPO." in text
    assert "kvittera senast <strong>2026-03-16</strong>" in html
    assert "Vgr Coordinator" in html and "Kontakt: Anna på RPO." in html
    # Everyone at the unit hears of it; nobody is told the unit is unstaffed.
    assert {m.to for m in received if "Psykiatri Göteborg" in m.text()} >= {
        "local-lead@test.se",
        "local-member@test.se",
    }
    assert not [m for m in received if m.subject.startswith("Ingen kan ta emot")]


def test_a_hand_off_to_an_empty_unit_tells_the_coordinator(runtime, world, session, ui):
    ks = published_ks(world, at("2026-03-02"))
    ra = adaptation_at(world, ks, "adapting", at("2026-03-02"))
    world.units["vgr-tom"] = org_units.create_unit(
        session, "vgr-tom", "Vårdcentral Tomteboda", "local_unit", world.units["vgr"]
    )
    ui.login("vgr-coordinator")
    form = ui.get(f"/arenden/{ra.id}").doc.by_id("handling-hand_off")
    label = form.find("label", for_="f-hand_off-units-vgr-tom").text
    assert "ingen lokalt ansvarig eller ledamot" in label
    staffed = form.find("label", for_="f-hand_off-units-vgr-psyk-1").text
    assert "ingen lokalt ansvarig" not in staffed
    world.fire(
        ra, "hand_off", "vgr-coordinator", params={"units": ["vgr-tom"]}, now=at("2026-03-02")
    )
    received = sent(runtime)
    told = [m for m in received if m.subject.startswith("Ingen kan ta emot")]
    assert [m.to for m in told] == ["vgr-coordinator@test.se"]
    assert "Vårdcentral Tomteboda" in told[0].text()
    assert "Överlämnat av Vgr Coordinator." in told[0].text()


def test_digests_are_grouped_by_knowledge_support(runtime, world, session):
    first = published_ks(world, at("2026-03-02"))
    second = published_ks(world, at("2026-03-02"))
    second.title = "Ångest hos barn"
    session.flush()
    adaptations = [world.adaptation(ks) for ks in (first, second)]
    day = "2026-06-01"
    sweep(runtime, at(day, 6))  # received on 2 March: due 31 May, the due rung has come
    build_digests(runtime, at(day, 7))
    received = sent(runtime)
    mail = next(
        m for m in received if m.to == "vgr-coordinator@test.se" and "2 ärenden" in m.subject
    )
    text = mail.text().replace("\r\n", "\n")
    assert text.index("== Depression hos vuxna (1) ==") < text.index("== Ångest hos barn (1) ==")
    assert [case for _, case in mail.items()] == [a.id for a in adaptations]
    assert "<h2" in mail.html() and "Ångest hos barn (1)</h2>" in mail.html()


def test_a_rung_never_reaches_another_regions_people(runtime, world, session):
    """A Halland adaptation assigned to a Västra RPO (which sits below VGR too): VGR's chair
    and coordinator may reach it through the tree, but it is not theirs to answer for."""
    rpo = org_units.create_unit(
        session, "vastra-rpo", "RPO Västra", "regional_group", world.units["vastra"], subkind="rpo"
    )
    people = {}
    for name, role in (("rpo-vastra-lead", "process_lead"), ("rpo-vastra-chair", "chair")):
        user = org_users.create_user(session, f"{name}@test.se", name.title())
        session.flush()
        org_users.grant(session, user, role, rpo)
        people[name] = world.users[name] = user
    session.flush()
    ks = published_ks(world, at("2026-03-02"))
    ra = world.adaptation(ks, "halland")
    ra.assignee_id = rpo.id
    session.flush()
    world.fire(ra, "start_assessment", "rpo-vastra-lead", now=at("2026-03-02"))
    world.fire(ra, "submit_for_decision", "rpo-vastra-lead", comment="Klar", now=at("2026-03-02"))
    sweep(runtime, at("2026-06-22", 6))  # due 31 May: escalated (15 business days)
    got = notified(session, world, ra, "escalated")
    assert {"rpo-vastra-chair", "npo-chair", "npo-lead"} <= got
    assert not got & {"vgr-chair", "vgr-coordinator", "vgr-lead", "skane-chair"}


def test_start_up_catches_up_on_the_last_working_days_digest(runtime, world, session):
    ks = published_ks(world, at("2026-03-02"))
    world.adaptation(ks)
    saturday = at("2026-06-06", 10)
    sweep(runtime, saturday)
    assert build_digests(runtime, saturday) == 0  # no digest on a Saturday
    assert build_digests(runtime, saturday, catch_up=True) > 0  # but the start-up catches up
    received = sent(runtime)
    digest = [m for m in received if m.subject.startswith("Påminnelse")]
    assert any(m.to == "vgr-coordinator@test.se" and m.items() for m in digest)
    assert build_digests(runtime, saturday, catch_up=True) == 0  # once
    assert str(last_working_day(saturday.date())) == "2026-06-05"
