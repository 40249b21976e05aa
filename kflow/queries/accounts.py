"""One account as Administration shows it: the user, their roles and their account history
(newest first, each change in Swedish with who made it)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.accounts.events import CLI, LABELS, SYSTEM, history
from kflow.accounts.events import AccountEventKind as Kind
from kflow.accounts.models import AccountEvent
from kflow.org.models import Membership, Unit, User
from kflow.org.roles import ROLE_LABELS, Role

ACTOR_LABELS = {SYSTEM: "Systemet", CLI: "En driftansvarig (kommandoraden)"}


@dataclasses.dataclass(frozen=True)
class HistoryRow:
    at: dt.datetime
    label: str
    detail: str
    actor: str


@dataclasses.dataclass(frozen=True)
class Account:
    user: User
    roles: list[tuple[str, str]]  # (role label, unit name)
    history: list[HistoryRow]


def _role(role: str) -> str:
    return ROLE_LABELS[Role(role)] if role in set(Role) else role


def _count(n: int, one: str, many: str) -> str:
    """``n`` things in Swedish: "inga inloggningar", "1 inloggning", "3 inloggningar"."""
    if not n:
        return f"inga {many}"
    return f"1 {one}" if n == 1 else f"{n} {many}"


def describe(event: AccountEvent) -> str:
    """What changed, in a few Swedish words ("" when the label says it all)."""
    d: dict[str, Any] = event.detail or {}
    kind = event.kind
    if kind in (Kind.RENAMED, Kind.EMAIL_CHANGED, Kind.HSA_ID_SET):
        old, new = d.get("old") or "–", d.get("new") or d.get("hsa_id") or "–"
        return f"Från {old} till {new}"
    if kind in (Kind.ROLE_GRANTED, Kind.ROLE_REVOKED):
        text = f"{_role(str(d.get('role', '')))} i {d.get('unit_name') or d.get('unit', '')}"
        return f"{text} (gruppen {d['group']} vid inloggning)" if d.get("group") else text
    if kind == Kind.DEACTIVATED:
        sessions = _count(d.get("sessions_ended", 0), "inloggning", "inloggningar")
        tokens = _count(d.get("tokens_revoked", 0), "API-nyckel", "API-nycklar")
        return f"{sessions} avslutades, {tokens} återkallades"
    if d.get("sessions_ended"):  # a password set, changed or reset; signed out everywhere
        return f"{_count(d['sessions_ended'], 'inloggning', 'inloggningar')} avslutades"
    if kind in (Kind.TOKEN_CREATED, Kind.TOKEN_REVOKED):
        if d.get("count"):
            return f"{_count(d['count'], 'API-nyckel', 'API-nycklar')} på en gång"
        return f"{d.get('prefix', '')}…" + (f" ({d['name']})" if d.get("name") else "")
    if kind == Kind.CREATED and d.get("email"):
        return f"{d.get('name', '')} ({d['email']})"
    return ""


def account(session: Session, user_id: int) -> Account | None:
    user = session.get(User, user_id)
    if user is None:
        return None
    roles = session.execute(
        select(Membership.role, Unit.name)
        .join(Unit, Unit.id == Membership.unit_id)
        .where(Membership.user_id == user_id)
        .order_by(Unit.name, Membership.role)
    )
    events = history(session, user_id)
    actor_ids = {e.actor_id for e in events if e.actor_id is not None}
    names: dict[int | None, str] = {}
    if actor_ids:
        found = session.execute(select(User.id, User.name).where(User.id.in_(actor_ids)))
        names = {actor_id: name for actor_id, name in found}
    rows = [
        HistoryRow(
            e.at,
            LABELS.get(e.kind, e.kind),
            describe(e),
            names.get(e.actor_id, e.actor) if e.actor_id else ACTOR_LABELS.get(e.actor, e.actor),
        )
        for e in events
    ]
    return Account(user, [(_role(role), unit) for role, unit in roles], rows)
