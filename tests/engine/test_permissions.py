"""Who may fire what (lifecycle.md §1 roles, §2 "who" columns): roles x unit tree x case owner.

The organisation is tests/support/world.py plus a few users added here:
  sodra-lead      process_lead in sjukvårdsregion sodra (skane, blekinge, kronoberg, halland)
  psyk1-process   process_lead in the local unit vgr-psyk-1 itself (not in the region)
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kflow.cases.events import CaseEvent
from kflow.engine.read import readable_case
from kflow.errors import Forbidden, NotFound
from kflow.org import units as org_units
from kflow.states import MACHINES
from tests.support.checks import add_user, events, refused


@pytest.fixture(autouse=True)
def extra_users(world):
    add_user(world, "sodra-lead", ("process_lead", "sodra"))
    add_user(world, "psyk1-process", ("process_lead", "vgr-psyk-1"))


def may(world, case, who):
    """The manual triggers ``who`` holds a role for on ``case``, whatever its state."""
    authority = world.authority(who)
    machine = MACHINES[case.type]
    return {
        name
        for name, spec in machine.triggers.items()
        if spec.manual and authority.role_for(case, spec) is not None
    }


EVERYONE = [
    "npo-chair",
    "npo-lead",
    "npo-member",
    "npo-viewer",
    "other-npo-chair",
    "vgr-coordinator",
    "vgr-chair",
    "vgr-lead",
    "vgr-viewer",
    "rpo-coordinator",
    "rpo-lead",
    "rpo-chair",
    "skane-coordinator",
    "skane-chair",
    "skane-lead",
    "vastra-lead",
    "sodra-lead",
    "local-lead",
    "local-member",
    "local2-lead",
    "skane-local-lead",
    "psyk1-process",
    "admin",
    "vgr-admin",
    "nobody",
]
RA_COORDINATOR = {
    "assign",
    "start_assessment",
    "put_on_hold",
    "resume",
    "submit_for_decision",
    "start_adaptation",
    "hand_off",
    "close",
}
RA_PROCESS_LEAD = {
    "start_assessment",
    "put_on_hold",
    "resume",
    "submit_for_decision",
    "start_adaptation",
    "hand_off",
    "start_follow_up",
}
RA_CHAIR = {"adopt", "reject", "close"}
EXPECTED = {
    # knowledge support owned by npo-psykisk-halsa
    "knowledge_support": {
        "npo-chair": {
            "commission",
            "start_drafting",
            "approve_for_review",
            "request_changes",
            "open_consultation",
            "close_consultation",
            "publish",
            "start_revision",
            "withdraw",
            "cancel",
        },
        "npo-lead": {
            "start_drafting",
            "close_consultation",
            "submit_for_approval",
            "start_revision",
        },
    },
    # vgr's consultation response
    "consultation_response": {
        "vgr-coordinator": {"start_response", "submit", "decline"},
        "vgr-lead": {"start_response"},
        "vgr-chair": {"submit"},
        "vastra-lead": {"start_response"},
    },
    # vgr's regional adaptation, not assigned
    "regional_adaptation": {
        "vgr-coordinator": RA_COORDINATOR,
        "vgr-lead": RA_PROCESS_LEAD,
        "vgr-chair": RA_CHAIR,
        "vastra-lead": RA_PROCESS_LEAD,
    },
    # vgr-psyk-1's local implementation
    "local_implementation": {
        "local-lead": {
            "acknowledge",
            "start_implementation",
            "report_implemented",
            "start_follow_up",
            "report_deviation",
            "resolve_deviation",
        },
        "local-member": {"acknowledge", "report_deviation"},
        "vgr-lead": {"resolve_deviation", "close", "waive"},
        "vastra-lead": {"resolve_deviation", "close", "waive"},
    },
}


@pytest.mark.parametrize("case_type", list(EXPECTED))
def test_role_matrix(world, case_type):
    if case_type == "knowledge_support":
        case = world.ks_in("drafting")
    elif case_type == "consultation_response":
        case = world.case_of("consultation_response", world.ks_in("consultation"), "vgr")
    elif case_type == "regional_adaptation":
        case = world.adaptation_in("received")
    else:
        case = world.implementation_in("assigned")
    actual = {who: may(world, case, who) for who in EVERYONE}
    expected = {who: EXPECTED[case_type].get(who, set()) for who in EVERYONE}
    assert actual == expected


def test_assignee_group_gains_authority(world):
    ra = world.adaptation_in("received")
    before = {who: may(world, ra, who) for who in ("rpo-coordinator", "rpo-lead", "rpo-chair")}
    assert before == {"rpo-coordinator": set(), "rpo-lead": set(), "rpo-chair": set()}
    refused(world, ra, "start_assessment", "rpo-lead", "forbidden")
    refused(world, ra, "assign", "rpo-coordinator", "forbidden", params={"unit": "vgr-rpo-psyk"})

    world.fire(ra, "assign", "vgr-coordinator", params={"unit": "vgr-rpo-psyk"})
    assert ra.assignee_id == world.units["vgr-rpo-psyk"].id
    assert ra.state == "received"
    assert may(world, ra, "rpo-coordinator") == RA_COORDINATOR
    assert may(world, ra, "rpo-lead") == RA_PROCESS_LEAD
    assert may(world, ra, "rpo-chair") == RA_CHAIR
    # The region keeps its authority; the RPO's authority does not spread to other regions.
    assert may(world, ra, "vgr-coordinator") == RA_COORDINATOR
    assert may(world, world.adaptation(ra.knowledge_support, "skane"), "rpo-lead") == set()

    world.fire(ra, "start_assessment", "rpo-lead")
    world.fire(ra, "submit_for_decision", "rpo-coordinator", comment="Analys klar")
    fired = world.fire(ra, "adopt", "rpo-chair", params={"decision_ref": "RPO-2026-3"})
    assert fired.role == "chair"
    assert ra.state == "adopted"
    assert [(e.trigger, e.actor, e.role) for e in events(world.session, ra)][-3:] == [
        ("start_assessment", "rpo-lead@test.se", "process_lead"),
        ("submit_for_decision", "rpo-coordinator@test.se", "coordinator"),
        ("adopt", "rpo-chair@test.se", "chair"),
    ]


@pytest.mark.parametrize(
    ("unit", "why"),
    [("vgr-psyk-1", "a local unit, not a regional group"), ("nonexistent", "no such unit")],
)
def test_assign_needs_a_regional_group_of_the_region(world, unit, why):
    ra = world.adaptation_in("received")
    refused(world, ra, "assign", "vgr-coordinator", "validation_error", params={"unit": unit})


def test_assign_to_another_regions_group_is_refused(world):
    org_units.create_unit(
        world.session, "skane-rpo", "RPO Skåne", "regional_group", world.units["skane"]
    )
    ra = world.adaptation_in("received")
    refused(
        world, ra, "assign", "vgr-coordinator", "validation_error", params={"unit": "skane-rpo"}
    )


def test_npo_chair_commissions_only_its_own_npo(world):
    ks = world.ks_in("need_identified")
    err = refused(world, ks, "commission", "other-npo-chair", "forbidden")
    assert isinstance(err, Forbidden)
    refused(world, ks, "commission", "npo-lead", "forbidden")
    refused(world, ks, "commission", "npo-member", "forbidden")
    refused(world, ks, "commission", "vgr-chair", "forbidden")
    fired = world.fire(ks, "commission", "npo-chair")
    assert (ks.state, fired.role) == ("commissioned", "chair")

    theirs = world.create_ks(owner="npo-cancersjukdomar", who="other-npo-chair")
    refused(world, theirs, "commission", "npo-chair", "forbidden")
    world.fire(theirs, "commission", "other-npo-chair")
    assert theirs.state == "commissioned"


@pytest.mark.parametrize(
    ("who", "owner", "allowed"),
    [
        ("npo-chair", "npo-psykisk-halsa", True),
        ("npo-lead", "npo-psykisk-halsa", True),
        ("npo-member", "npo-psykisk-halsa", False),
        ("npo-viewer", "npo-psykisk-halsa", False),
        ("npo-chair", "npo-cancersjukdomar", False),
        ("other-npo-chair", "npo-cancersjukdomar", True),
        ("vgr-chair", "npo-psykisk-halsa", False),
        ("admin", "npo-psykisk-halsa", False),
        ("nobody", "npo-psykisk-halsa", False),
    ],
)
def test_who_creates_a_knowledge_support(world, who, owner, allowed):
    if allowed:
        ks = world.create_ks(owner=owner, who=who)
        assert ks.state == "need_identified"
        [row] = events(world.session, ks)
        assert (row.trigger, row.actor) == ("create", f"{who}@test.se")
        return
    with pytest.raises(Forbidden) as err:
        world.create_ks(owner=owner, who=who)
    assert err.value.code == "forbidden"


def test_a_region_cannot_act_on_another_regions_cases(world):
    ks = world.ks_in("published")
    skane = world.adaptation(ks, "skane")
    refused(world, skane, "start_assessment", "vgr-coordinator", "forbidden")
    refused(world, skane, "start_assessment", "vastra-lead", "forbidden")
    world.fire(skane, "start_assessment", "skane-coordinator")
    assert skane.state == "assessing"


def test_healthcare_region_reaches_its_regions_and_halland_is_in_two(world):
    ks = world.ks_in("published")
    vgr, halland, skane = (world.adaptation(ks, r) for r in ("vgr", "halland", "skane"))
    for ra in (vgr, halland):
        fired = world.fire(ra, "start_assessment", "vastra-lead")
        assert (ra.state, fired.role) == ("assessing", "process_lead")
    refused(world, skane, "start_assessment", "vastra-lead", "forbidden")
    refused(world, vgr, "put_on_hold", "sodra-lead", "forbidden", comment="Väntar")
    world.fire(halland, "put_on_hold", "sodra-lead", comment="Väntar på resurser")
    world.fire(skane, "start_assessment", "sodra-lead")
    assert (halland.state, skane.state) == ("on_hold", "assessing")


def test_local_units_acknowledge_only_their_own(world):
    ra = world.adaptation_in("implementing")
    mine, other = world.implementation(ra, "vgr-psyk-1"), world.implementation(ra, "vgr-psyk-2")
    refused(world, mine, "acknowledge", "local2-lead", "forbidden")
    refused(world, mine, "acknowledge", "skane-local-lead", "forbidden")
    refused(world, mine, "acknowledge", "vgr-lead", "forbidden")
    refused(world, mine, "acknowledge", "vgr-coordinator", "forbidden")
    world.fire(mine, "acknowledge", "local-lead")
    world.fire(other, "acknowledge", "local2-lead")
    assert (mine.state, other.state) == ("acknowledged", "acknowledged")


def test_member_acknowledges_and_reports_deviations_only(world):
    li = world.implementation_in("assigned")
    fired = world.fire(li, "acknowledge", "local-member")
    assert (li.state, fired.role) == ("acknowledged", "member")
    refused(world, li, "start_implementation", "local-member", "forbidden")
    world.fire(li, "start_implementation", "local-lead")
    refused(world, li, "report_implemented", "local-member", "forbidden")
    fired = world.fire(li, "report_deviation", "local-member", comment="Saknar utbildning")
    assert (li.state, fired.role) == ("deviation", "member")
    refused(world, li, "resolve_deviation", "local-member", "forbidden", comment="Löst")


def test_region_scoped_triggers_need_the_regions_process_lead(world):
    ra = world.adaptation_in("implementing")
    li, li2 = world.implementation(ra, "vgr-psyk-1"), world.implementation(ra, "vgr-psyk-2")
    for who in ("psyk1-process", "local-lead", "rpo-lead", "vgr-coordinator", "skane-lead"):
        refused(world, li, "waive", who, "forbidden", comment="Ej aktuellt")
    fired = world.fire(li2, "waive", "vastra-lead", comment="Verksamheten läggs ned")
    assert (li2.state, fired.role) == ("waived", "process_lead")

    for trigger in ("acknowledge", "start_implementation", "report_implemented", "start_follow_up"):
        world.fire(li, trigger, "local-lead")
    for who in ("psyk1-process", "local-lead", "local-member", "vgr-chair"):
        refused(world, li, "close", who, "forbidden")
    fired = world.fire(li, "close", "vgr-lead")
    assert (li.state, fired.role) == ("closed", "process_lead")


def test_deviation_is_resolved_by_local_lead_or_the_region(world):
    li = world.implementation_in("implementing")
    world.fire(li, "report_deviation", "local-lead", comment="Läkemedlet saknas")
    refused(world, li, "resolve_deviation", "psyk1-process", "forbidden", comment="Löst")
    refused(world, li, "resolve_deviation", "local2-lead", "forbidden", comment="Löst")
    fired = world.fire(li, "resolve_deviation", "vgr-lead", comment="Regionen har köpt in")
    assert (li.state, fired.role) == ("implementing", "process_lead")


AUTO_ONLY = [
    ("consultation_response", "expire"),
    ("consultation_response", "cancel"),
    ("regional_adaptation", "reassess"),
    ("regional_adaptation", "cancel"),
    ("local_implementation", "cancel"),
]


def case_for(world, case_type):
    if case_type == "consultation_response":
        return world.case_of("consultation_response", world.ks_in("consultation"), "vgr")
    if case_type == "regional_adaptation":
        return world.adaptation_in("assessing")
    return world.implementation_in("acknowledged")


@pytest.mark.parametrize(("case_type", "trigger"), AUTO_ONLY)
def test_auto_only_triggers(world, case_type, trigger):
    case = case_for(world, case_type)
    humans = ["vgr-coordinator", "vgr-chair", "vgr-lead", "local-lead", "npo-chair", "admin"]
    for who in humans:
        refused(world, case, trigger, who, "forbidden")
    refused(world, case, trigger, "skane-chair", "forbidden", override=True)
    refused(world, case, trigger, "vgr-lead", "forbidden", override=True)

    before = case.state
    fired = world.fire(case, trigger, "admin", override=True, comment="Rättning")
    assert fired.case.state == MACHINES[case_type].triggers[trigger].dest_from(before)
    row = events(world.session, case)[-1]
    assert (row.trigger, row.from_state, row.to_state) == (trigger, before, case.state)
    assert (row.actor, row.role, row.override, row.comment) == (
        "admin@test.se",
        "admin",
        True,
        "Rättning",
    )


def test_regional_admin_overrides_only_in_its_region(world):
    ks = world.ks_in("published")
    vgr, skane = world.adaptation(ks, "vgr"), world.adaptation(ks, "skane")
    refused(world, skane, "cancel", "vgr-admin", "forbidden", override=True)
    refused(world, ks, "withdraw", "vgr-admin", "forbidden", override=True, comment="x")
    world.fire(vgr, "cancel", "vgr-admin", override=True)
    assert vgr.state == "cancelled"
    assert events(world.session, vgr)[-1].role == "admin"


def test_admin_override_of_a_manual_trigger_is_recorded(world):
    ks = world.ks_in("need_identified")
    refused(world, ks, "commission", "admin", "forbidden")
    fired = world.fire(ks, "commission", "admin", override=True)
    assert (ks.state, fired.role) == ("commissioned", "admin")
    row = events(world.session, ks)[-1]
    assert (row.actor, row.role, row.override) == ("admin@test.se", "admin", True)
    # An override still respects the machine and the parameters.
    refused(world, ks, "publish", "admin", "invalid_transition", override=True)
    world.fire(ks, "start_drafting", "npo-lead")
    refused(world, ks, "cancel", "admin", "validation_error", override=True)
    normal = events(world.session, ks)[-1]
    assert (normal.role, normal.override) == ("process_lead", False)


def test_viewer_can_fire_nothing(world):
    ks = world.ks_in("drafting")
    ra = world.adaptation_in("received")
    for who, case in (("npo-viewer", ks), ("vgr-viewer", ra), ("nobody", ra)):
        assert world.authority(who).allowed_triggers(case) == []
        for trigger in MACHINES[case.type].triggers_from(case.state):
            refused(world, case, trigger, who, "forbidden", comment="x")


def test_system_fires_only_automatic_triggers(world):
    ks = world.ks_in("drafting")
    refused(world, ks, "approve_for_review", "system", "forbidden")
    refused(world, ks, "cancel", "system", "forbidden", comment="x")
    ra = world.adaptation_in("received")
    refused(world, ra, "start_assessment", "system", "forbidden")
    refused(world, ra, "assign", "system", "forbidden", params={"unit": "vgr-rpo-psyk"})
    assert world.authority("system").allowed_triggers(ra) == []

    ks = world.ks_in("consultation")
    fired = world.fire(ks, "close_consultation", "system")
    assert (ks.state, fired.role) == ("revising", None)
    row = events(world.session, ks)[-1]
    assert (row.actor, row.actor_id, row.role, row.override) == ("system", None, None, False)


def test_visibility(world):
    ks = world.ks_in("published")
    skane = world.adaptation(ks, "skane")
    session = world.session
    for who in ("vgr-coordinator", "vastra-lead", "local-lead", "nobody", "other-npo-chair"):
        with pytest.raises(NotFound) as err:
            readable_case(session, world.authority(who), skane.id)
        assert err.value.code == "not_found"
        assert err.value.status == 404
    for who in ("skane-coordinator", "skane-chair", "sodra-lead", "npo-chair", "npo-viewer"):
        assert readable_case(session, world.authority(who), skane.id) is skane
    # Knowledge supports are visible to everyone.
    for who in ("nobody", "skane-local-lead", "other-npo-chair", "vgr-viewer"):
        assert readable_case(session, world.authority(who), ks.id, "knowledge_support") is ks
    # A local implementation: its own unit and the region, not the sibling unit.
    ra = world.adaptation_in("implementing", ks)
    li = world.implementation(ra, "vgr-psyk-1")
    for who in ("local-lead", "local-member", "vgr-viewer", "vastra-lead", "npo-member"):
        assert readable_case(session, world.authority(who), li.id) is li
    for who in ("local2-lead", "skane-local-lead", "sodra-lead", "nobody"):
        with pytest.raises(NotFound):
            readable_case(session, world.authority(who), li.id)
    # Wrong type, unknown id and junk ids look the same as "not yours".
    for case_id, case_type in ((li.id, "regional_adaptation"), (10**9, None), ("1", None)):
        with pytest.raises(NotFound):
            readable_case(session, world.authority("admin"), case_id, case_type)


def test_allowed_triggers_for_representative_users(world):
    ks = world.ks_in("review")
    assert set(world.authority("npo-chair").allowed_triggers(ks)) == {
        "request_changes",
        "open_consultation",
        "cancel",
    }
    assert world.authority("npo-lead").allowed_triggers(ks) == []
    world.fire(ks, "open_consultation", "npo-chair", params={"channel": "remiss"})
    assert world.authority("npo-lead").allowed_triggers(ks) == ["close_consultation"]
    assert set(world.authority("npo-chair").allowed_triggers(ks)) == {
        "close_consultation",
        "cancel",
    }
    assert world.authority("admin").allowed_triggers(ks) == []

    response = world.case_of("consultation_response", ks, "vgr")
    assert set(world.authority("vgr-coordinator").allowed_triggers(response)) == {
        "start_response",
        "decline",
    }
    assert world.authority("vgr-chair").allowed_triggers(response) == []
    assert world.authority("skane-coordinator").allowed_triggers(response) == []

    ra = world.adaptation_in("received")
    assert set(world.authority("vgr-coordinator").allowed_triggers(ra)) == {
        "assign",
        "start_assessment",
    }
    assert world.authority("vgr-lead").allowed_triggers(ra) == ["start_assessment"]
    assert world.authority("vgr-chair").allowed_triggers(ra) == []
    li = world.implementation_in("implementing")
    assert set(world.authority("local-lead").allowed_triggers(li)) == {
        "report_implemented",
        "report_deviation",
    }
    assert world.authority("local-member").allowed_triggers(li) == ["report_deviation"]
    assert world.authority("vgr-lead").allowed_triggers(li) == []
    li2 = world.implementation(li.adaptation, "vgr-psyk-2")
    assert li2.state == "assigned"
    assert set(world.authority("vgr-lead").allowed_triggers(li2)) == {"waive"}
    assert world.authority("local-lead").allowed_triggers(li2) == []


def test_forbidden_message_names_the_roles(world):
    ks = world.ks_in("revising")
    err = refused(world, ks, "submit_for_approval", "npo-chair", "forbidden")
    assert "process_lead" in err.message
    assert (
        world.session.scalar(
            select(CaseEvent.trigger)
            .where(CaseEvent.case_id == ks.id)
            .order_by(CaseEvent.id.desc())
        )
        == "close_consultation"
    )
