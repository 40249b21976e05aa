"""The case types, one module each, declared once (lifecycle.md §2): the registry.

A case type's module declares its machine (``MACHINE``) with every trigger's whole meaning; see
kflow.states.base for the format and docs/architecture.md for adding a case type.
"""

from __future__ import annotations

from kflow.states import (
    consultation_response,
    follow_up_report,
    indicator_list,
    knowledge_support,
    local_implementation,
    regional_adaptation,
)
from kflow.states.base import CaseMachine, CaseType, Spawn

MACHINES: dict[str, CaseMachine] = {
    m.case_type.value: m
    for m in (
        knowledge_support.MACHINE,
        consultation_response.MACHINE,
        regional_adaptation.MACHINE,
        local_implementation.MACHINE,
        indicator_list.MACHINE,
        follow_up_report.MACHINE,
    )
}
CASE_TYPES: tuple[str, ...] = tuple(str(t) for t in MACHINES)


def _check_births() -> None:
    """Each type born from another's trigger is created by a Spawn of that trigger."""
    for machine in MACHINES.values():
        if machine.born_from is None:
            continue
        parent = MACHINES[machine.born_from.case_type].triggers[machine.born_from.trigger]
        spawned = [e.machine for e in parent.effects if isinstance(e, Spawn)]
        assert machine in spawned, f"{machine.case_type} is not spawned by {machine.born_from}"


_check_births()

__all__ = ["CASE_TYPES", "MACHINES", "CaseMachine", "CaseType"]
