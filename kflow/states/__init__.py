"""The four case machines, one module each, declared once (lifecycle.md §2)."""

from __future__ import annotations

from kflow.states import (
    consultation_response,
    knowledge_support,
    local_implementation,
    regional_adaptation,
)
from kflow.states.base import CaseMachine, Grant, InvalidMove, Param, TriggerSpec

MACHINES: dict[str, CaseMachine] = {
    m.case_type: m
    for m in (
        knowledge_support.MACHINE,
        consultation_response.MACHINE,
        regional_adaptation.MACHINE,
        local_implementation.MACHINE,
    )
}
CASE_TYPES = tuple(MACHINES)

__all__ = ["CASE_TYPES", "MACHINES", "CaseMachine", "Grant", "InvalidMove", "Param", "TriggerSpec"]
