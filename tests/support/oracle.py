"""The history oracle: what every case's history must say, whatever raced.

A case's history, read in id order, is one unbroken chain: it starts with ``create`` into the
machine's initial state, every row leaves the state the row before it entered, by a trigger the
machine allows from there, into the state the machine says; replaying it gives the case's state,
and it has as many rows as the case's ``lock_version`` (each change raises it once).
"""

from __future__ import annotations

import collections
from typing import Any

from sqlalchemy import select

from kflow.cases.events import CaseEvent
from kflow.cases.models import Case
from kflow.states import MACHINES


def check_chains(rt: Any) -> dict[int, list[CaseEvent]]:
    """Every case: an unbroken history whose replay gives its state; rows = lock_version."""
    with rt.transaction(write=False) as s:
        cases = {c.id: (c.type, c.state, c.lock_version) for c in s.scalars(select(Case))}
        events: dict[int, list[CaseEvent]] = collections.defaultdict(list)
        for event in s.scalars(select(CaseEvent).order_by(CaseEvent.id)):
            events[event.case_id].append(event)
    for case_id, (case_type, state, version) in cases.items():
        machine, chain = MACHINES[case_type], events[case_id]
        assert chain and chain[0].trigger == "create" and chain[0].from_state is None, case_id
        assert chain[0].to_state == machine.initial, case_id
        replayed = chain[0].to_state
        for event in chain[1:]:
            assert event.from_state == replayed, (
                f"case {case_id}: a broken chain at row {event.id} ({event.trigger} "
                f"{event.from_state}→{event.to_state} by {event.actor}, after {replayed}): "
                + ", ".join(f"{e.id}:{e.trigger}" for e in chain)
            )
            assert machine.can_fire(replayed, event.trigger), (case_id, event.trigger)
            replayed = machine.triggers[event.trigger].dest_from(replayed)
            assert event.to_state == replayed, (case_id, event.id)
        assert replayed == state, f"case {case_id}: replay gives {replayed}, the row says {state}"
        assert len(chain) == version, f"case {case_id}: {len(chain)} rows, version {version}"
    return events
