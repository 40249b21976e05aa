"""The benchmark organisation and the fixtures built on it, all through kflow's own services.

The organisation: the reference data (NPOs, NSGs, healthcare regions, the 21 regions), plus
14 local units under each region (294), and people holding the roles the workflows need:

* per region: a coordinator, a chair and a process lead;
* per local unit: a local lead;
* per NPO owning knowledge supports: a chair and a process lead.

A knowledge support is handed off to 290 local units: 14 in each of 17 regions and 13 in the
last four (17 * 14 + 4 * 13 = 290), so one knowledge support with its 21 regional adaptations,
21 consultation responses and 290 local implementations is 333 cases.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

UNITS_PER_REGION = 14
UNITS_PER_KS = 290
# The NPOs that own the benchmark's knowledge supports (round robin).
OWNER_NPOS = (
    "npo-psykisk-halsa",
    "npo-hjart-och-karlsjukdomar",
    "npo-endokrina-sjukdomar",
    "npo-levnadsvanor",
    "npo-nervsystemets-sjukdomar",
)
DOMAIN = "bench.kflow.se"


@dataclasses.dataclass
class OrgInfo:
    """Ids and codes the benchmarks need, JSON-able for worker processes."""

    regions: list[dict[str, Any]]  # code, id, coordinator, chair, lead (user ids), units
    npos: list[dict[str, Any]]  # code, id, chair, lead
    local_leads: dict[str, int]  # unit code -> user id
    units: dict[str, int]  # every unit code -> id

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrgInfo:
        return cls(**data)

    def region(self, code: str) -> dict[str, Any]:
        return next(r for r in self.regions if r["code"] == code)

    def handoff_units(self, region_code: str) -> list[str]:
        """The local units a knowledge support is handed to in one region (290 in all)."""
        index = [r["code"] for r in self.regions].index(region_code)
        count = UNITS_PER_REGION if index < 17 else UNITS_PER_REGION - 1
        return self.region(region_code)["units"][:count]


def email(name: str) -> str:
    return f"{name}@{DOMAIN}"


def build_org(session: Session, settings: Any) -> OrgInfo:
    """Seed the reference organisation and add the benchmark's units and people."""
    from kflow.org import units as org_units
    from kflow.org import users as org_users
    from kflow.org.models import Unit
    from kflow.org.roles import UnitKind
    from kflow.tools.seed import seed

    seed(session, settings.organisation_path)
    units = {u.code: u for u in session.scalars(select(Unit))}
    regions = sorted((u for u in units.values() if u.kind == UnitKind.REGION), key=lambda u: u.code)
    local_leads: dict[str, Any] = {}
    region_info = []
    for region in regions:
        codes = []
        for i in range(1, UNITS_PER_REGION + 1):
            code = f"{region.code}-enhet-{i:02d}"
            units[code] = org_units.create_unit(
                session, code, f"{region.name}, enhet {i}", UnitKind.LOCAL_UNIT, region
            )
            codes.append(code)
        people = {}
        for role, prefix in (
            ("coordinator", "samordnare"),
            ("chair", "ordf"),
            ("process_lead", "process"),
        ):
            user = org_users.create_user(
                session, email(f"{prefix}.{region.code}"), f"{prefix} {region.name}"
            )
            session.flush()
            org_users.grant(session, user, role, region)
            people[role] = user
        for code in codes:
            user = org_users.create_user(session, email(f"lokal.{code}"), f"Lokalt ansvarig {code}")
            session.flush()
            org_users.grant(session, user, "local_lead", units[code])
            local_leads[code] = user
        region_info.append((region, people, codes))
    npo_info = []
    for code in OWNER_NPOS:
        npo = units[code]
        chair = org_users.create_user(session, email(f"ordf.{code}"), f"Ordförande {npo.name}")
        lead = org_users.create_user(session, email(f"process.{code}"), f"Processledare {npo.name}")
        session.flush()
        org_users.grant(session, chair, "chair", npo)
        org_users.grant(session, lead, "process_lead", npo)
        npo_info.append((npo, chair, lead))
    session.flush()
    return OrgInfo(
        regions=[
            {
                "code": region.code,
                "id": region.id,
                "coordinator": people["coordinator"].id,
                "chair": people["chair"].id,
                "lead": people["process_lead"].id,
                "units": codes,
            }
            for region, people, codes in region_info
        ],
        npos=[
            {"code": npo.code, "id": npo.id, "chair": chair.id, "lead": lead.id}
            for npo, chair, lead in npo_info
        ],
        local_leads={code: user.id for code, user in local_leads.items()},
        units={code: unit.id for code, unit in units.items()},
    )


class Driver:
    """Fires triggers through kflow.engine.fire.fire as real users (fixtures, not timed)."""

    def __init__(self, session: Session, settings: Any) -> None:
        self.session = session
        self.settings = settings

    def authority(self, user_id: int) -> Any:
        from kflow.engine.authority import Actor, Authority
        from kflow.org.models import User

        return Authority(self.session, Actor(self.session.get(User, user_id)))

    def fire(self, case: Any, trigger: str, user_id: int, **kwargs: Any) -> Any:
        from kflow.engine.fire import fire

        return fire(
            self.session, self.authority(user_id), case, trigger, settings=self.settings, **kwargs
        )

    def knowledge_support(self, npo: dict[str, Any], title: str) -> Any:
        from kflow.engine.create import create_knowledge_support

        return create_knowledge_support(
            self.session,
            self.authority(npo["chair"]),
            title=title,
            kind="kliniskt_kunskapsstod",
            owner=npo["code"],
        )

    def to_awaiting_approval(self, ks: Any, npo: dict[str, Any]) -> None:
        chair, lead = npo["chair"], npo["lead"]
        self.fire(ks, "commission", chair)
        self.fire(ks, "start_drafting", lead)
        self.fire(ks, "approve_for_review", chair)
        self.fire(ks, "open_consultation", chair, params={"channel": "remiss"})
        self.fire(ks, "close_consultation", lead)
        self.fire(ks, "submit_for_approval", lead)

    def publish(self, ks: Any, npo: dict[str, Any], number: int) -> Any:
        return self.fire(ks, "publish", npo["chair"], params={"decision_ref": f"NPO-{number}"})

    def adaptations(self, ks_id: int) -> list[Any]:
        from kflow.cases.models import Case

        return list(
            self.session.scalars(
                select(Case)
                .where(Case.type == "regional_adaptation", Case.knowledge_support_id == ks_id)
                .order_by(Case.id)
            )
        )

    def adapt_to_adopted(self, ra: Any, region: dict[str, Any]) -> None:
        self.fire(ra, "start_assessment", region["coordinator"])
        self.fire(ra, "submit_for_decision", region["lead"], comment="Konsekvensanalys klar")
        self.fire(ra, "adopt", region["chair"], params={"decision_ref": f"RS-{ra.id}"})


def build_template(url: str, tmp: Path) -> OrgInfo:
    """Migrate ``url`` (an empty database) and load the benchmark organisation into it."""
    from benchmarks.common import kflow_runtime
    from kflow.tools.migrate import upgrade

    runtime = kflow_runtime(url, "relaxed", tmp)
    upgrade(runtime.engine)
    with runtime.transaction() as session:
        info = build_org(session, runtime.settings)
    runtime.engine.dispose()
    return info


def region_by_id(info: OrgInfo) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in info.regions}


def build_transition_cases(
    url: str, tmp: Path, info: OrgInfo, ks_count: int
) -> list[dict[str, Any]]:
    """Publish ``ks_count`` knowledge supports and start the assessment of every adaptation.

    Returns one entry per adaptation (now in ``assessing``): the cases the transition
    benchmark moves back and forth with put_on_hold / resume, each by its region's coordinator.
    """
    from benchmarks.common import kflow_runtime

    runtime = kflow_runtime(url, "relaxed", tmp)
    regions = region_by_id(info)
    cases = []
    for number in range(ks_count):
        npo = info.npos[number % len(info.npos)]
        with runtime.transaction() as session:
            driver = Driver(session, runtime.settings)
            ks = driver.knowledge_support(npo, f"Benchmark-kunskapsstöd {number + 1}")
            driver.to_awaiting_approval(ks, npo)
            driver.publish(ks, npo, number)
            for ra in driver.adaptations(ks.id):
                region = regions[ra.region_id]
                driver.fire(ra, "start_assessment", region["coordinator"])
                cases.append(
                    {
                        "id": ra.id,
                        "region": region["code"],
                        "user_id": region["coordinator"],
                        "email": email(f"samordnare.{region['code']}"),
                        "lock_version": ra.lock_version,
                        "state": ra.state,
                    }
                )
    runtime.engine.dispose()
    return cases
