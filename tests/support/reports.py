"""A report chain for follow-up report tests (lifecycle.md §6.6), in VGR: RPO Hjärta (mirrors
NPO hjärt- och kärlsjukdomar) → Regionalt processteam hjärtsvikt → two lokala processteam;
Skåne's RPO Hjärta and a VGR samordningsråd mirror the same NPO. With helpers for a target, a
measurement, a deviation below the chain and a unit's report."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kflow.cases.models import FollowUpReport
from kflow.followup.lists import create_indicator_list
from kflow.followup.models import Indicator, Measurement
from kflow.org import units as org_units
from tests.support.checks import add_user
from tests.support.world import World

NPO = "npo-hjart-och-karlsjukdomar"
OPENS = dt.date(2026, 9, 1)  # the first working day after 2026-T2 (May-Aug)
DUE = dt.date(2026, 9, 29)  # 20 business days later


def build_chain(world: World) -> None:
    def add(code, name, kind, parent, subkind, mirrors=None):
        world.units[code] = org_units.create_unit(
            world.session, code, name, kind, world.units[parent], subkind=subkind, mirrors=mirrors
        )

    add("vgr-rpo-hjarta", "RPO Hjärta VGR", "regional_group", "vgr", "rpo", NPO)
    add("vgr-rpt-hf", "Regionalt processteam hjärtsvikt", "regional_group", "vgr-rpo-hjarta",
        "regionalt_processteam")  # fmt: skip
    add("vgr-lpt-sahlgrenska", "LPT Sahlgrenska", "local_unit", "vgr-rpt-hf", "lokalt_processteam")
    add("vgr-lpt-skaraborg", "LPT Skaraborg", "local_unit", "vgr-rpt-hf", "lokalt_processteam")
    add("skane-rpo-hjarta", "RPO Hjärta Skåne", "regional_group", "skane", "rpo", NPO)
    add("vgr-samrad-hjarta", "Samordningsråd hjärta", "regional_group", "vgr", "samordningsrad",
        NPO)  # fmt: skip
    add_user(world, "lpt-lead", ("local_lead", "vgr-lpt-sahlgrenska"))
    add_user(world, "lpt2-lead", ("local_lead", "vgr-lpt-skaraborg"))
    add_user(world, "rpt-lead", ("process_lead", "vgr-rpt-hf"))
    add_user(world, "rpt-chair", ("chair", "vgr-rpt-hf"))
    add_user(world, "rpo-hjarta-chair", ("chair", "vgr-rpo-hjarta"))
    add_user(world, "npo-hjarta-chair", ("chair", NPO))
    world.units[NPO] = org_units.unit_by_code(world.session, NPO)


def indicator(world: World, name: str = "Andel med RAS-hämmare") -> Indicator:
    ks = world.ks_in("published")
    found = Indicator(knowledge_support_id=ks.id, name=name, unit_of_measure="procent")
    world.session.add(found)
    world.session.flush()
    return found


def approved_list(world: World, ind: Indicator, unit: str = "vgr-lpt-sahlgrenska", value=80):
    case = create_indicator_list(
        world.session, world.authority("vgr-coordinator"), owner="vgr", year=2026,
        scope="alla", title="VGR 2026",
    )  # fmt: skip
    params = {"indicator": ind.id, "unit": unit, "target_value": value}
    world.fire(case, "set_target", "vgr-coordinator", params=params)
    world.fire(case, "submit", "vgr-coordinator")
    world.fire(case, "approve", "vgr-chair", params={"decision_ref": "HSN 2026-1"})
    return case


def measure(world: World, ind: Indicator, unit: str, period: str, value: float) -> None:
    world.session.add(
        Measurement(indicator_id=ind.id, unit_id=world.units[unit].id, period=period, value=value)
    )
    world.session.flush()


def deviation(world: World, unit: str = "vgr-lpt-skaraborg") -> None:
    ks = world.ks_in("published")
    ra = world.adaptation_in("adapting", ks)
    world.fire(ra, "hand_off", "vgr-coordinator", params={"units": [unit]})
    li = world.implementation(ra, unit)
    for trigger in ("acknowledge", "start_implementation", "report_implemented"):
        world.fire(li, trigger, "lpt2-lead")
    world.fire(li, "report_deviation", "lpt2-lead", comment="Ingen sjuksköterska på mottagningen")


def report_of(world: World, unit: str, period: str = "2026-T2") -> FollowUpReport:
    found = world.session.scalar(
        select(FollowUpReport).where(
            FollowUpReport.owner_id == world.units[unit].id, FollowUpReport.period == period
        )
    )
    assert found is not None, (unit, period)
    return found
