"""What happens next in a case and who does it, read from the declarations: each case type's
module words its states (``NEXT_STEP``: "ordföranden beslutar"), and the roles and actions come
from the manual triggers that leave the state and their grants."""

from __future__ import annotations

import dataclasses

from kflow.org.roles import ROLE_LABELS, Role
from kflow.states import (
    MACHINES,
    consultation_response,
    follow_up_report,
    indicator_list,
    knowledge_support,
    local_implementation,
    regional_adaptation,
)

WORDING: dict[str, dict[str, str]] = {
    str(module.MACHINE.case_type): {str(s): text for s, text in module.NEXT_STEP.items()}
    for module in (
        knowledge_support,
        consultation_response,
        regional_adaptation,
        local_implementation,
        indicator_list,
        follow_up_report,
    )
}
DONE = "Inget mer: ärendet är avslutat."
AUTOMATIC = "Systemet för ärendet vidare automatiskt."


@dataclasses.dataclass(frozen=True)
class NextStep:
    text: str  # "Nästa steg: ordföranden beslutar."
    roles: tuple[str, ...]  # the labels of the roles that may act (Ordförande, ...)
    actions: tuple[str, ...]  # the labels of what they may do (Besluta: införs, ...)


def next_step(case_type: str, state: str) -> NextStep:
    """What happens next in a case of ``case_type`` in ``state``, and who may do it."""
    state = str(state)  # a State member would miss the machine's cache of legal triggers
    machine = MACHINES[case_type]
    manual = [
        machine.triggers[name]
        for name in machine.triggers_from(state)
        if machine.triggers[name].manual
    ]
    roles = {grant.role for spec in manual for grant in spec.grants}
    ordered = tuple(ROLE_LABELS[r] for r in Role if r in roles)
    actions = tuple(spec.label for spec in manual)
    wording = WORDING[case_type].get(state)
    if wording is not None:
        return NextStep(f"Nästa steg: {wording}.", ordered, actions)
    if state in machine.final:
        return NextStep(DONE, (), ())
    return NextStep(AUTOMATIC, ordered, actions)
