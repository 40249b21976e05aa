"""The four machines checked against lifecycle.md §2, written out here by hand from the contract.

Nothing below is derived from kflow.states: the tables are the contract, the machines are what we
check. Every case type x every state x every trigger is one test.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from kflow.errors import InvalidTransition
from kflow.states import MACHINES
from kflow.states.base import InvalidMove
from kflow.tools.cli import main
from tests.support.checks import refused

# --- lifecycle.md §2, by hand ---------------------------------------------------------------

STATES: dict[str, dict[str, str]] = {
    "knowledge_support": {
        "need_identified": "Behov identifierat",
        "commissioned": "Uppdrag beslutat",
        "drafting": "Framtagande",
        "review": "Granskning",
        "consultation": "Remiss",
        "revising": "Bearbetning efter remiss",
        "awaiting_approval": "Väntar på fastställande",
        "published": "Publicerad",
        "withdrawn": "Avpublicerad",
        "cancelled": "Avbruten",
    },
    "consultation_response": {
        "requested": "Begärt",
        "drafting": "Under arbete",
        "submitted": "Inskickat",
        "declined": "Avstår",
        "missed": "Ej besvarat",
        "cancelled": "Avbrutet",
    },
    "regional_adaptation": {
        "received": "Mottagen",
        "assessing": "Prioritering och konsekvensanalys",
        "on_hold": "Vilande",
        "awaiting_decision": "Beredning, väntar på beslut",
        "adopted": "Beslut: införs",
        "not_adopted": "Beslut: införs ej",
        "adapting": "Regional tillämpning",
        "implementing": "Införande pågår lokalt",
        "following_up": "Uppföljning",
        "closed": "Avslutad",
        "cancelled": "Avbruten",
    },
    "local_implementation": {
        "assigned": "Tilldelad",
        "acknowledged": "Kvitterad",
        "implementing": "Under införande",
        "implemented": "Infört",
        "following_up": "Uppföljning",
        "deviation": "Avvikelse",
        "closed": "Avslutad",
        "waived": "Ej aktuell",
        "cancelled": "Avbruten",
    },
    # lifecycle.md §6.3
    "indicator_list": {
        "drafting": "Under arbete",
        "submitted": "Inlämnad för fastställande",
        "approved": "Fastställd",
        "closed": "Avslutad",
        "cancelled": "Avbruten",
    },
    # lifecycle.md §6.6
    "follow_up_report": {
        "open": "Att rapportera",
        "submitted": "Inskickad",
        "accepted": "Mottagen",
        "waived": "Ej aktuell",
        "missed": "Ej inkommen",
    },
}
INITIAL = {
    "knowledge_support": "need_identified",
    "consultation_response": "requested",
    "regional_adaptation": "received",
    "local_implementation": "assigned",
    "indicator_list": "drafting",
    "follow_up_report": "open",
}
# Final states. regional_adaptation: the contract marks `cancelled` final and `closed` "final
# until reassessed"; `not_adopted` is unmarked but is the same kind of standing decision (left
# only by reassess), so it is not "open" either: a withdrawal does not cancel it.
FINAL = {
    "knowledge_support": {"withdrawn", "cancelled"},
    "consultation_response": {"submitted", "declined", "missed", "cancelled"},
    "regional_adaptation": {"not_adopted", "closed", "cancelled"},
    "local_implementation": {"closed", "waived", "cancelled"},
    "indicator_list": {"closed", "cancelled"},
    "follow_up_report": {"accepted", "waived"},  # `missed` may still be sent late
}
KS_BEFORE_PUBLISHED = [
    "need_identified",
    "commissioned",
    "drafting",
    "review",
    "consultation",
    "revising",
    "awaiting_approval",
]
RA_ALL_BUT_CANCELLED = [s for s in STATES["regional_adaptation"] if s != "cancelled"]
RA_OPEN = [s for s in STATES["regional_adaptation"] if s not in FINAL["regional_adaptation"]]
LI_OPEN = [s for s in STATES["local_implementation"] if s not in FINAL["local_implementation"]]

# trigger -> {from state: to state}
TRANSITIONS: dict[str, dict[str, dict[str, str]]] = {
    "knowledge_support": {
        "commission": {"need_identified": "commissioned"},
        "start_drafting": {"commissioned": "drafting"},
        "approve_for_review": {"drafting": "review"},
        "request_changes": {"review": "drafting", "awaiting_approval": "revising"},
        "open_consultation": {"review": "consultation"},
        "close_consultation": {"consultation": "revising"},
        "submit_for_approval": {"revising": "awaiting_approval"},
        "publish": {"awaiting_approval": "published"},
        "start_revision": {"published": "drafting"},
        "withdraw": {"published": "withdrawn"},
        "cancel": dict.fromkeys(KS_BEFORE_PUBLISHED, "cancelled"),
    },
    "consultation_response": {
        "start_response": {"requested": "drafting"},
        "submit": {"drafting": "submitted"},
        "decline": {"requested": "declined", "drafting": "declined"},
        "expire": {"requested": "missed", "drafting": "missed"},
        "cancel": {"requested": "cancelled", "drafting": "cancelled"},
    },
    "regional_adaptation": {
        "assign": {"received": "received", "assessing": "assessing"},
        "start_assessment": {"received": "assessing"},
        "put_on_hold": {"assessing": "on_hold"},
        "resume": {"on_hold": "assessing"},
        "submit_for_decision": {"assessing": "awaiting_decision"},
        "adopt": {"awaiting_decision": "adopted"},
        "reject": {"awaiting_decision": "not_adopted"},
        "start_adaptation": {"adopted": "adapting"},
        "hand_off": {"adopted": "implementing", "adapting": "implementing"},
        "start_follow_up": {"implementing": "following_up"},
        "close": {"following_up": "closed"},
        "reassess": dict.fromkeys(RA_ALL_BUT_CANCELLED, "received"),
        "cancel": dict.fromkeys(RA_OPEN, "cancelled"),
    },
    "local_implementation": {
        "acknowledge": {"assigned": "acknowledged"},
        "start_implementation": {"acknowledged": "implementing"},
        "report_implemented": {"implementing": "implemented"},
        "start_follow_up": {"implemented": "following_up"},
        "report_deviation": {
            "implementing": "deviation",
            "implemented": "deviation",
            "following_up": "deviation",
        },
        "resolve_deviation": {"deviation": "implementing"},
        "close": {"following_up": "closed"},
        "waive": {"assigned": "waived", "acknowledged": "waived"},
        "cancel": dict.fromkeys(LI_OPEN, "cancelled"),
    },
    "indicator_list": {
        "set_target": {"drafting": "drafting"},
        "remove_target": {"drafting": "drafting"},
        "submit": {"drafting": "submitted"},
        "request_changes": {"submitted": "drafting"},
        "approve": {"submitted": "approved"},
        "revise": {"approved": "drafting"},
        "close": {"approved": "closed"},
        "cancel": {"drafting": "cancelled", "submitted": "cancelled"},
    },
    "follow_up_report": {
        "submit": {"open": "submitted"},
        "accept": {"submitted": "accepted"},
        "return": {"submitted": "open"},
        "waive": {"open": "waived"},
        "expire": {"open": "missed"},
        "submit_late": {"missed": "submitted"},
    },
}

# Who may fire each trigger: (role, scope). "case": held in the owner/assignee or above;
# "region": held in the case's region or above; "recipient": held in the unit the case reports to
# or above. No grants: automatic only.
C, R, TO = "case", "region", "recipient"
GRANTS: dict[str, dict[str, set[tuple[str, str]]]] = {
    "knowledge_support": {
        "commission": {("chair", C)},
        "start_drafting": {("process_lead", C), ("chair", C)},
        "approve_for_review": {("chair", C)},
        "request_changes": {("chair", C)},
        "open_consultation": {("chair", C)},
        "close_consultation": {("process_lead", C), ("chair", C)},
        "submit_for_approval": {("process_lead", C)},
        "publish": {("chair", C)},
        "start_revision": {("process_lead", C), ("chair", C)},
        "withdraw": {("chair", C)},
        "cancel": {("chair", C)},
    },
    "consultation_response": {
        "start_response": {("coordinator", R), ("process_lead", R)},
        "submit": {("coordinator", R), ("chair", R)},
        "decline": {("coordinator", R)},
        "expire": set(),
        "cancel": set(),
    },
    "regional_adaptation": {
        "assign": {("coordinator", C)},
        "start_assessment": {("coordinator", C), ("process_lead", C)},
        "put_on_hold": {("coordinator", C), ("process_lead", C)},
        "resume": {("coordinator", C), ("process_lead", C)},
        "submit_for_decision": {("process_lead", C), ("coordinator", C)},
        "adopt": {("chair", C)},
        "reject": {("chair", C)},
        "start_adaptation": {("process_lead", C), ("coordinator", C)},
        "hand_off": {("coordinator", C), ("process_lead", C)},
        "start_follow_up": {("process_lead", C)},
        "close": {("coordinator", C), ("chair", C)},
        "reassess": set(),
        "cancel": set(),
    },
    "local_implementation": {
        "acknowledge": {("local_lead", C), ("member", C)},
        "start_implementation": {("local_lead", C)},
        "report_implemented": {("local_lead", C)},
        "start_follow_up": {("local_lead", C)},
        "report_deviation": {("local_lead", C), ("member", C)},
        "resolve_deviation": {("local_lead", C), ("process_lead", R)},
        "close": {("process_lead", R)},
        "waive": {("process_lead", R)},
        "cancel": set(),
    },
    "indicator_list": {
        "set_target": {("coordinator", C), ("process_lead", C)},
        "remove_target": {("coordinator", C), ("process_lead", C)},
        "submit": {("coordinator", C)},
        "request_changes": {("chair", C)},
        "approve": {("chair", C)},
        "revise": {("chair", C)},
        "close": {("coordinator", C)},
        "cancel": {("chair", C)},
    },
    "follow_up_report": {
        "submit": {("process_lead", C), ("chair", C), ("local_lead", C)},
        "accept": {("process_lead", TO), ("chair", TO)},
        "return": {("process_lead", TO), ("chair", TO)},
        "waive": {("chair", TO)},
        "expire": set(),
        "submit_late": {("process_lead", C), ("chair", C), ("local_lead", C)},
    },
}
# Triggers the system fires (*auto*); close_consultation is also manual.
AUTO = {
    "knowledge_support": {"close_consultation"},
    "consultation_response": {"expire", "cancel"},
    "regional_adaptation": {"reassess", "cancel"},
    "local_implementation": {"cancel"},
    "indicator_list": {"close"},
    "follow_up_report": {"expire"},
}
# Triggers whose `comment` is required by the contract.
COMMENT_REQUIRED = {
    "knowledge_support": {"request_changes", "withdraw", "cancel"},
    "consultation_response": {"submit", "decline"},
    "regional_adaptation": {"put_on_hold", "submit_for_decision", "reject"},
    "local_implementation": {"report_deviation", "resolve_deviation", "waive"},
    "indicator_list": {"request_changes", "revise", "cancel"},
    "follow_up_report": {"return", "waive"},
}

# Declared parameters: name -> required (None: required only for some cases), and choices.
PARAMS = {
    "knowledge_support": {
        "commission": {"decision_ref": None},
        "open_consultation": {"channel": True, "deadline": False},
        "publish": {"decision_ref": True, "document_url": False},
    },
    "consultation_response": {"submit": {"position": True}},
    "regional_adaptation": {
        "assign": {"unit": True},
        "adopt": {"decision_ref": True},
        "hand_off": {"units": True, "due": False},
    },
    "local_implementation": {},
    "indicator_list": {
        "set_target": {
            "indicator": True,
            "unit": True,
            "target_value": True,
            "tolerance_pct": False,
            "responsible": False,
        },
        "remove_target": {"indicator": True, "unit": True},
        "approve": {"decision_ref": True},
    },
    # analysis: required by the guard when a target is not met or a deviation is open
    "follow_up_report": {"submit": {"analysis": False}, "submit_late": {"analysis": False}},
}
CHOICES = {
    ("knowledge_support", "open_consultation", "channel"): {"remiss", "synpunktsinhamtning"},
    ("consultation_response", "submit", "position"): {
        "supports",
        "supports_with_reservations",
        "opposes",
    },
}
KS_KINDS = ["kliniskt_kunskapsstod", "vardforlopp", "vardprogram", "vardriktlinje", "rapport"]

CASE_TYPES = list(STATES)
MATRIX = [
    pytest.param(ct, state, trigger, id=f"{ct}-{state}-{trigger}")
    for ct in CASE_TYPES
    for state in STATES[ct]
    for trigger in TRANSITIONS[ct]
]


# --- pure: the declarations against the contract ---------------------------------------------


def test_the_four_case_types():
    assert set(MACHINES) == set(CASE_TYPES)


@pytest.mark.parametrize("case_type", CASE_TYPES)
def test_states_labels_initial_and_final(case_type):
    m = MACHINES[case_type]
    assert m.state_names == set(STATES[case_type])
    assert {s: m.state_label(s) for s in m.state_names} == STATES[case_type]
    assert m.initial == INITIAL[case_type]
    assert m.final == FINAL[case_type]


@pytest.mark.parametrize("case_type", CASE_TYPES)
def test_trigger_names_grants_auto_and_comments(case_type):
    m = MACHINES[case_type]
    assert set(m.triggers) == set(TRANSITIONS[case_type])
    for name, spec in m.triggers.items():
        assert {(g.role, g.scope) for g in spec.grants} == GRANTS[case_type][name], name
        assert spec.auto == (name in AUTO[case_type]), name
        assert spec.manual == bool(GRANTS[case_type][name]), name
        assert spec.comment_required == (name in COMMENT_REQUIRED[case_type]), name


@pytest.mark.parametrize("case_type", CASE_TYPES)
def test_parameters(case_type):
    for name, spec in MACHINES[case_type].triggers.items():
        declared = {p.name: p for p in spec.params}
        assert set(declared) == set(PARAMS[case_type].get(name, {})), name
        for param in declared.values():
            required = PARAMS[case_type][name][param.name]
            if required is None:  # decision_ref on commission: only for a vårdförlopp
                assert not param.required
                for kind in KS_KINDS:
                    assert param.is_required(SimpleNamespace(kind=kind)) == (kind == "vardforlopp")
            else:
                assert param.required is required, (name, param.name)
            choices = {key for key, _ in param.choices}
            assert choices == CHOICES.get((case_type, name, param.name), set()), param.name


@pytest.mark.parametrize(("case_type", "state", "trigger"), MATRIX)
def test_every_state_and_trigger(case_type, state, trigger):
    m = MACHINES[case_type]
    expected = TRANSITIONS[case_type][trigger].get(state)
    assert m.can_fire(state, trigger) is (expected is not None)
    assert (trigger in m.triggers_from(state)) is (expected is not None)
    case = SimpleNamespace(state=state)
    if expected is None:
        with pytest.raises(InvalidMove):
            m.fire(case, trigger)
        assert case.state == state
    else:
        assert m.triggers[trigger].dest_from(state) == expected
        m.fire(case, trigger)
        assert case.state == expected


@pytest.mark.parametrize("case_type", CASE_TYPES)
def test_final_states_only_leave_by_reassess(case_type):
    """Nothing moves out of a final state, except a regional decision reassessed."""
    m = MACHINES[case_type]
    for state in FINAL[case_type]:
        legal = set(m.triggers_from(state))
        if case_type == "regional_adaptation" and state != "cancelled":
            assert legal == {"reassess"}, state
        else:
            assert legal == set(), state


@pytest.mark.parametrize("case_type", CASE_TYPES)
def test_no_auto_transitions(case_type):
    m = MACHINES[case_type]
    events = set(m.machine.events)
    assert events == set(TRANSITIONS[case_type])
    assert not [e for e in events if e.startswith("to_")]
    for state in STATES[case_type]:
        assert not [t for t in m.triggers_from(state) if t.startswith("to_")]
        case = SimpleNamespace(state=state)
        with pytest.raises((InvalidMove, KeyError)):
            m.fire(case, f"to_{state}")


# --- kflow diagram ---------------------------------------------------------------------------

EDGE = re.compile(r"^\s*(\w+) --> (\w+): (.+)$")


def edges(mermaid: str) -> set[tuple[str, str, str]]:
    found = set()
    for line in mermaid.splitlines():
        match = EDGE.match(line)
        if match:
            source, dest, labels = match.groups()
            for label in labels.split("|"):
                found.add((source, label.replace("[internal]", "").strip(), dest))
    return found


@pytest.mark.parametrize("case_type", CASE_TYPES)
def test_diagram_shows_every_transition(case_type):
    result = CliRunner().invoke(main, ["diagram", case_type])
    assert result.exit_code == 0, result.output
    assert "stateDiagram-v2" in result.output
    expected = {
        (source, trigger, dest)
        for trigger, moves in TRANSITIONS[case_type].items()
        for source, dest in moves.items()
    }
    assert edges(result.output) == expected
    assert f"[*] --> {INITIAL[case_type]}" in result.output
    assert "to_" not in result.output


def test_diagram_highlights_a_state_and_refuses_an_unknown_one():
    result = CliRunner().invoke(main, ["diagram", "local_implementation", "--state", "deviation"])
    assert result.exit_code == 0, result.output
    assert re.search(r"Class deviation s_active", result.output)
    bad = CliRunner().invoke(main, ["diagram", "local_implementation", "--state", "published"])
    assert bad.exit_code != 0
    assert "published" in bad.output


# --- against the database: a wrong state is refused and nothing is written -------------------


def assert_refused_from_state(world, case, trigger, who, **kwargs):
    err = refused(world, case, trigger, who, "invalid_transition", **kwargs)
    assert isinstance(err, InvalidTransition)
    assert case.state in err.message


@pytest.mark.parametrize(
    ("state", "trigger", "who", "kwargs"),
    [
        ("need_identified", "start_drafting", "npo-chair", {}),
        ("drafting", "publish", "npo-chair", {"params": {"decision_ref": "X-1"}}),
        ("review", "close_consultation", "npo-lead", {}),
        ("commissioned", "open_consultation", "npo-chair", {"params": {"channel": "remiss"}}),
        ("published", "cancel", "npo-chair", {"comment": "Inte längre aktuellt"}),
        ("published", "commission", "npo-chair", {}),
        ("consultation", "withdraw", "npo-chair", {"comment": "Fel"}),
    ],
)
def test_knowledge_support_from_wrong_state(world, state, trigger, who, kwargs):
    assert_refused_from_state(world, world.ks_in(state), trigger, who, **kwargs)


def test_knowledge_support_final_states_refuse_everything(world):
    ks = world.ks_in("published")
    world.fire(ks, "withdraw", "npo-chair", comment="Ersatt av nytt stöd")
    assert_refused_from_state(world, ks, "start_revision", "npo-chair")
    assert_refused_from_state(world, ks, "withdraw", "npo-chair", comment="Igen")
    cancelled = world.ks_in("review")
    world.fire(cancelled, "cancel", "npo-chair", comment="Behovet föll bort")
    assert_refused_from_state(world, cancelled, "cancel", "npo-chair", comment="Igen")
    assert_refused_from_state(world, cancelled, "start_drafting", "npo-lead")


def test_consultation_response_from_wrong_state(world):
    ks = world.ks_in("consultation")
    response = world.case_of("consultation_response", ks, "vgr")
    assert_refused_from_state(
        world, response, "submit", "vgr-coordinator", comment="x", params={"position": "opposes"}
    )
    world.fire(response, "start_response", "vgr-coordinator")
    world.fire(
        response, "submit", "vgr-coordinator", comment="Bra", params={"position": "supports"}
    )
    assert response.state == "submitted"
    assert_refused_from_state(world, response, "decline", "vgr-coordinator", comment="x")
    assert_refused_from_state(world, response, "start_response", "vgr-lead")
    assert_refused_from_state(world, response, "expire", "system")


@pytest.mark.parametrize(
    ("state", "trigger", "who", "kwargs"),
    [
        ("received", "adopt", "vgr-chair", {"params": {"decision_ref": "HSN-1"}}),
        ("adopted", "start_assessment", "vgr-coordinator", {}),
        ("adopted", "assign", "vgr-coordinator", {"params": {"unit": "vgr-rpo-psyk"}}),
        ("assessing", "hand_off", "vgr-lead", {"params": {"units": ["vgr-psyk-1"]}}),
        ("implementing", "close", "vgr-chair", {}),
        ("awaiting_decision", "resume", "vgr-lead", {}),
    ],
)
def test_regional_adaptation_from_wrong_state(world, state, trigger, who, kwargs):
    assert_refused_from_state(world, world.adaptation_in(state), trigger, who, **kwargs)


@pytest.mark.parametrize(
    ("state", "trigger", "who", "kwargs"),
    [
        ("assigned", "start_implementation", "local-lead", {}),
        ("assigned", "close", "vgr-lead", {}),
        ("acknowledged", "report_deviation", "local-member", {"comment": "Saknar personal"}),
        ("implementing", "waive", "vgr-lead", {"comment": "Ej aktuellt"}),
        ("following_up", "acknowledge", "local-lead", {}),
    ],
)
def test_local_implementation_from_wrong_state(world, state, trigger, who, kwargs):
    assert_refused_from_state(world, world.implementation_in(state), trigger, who, **kwargs)


def test_local_implementation_closed_refuses_everything(world):
    li = world.implementation_in("following_up")
    world.fire(li, "close", "vgr-lead")
    assert li.state == "closed"
    assert_refused_from_state(world, li, "report_deviation", "local-lead", comment="x")
    assert_refused_from_state(world, li, "start_follow_up", "local-lead")
    assert_refused_from_state(world, li, "cancel", "system")
