"""The report chain of the heart-failure story (lifecycle.md §6.6): in VGR a samordningsråd for
heart and vascular disease (mirroring the NPO), its regionalt processteam for heart failure and
three lokala processteam. A list sets Sahlgrenska's team a target.

Last tertial but one: Sahlgrenska's report was accepted by the regionalt processteam, Skaraborg's
was never sent (missed), NU-sjukvården's was waived (the team started later) and the regionalt
processteam's own report waits for the samordningsråd.
Last tertial: Sahlgrenska's report was returned for more analysis; the others are open.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kflow.cases.models import FollowUpReport
from kflow.followup import measurements
from kflow.followup.lists import create_indicator_list
from kflow.followup.models import Indicator
from kflow.followup.periods import Period, latest_ended
from kflow.followup.reports import open_unit_reports
from kflow.org import units as org_units
from kflow.org import users as org_users
from kflow.org.models import Unit
from kflow.org.roles import Role, UnitKind
from kflow.states import follow_up_report as states
from kflow.tools.demo.builder import Builder

NPO = "npo-hjart-och-karlsjukdomar"
RG, LU = UnitKind.REGIONAL_GROUP, UnitKind.LOCAL_UNIT
# (code, name, kind, parent, subkind): the chain, top down
CHAIN = [
    ("vgr-samrad-hjarta", "Samordningsråd hjärt- och kärlsjukdomar", RG, "vgr", "samordningsrad"),
    ("vgr-rpt-hjartsvikt", "Regionalt processteam hjärtsvikt", RG, "vgr-samrad-hjarta",
     "regionalt_processteam"),
    ("vgr-lpt-hjartsvikt-su", "Lokalt processteam hjärtsvikt Sahlgrenska", LU,
     "vgr-rpt-hjartsvikt", "lokalt_processteam"),
    ("vgr-lpt-hjartsvikt-skas", "Lokalt processteam hjärtsvikt Skaraborg", LU,
     "vgr-rpt-hjartsvikt", "lokalt_processteam"),
    ("vgr-lpt-hjartsvikt-nu", "Lokalt processteam hjärtsvikt NU-sjukvården", LU,
     "vgr-rpt-hjartsvikt", "lokalt_processteam"),
]  # fmt: skip
# Who reports for each team (local lead); the region's process lead receives for the RPT.
LEADS = {"vgr-lpt-hjartsvikt-su": "lokal.sahlgrenska", "vgr-lpt-hjartsvikt-skas": "lokal.skaraborg"}
RECEIVER, COORDINATOR, CHAIR = "process.vgr", "samordnare.vgr", "ordf.vgr"
TEAM = "vgr-lpt-hjartsvikt-su"


def report_chain(b: Builder) -> None:
    indicator = b.session.scalar(select(Indicator).where(Indicator.code == "VIS-HS-01"))
    if indicator is None:
        return
    _units(b)
    latest = latest_ended(b.today, "tertial")
    earlier = latest.previous()
    _target(b, indicator, earlier, latest)
    older = _open(b, earlier)
    b.fire(older[TEAM], "submit", "lokal.sahlgrenska", older["days"] - 8,
           analysis="Andelen ligger under målet: två specialistsjuksköterskor har slutat. "
           "Rekrytering pågår och titreringsmottagningen öppnar igen i höst.")  # fmt: skip
    b.fire(older[TEAM], "accept", RECEIVER, older["days"] - 12)
    b.fire(older["vgr-lpt-hjartsvikt-nu"], "waive", CHAIR, older["days"] - 5,
           comment="Teamet på NU-sjukvården startade först efter tertialet.")  # fmt: skip
    skaraborg = older["vgr-lpt-hjartsvikt-skas"]
    timer = states.MACHINE.triggers["expire"].timer
    assert timer is not None and skaraborg.due is not None
    expired = b.days_ago(timer.fires_on(skaraborg.due, b.settings))
    b.fire(skaraborg, "expire", "system", expired)
    b.fire(older["vgr-rpt-hjartsvikt"], "submit", RECEIVER, max(expired - 2, 1),
           analysis="Sahlgrenska når inte målet än; Skaraborg har inte rapporterat.")  # fmt: skip
    newer = _open(b, latest)
    days = newer["days"]
    b.fire(newer[TEAM], "submit", "lokal.sahlgrenska", max(days - 2, 1))
    again = "Målet är nått: beskriv vad ni gjorde, så att de andra teamen kan lära av det."
    b.fire(newer[TEAM], "return", RECEIVER, max(days - 4, 1), comment=again)


def _units(b: Builder) -> None:
    for code, name, kind, parent, subkind in CHAIN:
        if code not in b.units:
            b.units[code] = org_units.create_unit(
                b.session, code, name, kind, b.units[parent], subkind=subkind,
                mirrors=NPO if subkind == "samordningsrad" else None,
            )  # fmt: skip
    for unit, login in LEADS.items():
        org_users.grant(b.session, b.users[login], Role.LOCAL_LEAD, b.units[unit])
    b.session.flush()  # the memberships, for Authority


def _target(b: Builder, indicator: Indicator, earlier: Period, latest: Period) -> None:
    """An approved list with a target for Sahlgrenska's team (the RPT responsible), and the
    team's measurements: under the target the earlier tertial, over it the latest."""
    started = b.days_ago(states.opens_on(earlier.end)) + 20
    case = create_indicator_list(
        b.session, b.authority(COORDINATOR), owner="vgr", year=latest.year, scope="alla",
        title=f"Indikatorlista hjärtsviktsprocessen {latest.year}", now=b.at(started),
    )  # fmt: skip
    target: dict[str, Any] = {"indicator": indicator.id, "unit": TEAM, "target_value": 85}
    b.fire(case, "set_target", COORDINATOR, started - 1, responsible="vgr-rpt-hjartsvikt", **target)
    b.fire(case, "submit", COORDINATOR, started - 2)
    b.fire(case, "approve", CHAIR, started - 3, decision_ref=f"RS {latest.year}-{b.number()}")
    for period, treated in ((earlier, 96), (latest, 106)):
        measurements.report(
            b.session, b.authority(COORDINATOR), indicator, b.units[TEAM], settings=b.settings,
            period=period.code, numerator=treated, denominator=120,
            now=b.at(max(b.days_ago(states.opens_on(period.end)) + 1, 2)),
        )  # fmt: skip


def _open(b: Builder, period: Period) -> dict[str, Any]:
    """The period's reports of the chain's teams, by unit code, as the system opens them; and
    "days": how many days ago they were opened."""
    days = max(b.days_ago(states.opens_on(period.end)), 6)
    teams: list[Unit] = [b.units[code] for code, *_ in CHAIN[1:]]
    ids = open_unit_reports(b.session, b.settings, teams, period.code, b.at(days))
    reports = b.session.scalars(select(FollowUpReport).where(FollowUpReport.id.in_(ids))).all()
    codes = {unit.id: code for code, unit in b.units.items()}
    found: dict[str, Any] = {codes[r.owner_id]: r for r in reports}
    found["days"] = days
    return found
