"""A small, realistic organisation for tests, and helpers that drive cases through services.

Units (besides the seeded reference data):
  vgr: regional group vgr-rpo-psyk (with local unit vgr-rpo-enhet),
       local units vgr-psyk-1, vgr-psyk-2
  skane: local unit skane-psyk-1

Users, named by what they are (e-mail = name + "@test.se"):
  npo-chair, npo-lead, npo-member, npo-viewer      in npo-psykisk-halsa
  other-npo-chair                                   in npo-cancersjukdomar (chair, process_lead)
  vgr-coordinator, vgr-chair, vgr-lead, vgr-viewer  in vgr
  rpo-coordinator, rpo-lead, rpo-chair              in vgr-rpo-psyk
  skane-coordinator, skane-chair, skane-lead        in skane
  vastra-lead                                       process_lead in sjukvårdsregion vastra
  local-lead, local-member                          in vgr-psyk-1
  local2-lead                                       in vgr-psyk-2
  skane-local-lead                                  in skane-psyk-1
  admin                                             admin in sverige (the root)
  vgr-admin                                         admin in vgr
  nobody                                            no roles
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.cases.models import Case, KnowledgeSupport
from kflow.config import Settings
from kflow.engine.authority import SYSTEM, Actor, Authority
from kflow.engine.create import create_knowledge_support
from kflow.engine.fire import Fired, fire
from kflow.org import units as org_units
from kflow.org import users as org_users
from kflow.org.models import Unit, User

PASSWORD = "correct-horse-battery"
MEMBERSHIPS: dict[str, list[tuple[str, str]]] = {
    "npo-chair": [("chair", "npo-psykisk-halsa")],
    "npo-lead": [("process_lead", "npo-psykisk-halsa")],
    "npo-member": [("member", "npo-psykisk-halsa")],
    "npo-viewer": [("viewer", "npo-psykisk-halsa")],
    "other-npo-chair": [("chair", "npo-cancersjukdomar"), ("process_lead", "npo-cancersjukdomar")],
    "vgr-coordinator": [("coordinator", "vgr")],
    "vgr-chair": [("chair", "vgr")],
    "vgr-lead": [("process_lead", "vgr")],
    "vgr-viewer": [("viewer", "vgr")],
    "rpo-coordinator": [("coordinator", "vgr-rpo-psyk")],
    "rpo-lead": [("process_lead", "vgr-rpo-psyk")],
    "rpo-chair": [("chair", "vgr-rpo-psyk")],
    "skane-coordinator": [("coordinator", "skane")],
    "skane-chair": [("chair", "skane")],
    "skane-lead": [("process_lead", "skane")],
    "vastra-lead": [("process_lead", "vastra")],
    "local-lead": [("local_lead", "vgr-psyk-1")],
    "local-member": [("member", "vgr-psyk-1")],
    "local2-lead": [("local_lead", "vgr-psyk-2")],
    "skane-local-lead": [("local_lead", "skane-psyk-1")],
    "admin": [("admin", "sverige")],
    "vgr-admin": [("admin", "vgr")],
    "nobody": [],
}
UNITS = [
    ("vgr-rpo-psyk", "RPO Psykisk hälsa VGR", "regional_group", "vgr"),
    ("vgr-rpo-enhet", "Enhet under RPO", "local_unit", "vgr-rpo-psyk"),
    ("vgr-psyk-1", "Psykiatri Göteborg", "local_unit", "vgr"),
    ("vgr-psyk-2", "Psykiatri Skaraborg", "local_unit", "vgr"),
    ("skane-psyk-1", "Psykiatri Skåne", "local_unit", "skane"),
]


@dataclasses.dataclass
class World:
    session: Session
    settings: Settings
    users: dict[str, User]
    units: dict[str, Unit]

    @classmethod
    def build(cls, session: Session, settings: Settings) -> World:
        units = {u.code: u for u in session.scalars(select(Unit))}
        for code, name, kind, parent in UNITS:
            units[code] = org_units.create_unit(session, code, name, kind, units[parent])
        users = {}
        for name, grants in MEMBERSHIPS.items():
            user = org_users.create_user(session, f"{name}@test.se", name.replace("-", " ").title())
            session.flush()  # generate user.id for the memberships
            for role, unit_code in grants:
                org_users.grant(session, user, role, units[unit_code])
            users[name] = user
        session.flush()  # make the users visible to Authority queries
        return cls(session, settings, users, units)

    def authority(self, who: str) -> Authority:
        if who == "system":
            return Authority(self.session, SYSTEM)
        return Authority(self.session, Actor(self.users[who]))

    def fire(self, case: Case, trigger: str, who: str, **kwargs: Any) -> Fired:
        kwargs.setdefault("settings", self.settings)
        return fire(self.session, self.authority(who), case, trigger, **kwargs)

    def create_ks(
        self,
        kind: str = "kliniskt_kunskapsstod",
        owner: str = "npo-psykisk-halsa",
        who: str = "npo-chair",
    ) -> KnowledgeSupport:
        return create_knowledge_support(
            self.session, self.authority(who), title="Depression hos vuxna", kind=kind, owner=owner
        )

    # Drive a knowledge support through the national tier, as its chair and process lead.
    PATH = {
        "commissioned": ("commission", {}),
        "drafting": ("start_drafting", {}),
        "review": ("approve_for_review", {}),
        "consultation": ("open_consultation", {"params": {"channel": "remiss"}}),
        "revising": ("close_consultation", {}),
        "awaiting_approval": ("submit_for_approval", {}),
        "published": ("publish", {"params": {"decision_ref": "NPO-2026-01"}}),
    }

    def ks_in(self, state: str, kind: str = "kliniskt_kunskapsstod") -> KnowledgeSupport:
        ks = self.create_ks(kind=kind)
        order = list(self.PATH)
        if state == "need_identified":
            return ks
        for step in order[: order.index(state) + 1]:
            trigger, kwargs = self.PATH[step]
            who = "npo-lead" if trigger == "submit_for_approval" else "npo-chair"
            if trigger == "commission" and kind == "vardforlopp":
                kwargs = {"params": {"decision_ref": "SKS-2026-1"}}
            self.fire(ks, trigger, who, **kwargs)
        return ks

    def case_of(self, case_type: str, ks: Case, owner: str) -> Case:
        found = self.session.scalar(
            select(Case)
            .where(
                Case.type == case_type,
                Case.knowledge_support_id == ks.id,
                Case.owner_id == self.units[owner].id,
            )
            .order_by(Case.id.desc())
        )
        assert found is not None, (case_type, owner)
        return found

    def adaptation(self, ks: Case, region: str = "vgr") -> Case:
        return self.case_of("regional_adaptation", ks, region)

    ADAPTATION_PATH = {
        "assessing": ("start_assessment", "vgr-coordinator", {}),
        "awaiting_decision": ("submit_for_decision", "vgr-lead", {"comment": "Gap analysis done"}),
        "adopted": ("adopt", "vgr-chair", {"params": {"decision_ref": "HSN-2026-1"}}),
        "adapting": ("start_adaptation", "vgr-lead", {}),
        "implementing": (
            "hand_off",
            "vgr-coordinator",
            {"params": {"units": ["vgr-psyk-1", "vgr-psyk-2"]}},
        ),
    }

    def adaptation_in(self, state: str, ks: Case | None = None) -> Case:
        ks = ks or self.ks_in("published")
        ra = self.adaptation(ks)
        order = list(self.ADAPTATION_PATH)
        if state == "received":
            return ra
        for step in order[: order.index(state) + 1]:
            trigger, who, kwargs = self.ADAPTATION_PATH[step]
            self.fire(ra, trigger, who, **kwargs)
        return ra

    def implementation(self, ra: Case, unit: str = "vgr-psyk-1") -> Case:
        found = self.session.scalar(
            select(Case)
            .where(
                Case.type == "local_implementation",
                Case.parent_id == ra.id,
                Case.owner_id == self.units[unit].id,
            )
            .order_by(Case.id.desc())
        )
        assert found is not None
        return found

    LOCAL_PATH = {
        "acknowledged": ("acknowledge", "local-lead", {}),
        "implementing": ("start_implementation", "local-lead", {}),
        "implemented": ("report_implemented", "local-lead", {}),
        "following_up": ("start_follow_up", "local-lead", {}),
    }

    def implementation_in(self, state: str, ra: Case | None = None) -> Case:
        ra = ra or self.adaptation_in("implementing")
        li = self.implementation(ra)
        order = list(self.LOCAL_PATH)
        if state == "assigned":
            return li
        for step in order[: order.index(state) + 1]:
            trigger, who, kwargs = self.LOCAL_PATH[step]
            self.fire(li, trigger, who, **kwargs)
        return li

    def today(self) -> dt.date:
        return dt.date.today()
