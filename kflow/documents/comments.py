"""Comments: anyone who may read a case and holds a role in kflow may comment on it. A comment
is a row of its own (not a history row): it changes no state, no version and no due date, so
it can never race a trigger, and the history stays one row per move (docs/architecture.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.db import utcnow
from kflow.documents.models import CaseComment
from kflow.engine.authority import Authority
from kflow.engine.params import MAX_COMMENT
from kflow.errors import Forbidden, ValidationError
from kflow.org.roles import Role


def comment_role(authority: Authority, case: Case) -> str | None:
    """The role a comment is signed with: the first (in Role's order) the actor holds on the
    case, else in its region, else anywhere; None for someone without any role."""
    for held in (
        authority.case_roles(case),
        authority.roles_at(case.region_id),
        frozenset(role for _, role in authority.memberships),
    ):
        found = next((str(r) for r in Role if r in held), None)
        if found is not None:
            return found
    return None


def add_comment(
    session: Session,
    authority: Authority,
    case: Case,
    comment: Any,
    now: dt.datetime | None = None,
) -> CaseComment:
    """Add a comment to ``case``, which the caller read as the actor may (kflow.engine.read)."""
    if not isinstance(comment, str) or not comment.strip():
        raise ValidationError("Skriv en kommentar.")
    text = comment.strip()
    if len(text) > MAX_COMMENT:
        raise ValidationError(f"Kommentaren får vara högst {MAX_COMMENT} tecken.")
    role = comment_role(authority, case)
    if role is None:
        raise Forbidden("Du behöver en roll i kflow för att kommentera.")
    row = CaseComment(
        case_id=case.id,
        actor_id=authority.actor.user_id,
        actor=authority.actor.label,
        role=role,
        at=now or utcnow(),
        comment=text,
    )
    session.add(row)
    session.flush()  # the id, for the answer
    return row
