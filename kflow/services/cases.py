"""Creating knowledge supports and firing triggers: the one way a case changes.

``fire`` runs the whole move inside the caller's transaction: checks (existence, lock version,
authority, state, parameters, guards), the state change on the shared machine, the history row,
and the effects. If anything fails, the caller rolls back and nothing is half-done.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from kflow.calendar import local_date
from kflow.config import Settings
from kflow.db import utcnow
from kflow.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationError
from kflow.models import (
    CREATE_TRIGGER,
    NATIONAL_KINDS,
    Case,
    KnowledgeSupport,
    LocalImplementation,
    Unit,
)
from kflow.services import effects
from kflow.services.authority import Authority
from kflow.services.deadlines import due_for, due_values
from kflow.services.history import record
from kflow.services.params import clean_comment, clean_params
from kflow.states import MACHINES, InvalidMove
from kflow.states import knowledge_support as ks_states

MAX_TITLE = 300
MAX_DESCRIPTION = 20_000
CREATE_ROLES = ("chair", "process_lead")


@dataclasses.dataclass
class Fired:
    case: Case
    role: str | None
    params: dict[str, Any]
    outcome: dict[str, Any]


def get_case(session: Session, case_id: Any, case_type: str | None = None) -> Case:
    if not isinstance(case_id, int) or isinstance(case_id, bool):
        raise NotFound("Ärendet finns inte.")
    case = session.get(Case, case_id)
    if case is None or (case_type is not None and case.type != case_type):
        raise NotFound(f"Det finns inget ärende {case_id} av den typen.")
    return case


def readable_case(
    session: Session, authority: Authority, case_id: Any, case_type: str | None = None
) -> Case:
    """The case if the actor may see it; otherwise not_found (no hint that it exists)."""
    case = get_case(session, case_id, case_type)
    if not authority.can_read(case, lambda: ks_owner_id(session, case)):
        raise NotFound(f"Det finns inget ärende {case_id} av den typen.")
    return case


def ks_owner_id(session: Session, case: Case) -> int | None:
    if case.knowledge_support_id is None:
        return case.owner_id if case.type == "knowledge_support" else None
    return session.scalar(select(Case.owner_id).where(Case.id == case.knowledge_support_id))


def create_knowledge_support(
    session: Session,
    authority: Authority,
    *,
    title: Any,
    kind: Any,
    owner: Any,
    description: Any = None,
    now: dt.datetime | None = None,
) -> KnowledgeSupport:
    """Create a knowledge support in ``need_identified``, by the owner's chair or process lead."""
    now = now or utcnow()
    if not isinstance(title, str) or not title.strip():
        raise ValidationError("title krävs.")
    if len(title.strip()) > MAX_TITLE:
        raise ValidationError(f"title får vara högst {MAX_TITLE} tecken.")
    if kind not in ks_states.KINDS:
        raise ValidationError(f"kind måste vara en av: {', '.join(ks_states.KINDS)}.")
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_DESCRIPTION
    ):
        raise ValidationError(f"description måste vara text på högst {MAX_DESCRIPTION} tecken.")
    if not isinstance(owner, str):
        raise ValidationError("owner måste vara en enhetskod.")
    unit = session.scalar(select(Unit).where(Unit.code == owner))
    if unit is None:
        raise ValidationError(f"owner: det finns ingen enhet med koden '{owner}'.")
    if unit.kind not in NATIONAL_KINDS:
        raise ValidationError("owner måste vara ett NPO, en NSG eller ett nationellt råd.")
    roles = authority.roles_at(unit.id)
    role = next((r for r in CREATE_ROLES if r in roles), None)
    if role is None:
        raise Forbidden(
            "Bara ordförande eller processledare i den ägande enheten kan skapa kunskapsstöd."
        )
    case = KnowledgeSupport(
        title=title.strip(),
        kind=kind,
        owner_id=unit.id,
        description=(description or "").strip() or None,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()  # generate case.id for the history row
    record(session, case, CREATE_TRIGGER, None, authority.actor, role, now)
    return case


def fire(
    session: Session,
    authority: Authority,
    case: Case,
    trigger: Any,
    *,
    settings: Settings,
    comment: Any = None,
    params: Any = None,
    lock_version: Any = None,
    override: bool = False,
    now: dt.datetime | None = None,
) -> Fired:
    """Fire ``trigger`` on ``case`` as ``authority.actor``.

    :param lock_version: when given, the case must still be at this version (else 409 conflict).
    :param override: an admin firing outside their normal role; recorded as such in the history.
    :raises KflowError: forbidden, invalid_transition, conflict or validation_error.
    """
    now = now or utcnow()
    machine = MACHINES[case.type]
    if not isinstance(trigger, str) or trigger not in machine.triggers:
        known = ", ".join(machine.triggers)
        raise ValidationError(f"Okänd trigger {trigger!r} för {case.type} (finns: {known}).")
    spec = machine.triggers[trigger]
    if lock_version is not None:
        if not isinstance(lock_version, int) or isinstance(lock_version, bool):
            raise ValidationError("lock_version måste vara ett heltal.")
        if lock_version != case.lock_version:
            raise Conflict(
                "Någon annan har ändrat ärendet sedan du läste det. "
                "Läs in det på nytt och försök igen."
            )
    role = _authorize(authority, case, spec, override)
    if not machine.can_fire(case.state, trigger):
        raise InvalidTransition(
            f"'{trigger}' går inte från läget '{case.state}' ({case.state_label})."
        )
    today = local_date(now)
    cleaned_comment = clean_comment(spec, comment)
    cleaned = clean_params(session, spec, case, params, today)
    if spec.guard:
        effects.GUARDS[spec.guard](session, case)

    from_state = case.state
    fx = effects.Effect(
        session, case, from_state, authority.actor, role, cleaned, now, settings, cleaned_comment
    )
    before = effects.BEFORE.get((case.type, trigger))
    try:
        # From the first change on, any flush (an autoflush when a lazy load fetches a
        # subclass column included) may find a concurrent change: 409, never a 500.
        if before:
            before(fx)
        try:
            machine.fire(case, trigger)
        except InvalidMove as exc:  # can_fire said yes; only a changed declaration gets here
            raise InvalidTransition(str(exc)) from None
        _set_due(case, from_state, today, settings)
        case.updated_at = now
        # Flush the case now: a concurrent change fails the version check here (409), before
        # the history row or the effects write anything.
        session.flush()
        record(
            session,
            case,
            trigger,
            from_state,
            authority.actor,
            role if not override else "admin",
            now,
            comment=cleaned_comment,
            params=cleaned,
            override=override,
        )
        after = effects.AFTER.get((case.type, trigger))
        if after:
            after(fx)
            _expire_others(session, case)
    except StaleDataError:
        raise Conflict(
            "Någon annan ändrade ärendet samtidigt. Läs in det på nytt och försök igen."
        ) from None
    except IntegrityError:
        raise Conflict("Ärendet ändrades samtidigt av någon annan; försök igen.") from None
    return Fired(case, role, cleaned, fx.outcome)


def _authorize(authority: Authority, case: Case, spec: Any, override: bool) -> str | None:
    if authority.actor.is_system:
        if not spec.auto:
            raise Forbidden(f"'{spec.name}' avfyras av en person, inte av systemet.")
        return None
    if override:
        if not authority.is_admin_for(case):
            raise Forbidden("Bara en administratör med ansvar för ärendet kan göra undantag.")
        return "admin"
    role: str | None = authority.role_for(case, spec)
    if role is None:
        if not spec.manual:
            raise Forbidden(
                f"'{spec.name}' sker automatiskt; en administratör kan bara göra det som undantag."
            )
        roles = ", ".join(sorted({g.role for g in spec.grants}))
        raise Forbidden(f"Du saknar behörighet att göra '{spec.name}' här (kräver: {roles}).")
    return role


def _set_due(case: Case, from_state: str, today: dt.date, settings: Settings) -> None:
    previous = case.due
    due = due_for(
        case.type,
        case.state,
        today,
        settings,
        previous_due=case.due,
        consultation_deadline=getattr(case, "consultation_deadline", None),
        target_date=case.target_date if isinstance(case, LocalImplementation) else None,
        next_review_due=getattr(case, "next_review_due", None),
    )
    if due != previous or not case.is_open:
        for column, value in due_values(due if case.is_open else None, settings).items():
            setattr(case, column, value)


def _expire_others(session: Session, moved: Case) -> None:
    """Set-based effects bypass the identity map; reload any other case held in this session."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Case) and obj is not moved:
            session.expire(obj)
