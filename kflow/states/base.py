"""The declaration format shared by the four case machines.

Each case type declares, once: its states with Swedish labels, and its triggers with sources,
destination, who may fire them (role and scope), whether the system fires them, and their
parameters. From that one table we build a shared ``transitions.Machine`` (``model=None``: one
machine per case type, never one per row) that decides which moves are legal and performs them.
Database effects (fan-out, cascades) live in kflow.services.effects, keyed by trigger.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any

from transitions import Machine, MachineError
from transitions.extensions import GraphMachine

# Scopes a grant can name:
#   "case":   the role is held in the case's owner unit, its assignee unit, or a unit above them.
#   "region": the role is held in the case's region or above it (e.g. the region's process lead
#             acting on a local implementation).
CASE = "case"
REGION = "region"


@dataclasses.dataclass(frozen=True)
class Grant:
    role: str
    scope: str = CASE


@dataclasses.dataclass(frozen=True)
class Param:
    """One trigger parameter.

    ``kind``: text, choice, date, unit (a unit code), units (a list of unit codes).
    ``required_if`` makes a parameter required only for some cases (decision_ref for vårdförlopp).
    """

    name: str
    kind: str
    label: str
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    required_if: Callable[[Any], bool] | None = None
    help: str = ""

    def is_required(self, case: Any) -> bool:
        return self.required or (self.required_if is not None and self.required_if(case))


@dataclasses.dataclass(frozen=True)
class TriggerSpec:
    name: str
    label: str
    moves: tuple[tuple[tuple[str, ...], str | None], ...]  # (sources, dest); dest None = same state
    grants: tuple[Grant, ...] = ()
    auto: bool = False
    comment_required: bool = False
    params: tuple[Param, ...] = ()
    guard: str | None = None  # name of a database guard in kflow.services.guards

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(s for sources, _ in self.moves for s in sources)

    @property
    def manual(self) -> bool:
        return bool(self.grants)

    def dest_from(self, state: str) -> str:
        for sources, dest in self.moves:
            if state in sources:
                return dest or state
        raise KeyError(state)


def move(sources: str | Iterable[str], dest: str | None) -> tuple[tuple[str, ...], str | None]:
    # Plain strings: transitions handles Enum members by name, and ours are StrEnum values.
    listed = (sources,) if isinstance(sources, str) else tuple(sources)
    return (tuple(str(s) for s in listed), None if dest is None else str(dest))


class InvalidMove(Exception):
    """The trigger exists but cannot be fired from the case's current state."""


class CaseMachine:
    """One case type's machine: states, labels, trigger specs and the shared transitions Machine."""

    def __init__(
        self,
        case_type: str,
        label: str,
        states: type[StrEnum],
        state_labels: Mapping[Any, str],
        initial: str,
        final: Iterable[str],
        triggers: Iterable[TriggerSpec],
    ) -> None:
        self.case_type = case_type
        self.label = label
        self.states = states
        self.state_labels = {str(k): v for k, v in state_labels.items()}
        self.initial = str(initial)
        self.final = frozenset(str(s) for s in final)
        self.state_names = frozenset(s.value for s in states)
        self.triggers = {spec.name: spec for spec in triggers}
        assert set(self.state_labels) == {s.value for s in states}, case_type
        self._transitions = [
            {"trigger": spec.name, "source": list(sources), "dest": dest}
            for spec in self.triggers.values()
            for sources, dest in spec.moves
        ]
        self._triggers_from: dict[str, list[str]] = {}
        self.machine = Machine(
            model=None,
            states=[s.value for s in states],
            transitions=self._transitions,
            initial=None,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )

    @property
    def open_states(self) -> frozenset[str]:
        return self.state_names - self.final

    def triggers_from(self, state: str) -> list[str]:
        """Trigger names that are legal from ``state`` (in declaration order)."""
        found = self._triggers_from.get(state)
        if found is None:
            legal = set(self.machine.get_triggers(state))
            found = self._triggers_from[state] = [n for n in self.triggers if n in legal]
        return list(found)

    def can_fire(self, state: str, trigger: str) -> bool:
        return trigger in self.triggers and state in self.triggers[trigger].sources

    def fire(self, case: Any, trigger: str) -> None:
        """Move ``case`` (any object with a ``state`` attribute) along ``trigger``."""
        try:
            self.machine.events[trigger].trigger(case)
        except MachineError as exc:
            raise InvalidMove(str(exc)) from None

    def state_label(self, state: str) -> str:
        return self.state_labels.get(state, state)

    def diagram(self, highlight: str | None = None) -> str:
        """The machine as a Mermaid stateDiagram-v2, optionally with one state highlighted."""
        graph = GraphMachine(
            states=[s.value for s in self.states],
            transitions=self._transitions,
            initial=self.initial,
            graph_engine="mermaid",
            auto_transitions=False,
            title=f"{self.label} ({self.case_type})",
            show_state_attributes=False,
        )
        if highlight:
            graph.set_state(highlight)
        source: str = graph.get_graph(force_new=True).draw(None)
        # transitions writes the title as a bare line of front matter, which Mermaid ignores
        # (front matter is YAML and the title must be the value of a `title:` key).
        title = f"{self.label} ({self.case_type})"
        bare = f"---\n{title}\n---\n"
        if source.startswith(bare):
            source = (
                f"---\ntitle: {json.dumps(title, ensure_ascii=False)}\n---\n" + source[len(bare) :]
            )
        if not highlight:
            source = "\n".join(
                line for line in source.splitlines() if not line.strip().startswith("Class ")
            )
        return source
