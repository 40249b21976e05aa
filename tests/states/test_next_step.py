"""Each case type words what happens next in each state beside its declarations, and the roles
named are those the machine grants the state's manual triggers."""

from __future__ import annotations

from kflow.org.roles import ROLE_LABELS
from kflow.states import MACHINES
from kflow.states.next_step import DONE, WORDING, next_step


def test_every_state_someone_acts_in_is_worded():
    for case_type, machine in MACHINES.items():
        for state in machine.state_labels:
            manual = [t for t in machine.triggers_from(state) if machine.triggers[t].manual]
            if manual:
                assert state in WORDING[case_type], (case_type, state)
        assert set(WORDING[case_type]) <= set(machine.state_labels), case_type


def test_the_roles_and_actions_come_from_the_grants():
    step = next_step("regional_adaptation", "awaiting_decision")
    assert step.text == "Nästa steg: ordföranden beslutar."
    assert step.roles == (ROLE_LABELS["chair"],)
    assert step.actions == ("Besluta: införs", "Besluta: införs ej")
    step = next_step("local_implementation", "assigned")
    assert "kvitterar" in step.text
    assert {"Lokalt ansvarig", "Ledamot"} <= set(step.roles)


def test_a_final_state_says_nothing_is_left():
    assert next_step("knowledge_support", "withdrawn").text == DONE
    assert next_step("consultation_response", "submitted").roles == ()
