"""What a trigger does beyond moving its own case: fan-out and cascades (lifecycle.md §2).

Every effect is set-based: publishing to 21 regions or handing off to 200 units is a handful of
statements (INSERT ... SELECT with RETURNING, one multi-row history INSERT), not a loop of
round-trips. Effects run inside the caller's transaction; nothing here commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import (
    Date,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import Session

from kflow.calendar import default_consultation_deadline, local_date
from kflow.cases.models import (
    Case,
    CaseRow,
    ConsultationResponse,
    KnowledgeSupport,
    RegionalAdaptation,
)
from kflow.config import Settings
from kflow.db import UTCDateTime
from kflow.engine.authority import SYSTEM, Actor
from kflow.engine.deadlines import due_for, due_values, review_due
from kflow.engine.history import CASES, cascade, record_created
from kflow.errors import ValidationError
from kflow.mailing import notify
from kflow.org.models import Unit
from kflow.org.roles import UnitKind
from kflow.statements import ListValue, Prepared, in_list
from kflow.states import MACHINES
from kflow.states import local_implementation as li_states


@dataclasses.dataclass
class Effect:
    """What an effect needs: the moved case, who moved it and the cleaned parameters."""

    session: Session
    case: Case | CaseRow
    from_state: str
    actor: Actor
    role: str | None
    params: dict[str, Any]
    now: dt.datetime
    settings: Settings
    comment: str | None = None
    # Filled in by effects for the caller (e.g. units skipped by a hand-off).
    outcome: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def today(self) -> dt.date:
        return local_date(self.now)

    def cause(self) -> dict[str, Any]:
        return {"cause": f"{self.case.type}.{self.case.id}"}

    @property
    def cause_key(self) -> str:
        """Unique per firing: the case and the version the trigger gave it."""
        return f"{self.case.id}.v{self.case.lock_version}"


# Effects that run *before* the state change (they set fields the due date depends on).
def prepare_open_consultation(fx: Effect) -> None:
    ks = fx.case
    assert isinstance(ks, KnowledgeSupport)
    channel = fx.params["channel"]
    if "deadline" in fx.params:
        deadline = dt.date.fromisoformat(fx.params["deadline"])
    else:
        deadline = default_consultation_deadline(channel, fx.today, fx.settings.consultation)
        fx.params["deadline"] = deadline.isoformat()
    ks.consultation_round = (ks.consultation_round or 0) + 1
    ks.consultation_channel = channel
    ks.consultation_deadline = deadline


def prepare_publish(fx: Effect) -> None:
    ks = fx.case
    assert isinstance(ks, KnowledgeSupport)
    ks.published_version = ks.version
    ks.published_at = fx.now
    ks.next_review_due = review_due(ks.kind, fx.today, fx.settings)


def prepare_start_revision(fx: Effect) -> None:
    ks = fx.case
    assert isinstance(ks, KnowledgeSupport)
    ks.version += 1


def prepare_assign(fx: Effect) -> None:
    unit = fx.session.scalar(select(Unit).where(Unit.code == fx.params["unit"]))
    assert unit is not None  # validated by params
    assert isinstance(fx.case, Case)
    fx.case.assignee_id = unit.id


def prepare_adopt(fx: Effect) -> None:
    assert isinstance(fx.case, RegionalAdaptation)
    fx.case.decision_ref = fx.params["decision_ref"]


def prepare_submit_response(fx: Effect) -> None:
    assert isinstance(fx.case, ConsultationResponse)
    fx.case.position = fx.params["position"]


# Effects that run after the state change.
def open_consultation(fx: Effect) -> None:
    ks = fx.case
    assert isinstance(ks, KnowledgeSupport)
    state = MACHINES["consultation_response"].initial
    due = due_for(
        "consultation_response",
        state,
        fx.today,
        fx.settings,
        consultation_deadline=ks.consultation_deadline,
    )
    ids = _insert_for_regions(
        fx,
        "consultation_response",
        state,
        due,
        extra={"round": ks.consultation_round},
    )
    record_created(fx.session, ids, state, fx.actor, fx.role, fx.now, fx.cause())
    notify.handoff(fx.session, fx.settings, ids, fx.cause_key)


def close_consultation(fx: Effect) -> None:
    ks = fx.case
    assert isinstance(ks, KnowledgeSupport | CaseRow) and ks.type == "knowledge_support"
    cascade(
        fx.session,
        "consultation_response",
        (CASES.c.knowledge_support_id == ks.id) & (CASES.c.round == ks.consultation_round),
        "expire",
        SYSTEM,
        fx.now,
        params=fx.cause(),
        values=due_values(None, fx.settings),
    )


def publish(fx: Effect) -> None:
    """First publication: one adaptation per region. Later ones: every adaptation reassesses."""
    ks = fx.case
    assert isinstance(ks, KnowledgeSupport)
    state = MACHINES["regional_adaptation"].initial
    due = due_for("regional_adaptation", state, fx.today, fx.settings)
    reassessed = cascade(
        fx.session,
        "regional_adaptation",
        CASES.c.knowledge_support_id == ks.id,
        "reassess",
        SYSTEM,
        fx.now,
        params={**fx.cause(), "version": ks.version},
        values={"adapted_version": ks.version, **due_values(due, fx.settings)},
    )
    # Regions without an adaptation yet (all of them on first publication).
    ids = _insert_for_regions(
        fx, "regional_adaptation", state, due, extra={"adapted_version": ks.version}
    )
    record_created(fx.session, ids, state, fx.actor, fx.role, fx.now, fx.cause())
    notify.handoff(fx.session, fx.settings, [*reassessed, *ids], fx.cause_key)


def cancel_everything_below(fx: Effect) -> None:
    """Withdrawal and cancellation: every open case below the knowledge support is cancelled."""
    ks_id = fx.case.id
    for case_type in ("consultation_response", "regional_adaptation", "local_implementation"):
        cascade(
            fx.session,
            case_type,
            CASES.c.knowledge_support_id == ks_id,
            "cancel",
            SYSTEM,
            fx.now,
            params=fx.cause(),
            values=due_values(None, fx.settings),
        )


_OPEN_LI = CASES.alias("open_li")
_OPEN_LI_STATES = ListValue(sorted(MACHINES["local_implementation"].open_states))
_UNIT = cast(Table, Unit.__table__)
_LI_COLUMNS = [
    "type",
    "state",
    "lock_version",
    "owner_id",
    "region_id",
    "knowledge_support_id",
    "parent_id",
    "due",
    "next_reminder_on",
    "target_date",
    "created_at",
    "updated_at",
]
# Built once (a statement over an alias of the wide cases table is costly to construct): one
# local implementation per named unit that has no open one from this adaptation already.
_HAND_OFF = Prepared(
    insert(CASES)
    .from_select(
        _LI_COLUMNS,
        select(
            literal("local_implementation"),
            bindparam("state", type_=String),
            literal(1),
            _UNIT.c.id,
            bindparam("region_id", type_=Integer),
            bindparam("ks_id", type_=Integer),
            bindparam("parent_id", type_=Integer),
            bindparam("due", type_=Date),
            bindparam("next_reminder_on", type_=Date),
            bindparam("target_date", type_=Date),
            bindparam("now", type_=UTCDateTime()),
            bindparam("now", type_=UTCDateTime()),
        ).where(
            in_list(_UNIT.c.code, "units"),
            ~exists().where(
                _OPEN_LI.c.type == "local_implementation",
                _OPEN_LI.c.parent_id == bindparam("parent_id", type_=Integer),
                _OPEN_LI.c.owner_id == _UNIT.c.id,
                in_list(_OPEN_LI.c.state, "open_states"),
            ),
        ),
    )
    .returning(CASES.c.id)
)


def hand_off(fx: Effect) -> None:
    """One local implementation per named unit; a unit already holding an open one is skipped."""
    adaptation = fx.case
    session = fx.session
    state = li_states.State.ASSIGNED.value
    target = dt.date.fromisoformat(fx.params["due"]) if "due" in fx.params else None
    due = due_for("local_implementation", state, fx.today, fx.settings, target_date=target)
    values = {
        "state": state,
        "region_id": adaptation.region_id,
        "ks_id": adaptation.knowledge_support_id,
        "parent_id": adaptation.id,
        "due": due,
        "next_reminder_on": due_values(due, fx.settings)["next_reminder_on"],
        "target_date": target,
        "now": fx.now,
        "units": ListValue(fx.params["units"]),
        "open_states": _OPEN_LI_STATES,
    }
    ids = [case_id for (case_id,) in _HAND_OFF.execute(session, values).fetchall()]
    requested = len(fx.params["units"])
    fx.outcome["created"] = len(ids)
    fx.outcome["skipped"] = requested - len(ids)
    record_created(session, ids, state, fx.actor, fx.role, fx.now, fx.cause())
    notify.handoff(session, fx.settings, ids, fx.cause_key)


def report_deviation(fx: Effect) -> None:
    reporter = fx.actor.user.name if fx.actor.user else fx.actor.label
    notify.deviation(fx.session, fx.settings, fx.case, reporter, fx.comment or "", fx.cause_key)


def _insert_for_regions(
    fx: Effect, case_type: str, state: str, due: dt.date | None, extra: dict[str, Any]
) -> list[int]:
    """Insert one ``case_type`` case per region that has none for this knowledge support
    (and round); return the new ids."""
    ks = fx.case
    other = CASES.alias("other")
    already = and_(
        other.c.type == case_type,
        other.c.knowledge_support_id == ks.id,
        other.c.owner_id == Unit.id,
    )
    if "round" in extra:
        already = and_(already, other.c.round == extra["round"])
    columns = [
        "type",
        "state",
        "lock_version",
        "owner_id",
        "region_id",
        "knowledge_support_id",
        "due",
        "next_reminder_on",
        "created_at",
        "updated_at",
        *extra,
    ]
    source = select(
        literal(case_type),
        literal(state),
        literal(1),
        Unit.id,
        Unit.id,
        literal(ks.id),
        literal(due),
        literal(due_values(due, fx.settings)["next_reminder_on"]),
        literal(fx.now, Case.created_at.type),
        literal(fx.now, Case.created_at.type),
        *(literal(value) for value in extra.values()),
    ).where(Unit.kind == UnitKind.REGION, ~exists().where(already))
    return list(
        fx.session.scalars(insert(CASES).from_select(columns, source).returning(CASES.c.id))
    )


# Guards: database conditions a trigger needs beyond its source state.
def implementations_done(session: Session, case: Case | CaseRow) -> None:
    done = (*li_states.DONE, li_states.State.CANCELLED)
    pending = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(
            Case.type == "local_implementation",
            Case.parent_id == case.id,
            Case.state.not_in(done),
        )
    )
    if pending:
        raise ValidationError(
            "Uppföljning kan startas först när alla lokala införanden är klara "
            f"({pending} återstår)."
        )


def never_published(session: Session, case: Case | CaseRow) -> None:
    if getattr(case, "published_version", None) is not None:
        raise ValidationError(
            "Ett kunskapsstöd som har publicerats kan inte avbrytas; avpublicera det i stället."
        )


GUARDS: dict[str, Callable[[Session, Case | CaseRow], None]] = {
    "implementations_done": implementations_done,
    "never_published": never_published,
}
BEFORE: dict[tuple[str, str], Callable[[Effect], None]] = {
    ("knowledge_support", "open_consultation"): prepare_open_consultation,
    ("knowledge_support", "publish"): prepare_publish,
    ("knowledge_support", "start_revision"): prepare_start_revision,
    ("regional_adaptation", "assign"): prepare_assign,
    ("regional_adaptation", "adopt"): prepare_adopt,
    ("consultation_response", "submit"): prepare_submit_response,
}
AFTER: dict[tuple[str, str], Callable[[Effect], None]] = {
    ("knowledge_support", "open_consultation"): open_consultation,
    ("knowledge_support", "close_consultation"): close_consultation,
    ("knowledge_support", "publish"): publish,
    ("knowledge_support", "withdraw"): cancel_everything_below,
    ("knowledge_support", "cancel"): cancel_everything_below,
    ("regional_adaptation", "hand_off"): hand_off,
    ("local_implementation", "report_deviation"): report_deviation,
}
