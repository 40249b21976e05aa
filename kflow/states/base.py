"""The declaration format every case type uses, and the shared machine built from it.

A case type is one module in kflow/states/ that declares, once, everything its triggers mean:
states and their labels (long, and short for narrow cells), the due date each state sets,
and for each trigger its moves, who may fire it (role and scope), whether the system fires it,
its comment and parameters, its guard, the fields it sets with the move, its effects on other
cases (``Spawn`` creates cases, ``Cascade`` fires a trigger on cases below) and who is told
(``Tell``). ``kflow.engine.fire`` fires every trigger of every type one way from these values;
nothing else in kflow holds a table keyed by case type and trigger.

The callables here (guards, field rules, due rules) receive a ``Context`` or ``DueFacts`` from
the engine: they read the case, the cleaned parameters, the clock and the settings, and ask the
engine the few database questions a rule needs, so a declaration never imports the engine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from transitions import Machine, MachineError
from transitions.extensions import GraphMachine

from kflow.calendar import add_business_days, next_working_day
from kflow.config import Settings
from kflow.org.roles import Role


class CaseType(StrEnum):
    KNOWLEDGE_SUPPORT = "knowledge_support"
    CONSULTATION_RESPONSE = "consultation_response"
    REGIONAL_ADAPTATION = "regional_adaptation"
    LOCAL_IMPLEMENTATION = "local_implementation"
    INDICATOR_LIST = "indicator_list"
    FOLLOW_UP_REPORT = "follow_up_report"


class Scope(StrEnum):
    """Where a grant's role must be held.

    ``case``: in the case's owner unit, its assignee unit, or a unit above them.
    ``region``: in the case's region or above it (the region's process lead acting on a local
    implementation, say).
    ``host``: in the host healthcare region of the NPO that owns the case (directly or through
    one of its NAGs), or above it (värdskap, lifecycle.md §5.2).
    ``recipient``: in the unit the case reports to (its ``recipient_id``: a follow-up report's
    next unit up), or above it.
    """

    CASE = "case"
    REGION = "region"
    HOST = "host"
    RECIPIENT = "recipient"


@dataclasses.dataclass(frozen=True)
class Grant:
    role: Role
    scope: Scope = Scope.CASE


class ParamKind(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"  # text of up to a comment's length (an analysis, say)
    CHOICE = "choice"
    DATE = "date"  # a day in the future
    UNIT = "unit"  # a regional group of the case's region (or of its healthcare region)
    UNITS = "units"  # local units of the case's region
    OWN_UNIT = "own_unit"  # a local unit (förvaltning, verksamhet, kommun) of the case's owner
    NUMBER = "number"  # a finite number, within ``minimum`` and ``maximum`` when given
    ROW = "row"  # the id of a row of ``table`` (an indicator, say)


@dataclasses.dataclass(frozen=True)
class Param:
    """One trigger parameter; ``required_if`` makes it required only for some cases."""

    name: str
    kind: ParamKind
    label: str
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    required_if: Callable[[Any], bool] | None = None
    help: str = ""
    table: str = ""  # ROW: the table the id names
    minimum: float | None = None  # NUMBER
    maximum: float | None = None  # NUMBER

    def is_required(self, case: Any) -> bool:
        return self.required or (self.required_if is not None and self.required_if(case))


class Context(Protocol):
    """What a guard, a field rule or an effect sees of one firing (kflow.engine.fire)."""

    @property
    def case(self) -> Any: ...

    @property
    def params(self) -> dict[str, Any]: ...

    @property
    def comment(self) -> str | None: ...

    @property
    def now(self) -> dt.datetime: ...

    @property
    def today(self) -> dt.date: ...

    @property
    def settings(self) -> Settings: ...

    def count_below(
        self, case_type: CaseType, *, parent: bool = False, not_in: Iterable[str] = ()
    ) -> int:
        """Cases of ``case_type`` under this case (its children with ``parent``, else of the
        knowledge support it is), leaving out those in the states ``not_in``."""

    def unit_id(self, code: str) -> int:
        """The id of the unit with ``code`` (already validated as a parameter)."""

    def count_entries(self, table: str, **key: Any) -> int:
        """How many rows of ``table`` (an ``Entries`` table) belong to this case (with the
        column values ``key``, when given)."""

    def read(self, name: str) -> Any:
        """The answer of the read registered as ``name`` (see ``provides``) for this firing,
        worked out once per firing however often a guard and a field rule ask."""


# A read a declaration may ask of a firing (``Context.read``) that belongs to a package below
# the engine in the layers (goal attainment, say): that package registers it by name, and the
# engine answers ``Context.read(name)`` with it. name -> (session, context) -> answer.
READS: dict[str, Callable[[Any, Context], Any]] = {}


def provides(name: str) -> Callable[[Callable[[Any, Context], Any]], Callable[[Any, Context], Any]]:
    """Register the decorated function as the read ``name`` (``Context.read``)."""

    def register(function: Callable[[Any, Context], Any]) -> Callable[[Any, Context], Any]:
        assert name not in READS or READS[name] is function, f"read {name} registered twice"
        READS[name] = function
        return function

    return register


@dataclasses.dataclass(frozen=True)
class DueFacts:
    """What a due rule reads: the day, the settings, the case (with the fields the move sets,
    or a new case's fields), the case that created a new one, and the due date before."""

    today: dt.date
    settings: Settings
    case: Any
    parent: Any = None
    previous: dt.date | None = None


DueRule = Callable[[DueFacts], "dt.date | None"]


class _Keep:
    """The state keeps the due date of the state before it (they share one deadline)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


def after_days(setting: str) -> DueRule:
    """``settings.deadlines.<setting>`` calendar days from the day the state is entered."""

    def rule(facts: DueFacts) -> dt.date:
        return facts.today + dt.timedelta(days=getattr(facts.settings.deadlines, setting))

    return rule


class Tell(StrEnum):
    """Who is told, at once, of what a trigger did (kflow.mailing.notify sends it)."""

    # the people who can act on the cases a Spawn or Cascade touched; as a trigger's own
    # ``tells``, those who can act on its case in its new state (a report's recipient)
    ACTORS = "actors"
    REGION_PROCESS_LEADS = "region_process_leads"  # the region's process leads, of this case


class Below(StrEnum):
    """Which cases a Cascade reaches from the case that fires it."""

    SUPPORT = "support"  # every case of the knowledge support
    ROUND = "round"  # the knowledge support's cases of its current consultation round


class Owners(StrEnum):
    """Which units a Spawn creates a case for."""

    EACH_REGION = "each_region"  # one per region (owner and region the region)
    UNITS_PARAM = "units"  # one per unit named in the ``units`` parameter (in the case's region)


@dataclasses.dataclass(frozen=True)
class Spawn:
    """Create one case of ``machine`` per owner, set-based, skipping owners that already have
    one that matches on ``one_per`` (an open one only, with ``open_only``). New cases start in
    the machine's initial state with its due date, record a ``create`` row naming their cause,
    and are told to the people who can act on them."""

    machine: CaseMachine
    owners: Owners
    one_per: tuple[str, ...]
    fields: Callable[[Context], dict[str, Any]] | None = None
    open_only: bool = False
    parent: bool = False  # the new case's parent_id is the case that spawned it
    tells: Tell | None = Tell.ACTORS


@dataclasses.dataclass(frozen=True)
class Cascade:
    """Fire the automatic ``trigger`` of ``machine`` on every case ``below`` that is in one of
    its source states, set-based, as the system, each row naming its cause."""

    machine: CaseMachine
    trigger: str
    below: Below
    fields: Callable[[Context], dict[str, Any]] | None = None
    params: Callable[[Context], dict[str, Any]] | None = None  # recorded beside the cause
    tells: Tell | None = None
    # The states below in which people are still at work on a case, and what a form says of
    # them before the cascade ends that work: (one, many), with {n} the count (a warning).
    busy: tuple[str, ...] = ()
    busy_says: tuple[str, str] = ("", "")


@dataclasses.dataclass(frozen=True)
class Entries:
    """Write one of the case's own entries in ``table`` (rows with a ``case_id``: an
    indikatorlista's targets), keyed by ``key(ctx)`` within the case: ``row(ctx)`` replaces the
    entry with that key, or with ``row=None`` removes it (refused if there is none). The
    firing's history row, with its parameters, records the change."""

    table: str
    row: Callable[[Context], dict[str, Any]] | None
    key: Callable[[Context], dict[str, Any]]
    tells: Tell | None = None


Effect = Spawn | Cascade | Entries


@dataclasses.dataclass(frozen=True)
class Timer:
    """The system fires the trigger on the first working day after the date in ``column``,
    while the case is in one of the trigger's source states (kflow.jobs.sweep). With
    ``business_days`` (a ``deadlines`` setting) it fires that many business days after it."""

    column: str
    business_days: str | None = None

    def fires_on(self, day: dt.date, settings: Settings) -> dt.date:
        """The day the system fires the trigger, for ``day`` in the column."""
        if self.business_days is None:
            return next_working_day(day + dt.timedelta(days=1))
        return add_business_days(day, getattr(settings.deadlines, self.business_days))


@dataclasses.dataclass(frozen=True)
class Waits:
    """What a case in a state waits for, and from whom (Min inkorg and its calendar feed): one
    of ``triggers`` (from those who may fire it), or an ``action`` that is no trigger (a
    measurement, say) from ``grants``. With ``near_due`` it waits only once its due date is
    near (from the reminder ladder's ``upcoming`` rung on), and before that for nobody: a
    published support's next revision, a follow-up's next measurement. A state without one
    waits for nobody in kflow (work going on elsewhere, or other cases to finish)."""

    triggers: tuple[str, ...] = ()
    action: str = ""
    grants: tuple[Grant, ...] = ()
    near_due: bool = False


def waits(*triggers: str, near_due: bool = False) -> Waits:
    """The state waits for one of ``triggers``."""
    return Waits(tuple(triggers), near_due=near_due)


class Move(NamedTuple):
    sources: tuple[str, ...]
    dest: str | None  # None: the same state


def move(sources: str | Iterable[str], dest: str | None) -> Move:
    listed = (sources,) if isinstance(sources, str) else tuple(sources)
    return Move(tuple(str(s) for s in listed), None if dest is None else str(dest))


@dataclasses.dataclass(frozen=True)
class Trigger:
    """One trigger and its whole meaning (see the module docstring)."""

    name: str
    label: str
    moves: tuple[Move, ...]
    grants: tuple[Grant, ...] = ()
    auto: bool = False
    comment_required: bool = False
    params: tuple[Param, ...] = ()
    guard: Callable[[Context], None] | None = None  # raises ValidationError to refuse
    sets: Callable[[Context], dict[str, Any]] | None = None  # columns written with the move
    effects: tuple[Effect, ...] = ()
    tells: Tell | None = None  # who hears of this case's move
    timer: Timer | None = None  # when the system fires it by itself
    # Destructive or irreversible: styled as such, and fired only with a confirmation.
    destructive: bool = False
    # What happens to each case it moves, said of many as a Cascade fires it ("avbryts").
    outcome: str = ""

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(s for m in self.moves for s in m.sources)

    @property
    def manual(self) -> bool:
        return bool(self.grants)

    def dest_from(self, state: str) -> str:
        for m in self.moves:
            if state in m.sources:
                return m.dest or state
        raise KeyError(state)


class InvalidMove(Exception):
    """The trigger exists but cannot be fired from the case's current state."""


class _Mover:
    """What the shared machine moves: just a state."""

    def __init__(self, state: str) -> None:
        self.state = state


@dataclasses.dataclass(frozen=True)
class BornFrom:
    """The trigger of another case type that creates this type's cases (a Spawn of it)."""

    case_type: CaseType
    trigger: str


class CaseMachine:
    """One case type's declarations and the shared ``transitions.Machine`` built from them
    (``model=None``: one machine per case type, never one per row)."""

    def __init__(
        self,
        case_type: CaseType,
        label: str,
        states: type[StrEnum],
        labels: Mapping[Any, str],
        initial: str,
        final: Iterable[str],
        triggers: Iterable[Trigger],
        *,
        due: Mapping[Any, DueRule | _Keep] | None = None,
        short_labels: Mapping[Any, str] | None = None,
        born_from: BornFrom | None = None,
        handoff_reason: str = "",
        region_wide: bool = False,
        waits: Mapping[Any, Waits] | None = None,
        plural: str = "",
        due_says: Mapping[Any, str] | None = None,
        target_says: str = "",
    ) -> None:
        self.case_type = case_type
        self.label = label
        self.states = states
        self.state_labels = {str(k): v for k, v in labels.items()}
        self.short_labels = {str(k): v for k, v in (short_labels or labels).items()}
        self.initial = str(initial)
        self.final = frozenset(str(s) for s in final)
        self.state_names = frozenset(s.value for s in states)
        self.triggers = {spec.name: spec for spec in triggers}
        self.due = {str(k): v for k, v in (due or {}).items()}
        self.born_from = born_from
        self.handoff_reason = handoff_reason  # why a new case is mailed to those who act on it
        # Read by everyone holding a role anywhere in the case's region, not only above it.
        self.region_wide = region_wide
        self.plural = plural or label.lower()  # "lokala införanden", of a count of cases
        # What a due date asks, by state ("kvittera senast"); of ``target_date``, target_says.
        self.due_says = {str(k): v for k, v in (due_says or {}).items()}
        self.target_says = target_says
        assert set(self.state_labels) == self.state_names, case_type
        assert set(self.due) <= self.state_names, case_type
        self.waits = {str(k): v for k, v in (waits or {}).items()}
        self._check_waits()
        self._transitions = [
            {"trigger": spec.name, "source": list(m.sources), "dest": m.dest}
            for spec in self.triggers.values()
            for m in spec.moves
        ]
        self._triggers_from: dict[str, list[str]] = {}
        self._destinations: dict[tuple[str, str], str] = {}
        self.machine = Machine(
            model=None,
            states=[s.value for s in states],
            transitions=self._transitions,
            initial=None,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )

    def _check_waits(self) -> None:
        for state, wait in self.waits.items():
            assert state in self.state_names and state not in self.final, (self.case_type, state)
            assert bool(wait.triggers) != bool(wait.action), (self.case_type, state)
            for name in wait.triggers:
                spec = self.triggers[name]
                assert spec.manual and state in spec.sources, (self.case_type, state, name)

    def waited_grants(self, state: str) -> dict[str, tuple[Grant, ...]]:
        """What a case in ``state`` waits for: each awaited trigger's name (or the action's
        label) with the grants of those it waits for; empty if it waits for nobody."""
        wait = self.waits.get(state)
        if wait is None:
            return {}
        if wait.action:
            return {wait.action: wait.grants}
        return {name: self.triggers[name].grants for name in wait.triggers}

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

    def destination(self, state: str, trigger: str) -> str:
        """Where ``trigger`` takes a case in ``state``, as the shared machine moves it (asked
        once per state and trigger: the machine never changes)."""
        found = self._destinations.get((state, trigger))
        if found is None:
            mover = _Mover(state)
            try:
                self.machine.events[trigger].trigger(mover)
            except MachineError as exc:
                raise InvalidMove(str(exc)) from None
            found = self._destinations[(state, trigger)] = mover.state
        return found

    def fire(self, case: Any, trigger: str) -> None:
        """Move ``case`` (any object with a ``state``) along ``trigger`` on the shared machine;
        only the state changes (kflow.engine.fire does the rest of a trigger's meaning)."""
        case.state = self.destination(case.state, trigger)

    def due_on_entering(self, state: str, facts: DueFacts) -> dt.date | None:
        """The due date a case gets as it enters ``state`` (the one before, if it keeps it)."""
        rule = self.due.get(state)
        if rule is None or state in self.final:
            return None
        if isinstance(rule, _Keep):
            return facts.previous
        return rule(facts)

    def state_label(self, state: str) -> str:
        return self.state_labels.get(state, state)

    def short_label(self, state: str) -> str:
        return self.short_labels.get(state, self.state_label(state))

    def diagram(self, highlight: str | None = None) -> str:
        """The machine as a Mermaid stateDiagram-v2, optionally with one state highlighted."""
        title = f"{self.label} ({self.case_type})"
        graph = GraphMachine(
            states=[s.value for s in self.states],
            transitions=self._transitions,
            initial=self.initial,
            graph_engine="mermaid",
            auto_transitions=False,
            title=title,
            show_state_attributes=False,
        )
        if highlight:
            graph.set_state(highlight)
        source: str = graph.get_graph(force_new=True).draw(None)
        # transitions writes the title as a bare line of front matter, which Mermaid ignores
        # (front matter is YAML and the title must be the value of a `title:` key).
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
