"""What a trigger does beyond its own case: the declared Spawns and Cascades, and who is told.

Every effect is set-based: asking 21 regions or handing off to 300 units is a handful of
statements (INSERT ... SELECT ... RETURNING, one executemany of history rows), not a loop of
round trips. Effects run inside the caller's transaction; nothing here commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from kflow.calendar import local_date
from kflow.cases.models import Case
from kflow.config import Settings
from kflow.db import Base
from kflow.engine import history
from kflow.engine.authority import SYSTEM, Actor
from kflow.engine.deadlines import due_values
from kflow.engine.history import CASES
from kflow.errors import ValidationError
from kflow.listparams import among
from kflow.mailing import handoffs, notify
from kflow.org.models import Unit
from kflow.org.roles import UnitKind
from kflow.states.base import (
    READS,
    Below,
    Cascade,
    CaseType,
    DueFacts,
    Entries,
    Owners,
    Spawn,
    Tell,
    Trigger,
)

UNITS = cast(Table, Unit.__table__)


@dataclasses.dataclass
class Firing:
    """One firing as guards, field rules and effects see it (kflow.states.base.Context)."""

    session: Session
    case: Case
    actor: Actor
    role: str | None
    params: dict[str, Any]
    comment: str | None
    now: dt.datetime
    settings: Settings
    outcome: dict[str, Any] = dataclasses.field(default_factory=dict)
    answers: dict[str, Any] = dataclasses.field(default_factory=dict)  # reads asked, by name

    @property
    def today(self) -> dt.date:
        return local_date(self.now)

    @property
    def support_id(self) -> int:
        """The knowledge support the case is (or belongs to)."""
        if self.case.type == CaseType.KNOWLEDGE_SUPPORT:
            return self.case.id
        assert self.case.knowledge_support_id is not None
        return self.case.knowledge_support_id

    @property
    def cause(self) -> dict[str, str]:
        """What the rows of the cases this firing moves or creates name as their cause."""
        return {"cause": f"{self.case.type}.{self.case.id}"}

    @property
    def cause_key(self) -> str:
        """Unique per firing: the case and the version the trigger gave it."""
        return f"{self.case.id}.v{self.case.lock_version}"

    def count_below(
        self, case_type: CaseType, *, parent: bool = False, not_in: Iterable[str] = ()
    ) -> int:
        column = CASES.c.parent_id if parent else CASES.c.knowledge_support_id
        where = [CASES.c.type == case_type, column == (self.case.id if parent else self.support_id)]
        if not_in:
            where.append(CASES.c.state.not_in(list(not_in)))
        found = self.session.scalar(select(func.count()).select_from(CASES).where(*where))
        return int(found or 0)

    def unit_id(self, code: str) -> int:
        found = self.session.scalar(select(UNITS.c.id).where(UNITS.c.code == code))
        assert found is not None  # the parameter was validated against the units
        return int(found)

    def count_entries(self, table: str, **key: Any) -> int:
        rows = Base.metadata.tables[table]
        where = [rows.c.case_id == self.case.id, *(rows.c[k] == v for k, v in key.items())]
        query = select(func.count()).select_from(rows).where(*where)
        return int(self.session.scalar(query) or 0)

    def read(self, name: str) -> Any:
        if name not in self.answers:
            assert name in READS, f"no read {name!r} is registered (kflow.states.base.provides)"
            self.answers[name] = READS[name](self.session, self)
        return self.answers[name]


def run(firing: Firing, spec: Trigger) -> None:
    """The trigger's effects, in order, then the mail they call for."""
    told: list[int] = []
    for effect in spec.effects:
        if isinstance(effect, Spawn):
            touched = spawn(firing, effect)
        elif isinstance(effect, Cascade):
            touched = cascade(firing, effect)
        else:
            touched = entries(firing, effect)
        if effect.tells is Tell.ACTORS:
            told += touched
    if spec.tells is Tell.ACTORS:  # this case, to those who can act on it now
        told.append(firing.case.id)
    if told:
        handoffs.handoff(
            firing.session,
            firing.settings,
            told,
            firing.cause_key,
            sender=firing.actor.user.name if firing.actor.user else "",
            comment=firing.comment or "",
        )
    if spec.tells is Tell.REGION_PROCESS_LEADS:
        reporter = firing.actor.user.name if firing.actor.user else firing.actor.label
        notify.deviation(
            firing.session,
            firing.settings,
            firing.case.id,
            reporter,
            firing.comment or "",
            firing.cause_key,
        )


def entries(firing: Firing, effect: Entries) -> list[int]:
    """Replace (or remove) the case's entry with the effect's key; touches no other case."""
    rows = Base.metadata.tables[effect.table]
    key = effect.key(firing)
    where = and_(rows.c.case_id == firing.case.id, *(rows.c[k] == v for k, v in key.items()))
    connection = firing.session.connection()
    if effect.row is None:
        if not connection.execute(delete(rows).where(where)).rowcount:
            raise ValidationError("Det finns ingen sådan post att ta bort.")
        firing.outcome["entry"] = "removed"
        return []
    row = {**effect.row(firing), **key, "case_id": firing.case.id}
    if connection.execute(update(rows).where(where).values(**row)).rowcount:
        firing.outcome["entry"] = "replaced"
    else:
        connection.execute(insert(rows).values(**row))
        firing.outcome["entry"] = "added"
    return []


def cascade(firing: Firing, effect: Cascade) -> list[int]:
    where = CASES.c.knowledge_support_id == firing.support_id
    if effect.below is Below.ROUND:
        where = where & (CASES.c.round == getattr(firing.case, "consultation_round", None))
    child = effect.machine
    dest = child.triggers[effect.trigger].moves[0].dest
    assert dest is not None
    facts = DueFacts(firing.today, firing.settings, case=None, parent=firing.case)
    values = {
        **(effect.fields(firing) if effect.fields else {}),
        **due_values(child.due_on_entering(dest, facts), firing.settings),
    }
    return history.cascade(
        firing.session,
        child,
        effect.trigger,
        where,
        SYSTEM,
        firing.now,
        params={**firing.cause, **(effect.params(firing) if effect.params else {})},
        values=values,
    )


def spawn(firing: Firing, effect: Spawn) -> list[int]:
    """One new case per owner without one already (see Spawn); their ids."""
    child = effect.machine
    fields = effect.fields(firing) if effect.fields else {}
    due = child.due_on_entering(
        child.initial,
        DueFacts(firing.today, firing.settings, SimpleNamespace(**fields), parent=firing.case),
    )
    values: dict[str, Any] = {
        "ks_id": firing.support_id,
        "parent_id": firing.case.id,
        "region_id": firing.case.region_id,
        "now": firing.now,
        **due_values(due, firing.settings),
        **{f"field_{name}": value for name, value in fields.items()},
    }
    if effect.owners is Owners.UNITS_PARAM:
        values["units"] = list(firing.params[effect.owners.value])
    statement = _spawn_statement(effect, tuple(sorted(fields)))
    ids = list(firing.session.connection().scalars(statement, values))
    if effect.owners is Owners.UNITS_PARAM:
        firing.outcome["created"] = len(ids)
        firing.outcome["skipped"] = len(values["units"]) - len(ids)
    history.record_created(
        firing.session, ids, child.initial, firing.actor, firing.role, firing.now, firing.cause
    )
    return ids


@functools.cache
def _spawn_statement(effect: Spawn, field_names: tuple[str, ...]) -> Any:
    """INSERT ... SELECT one row per owner unit that has no matching case yet, built once."""
    child = effect.machine
    other = CASES.alias("other")
    new: dict[str, Any] = {
        "type": literal(child.case_type.value),
        "state": literal(child.initial),
        "lock_version": literal(1),
        "owner_id": UNITS.c.id,
        "knowledge_support_id": bindparam("ks_id"),
        "due": bindparam("due", type_=CASES.c.due.type),
        "next_reminder_on": bindparam("next_reminder_on", type_=CASES.c.due.type),
        "created_at": bindparam("now", type_=CASES.c.created_at.type),
        "updated_at": bindparam("now", type_=CASES.c.created_at.type),
    }
    new |= {name: bindparam(f"field_{name}", type_=CASES.c[name].type) for name in field_names}
    if effect.parent:
        new["parent_id"] = bindparam("parent_id")
    if effect.owners is Owners.EACH_REGION:
        new["region_id"] = UNITS.c.id
        owners = UNITS.c.kind == UnitKind.REGION
    else:
        new["region_id"] = bindparam("region_id")
        owners = among(UNITS.c.code, "units")
    same = [other.c.type == child.case_type.value, other.c.owner_id == UNITS.c.id]
    same += [other.c[name] == new[name] for name in effect.one_per]
    if effect.open_only:
        same.append(other.c.state.in_(sorted(child.open_states)))
    source = select(*new.values()).where(owners, ~exists().where(and_(*same)))
    return insert(CASES).from_select(list(new), source).returning(CASES.c.id)
