"""Creating a knowledge support: the one case that is not born from another case's trigger."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.cases.events import CREATE_TRIGGER
from kflow.cases.models import KnowledgeSupport
from kflow.db import utcnow
from kflow.engine.authority import Authority
from kflow.engine.history import RECORD, event_values
from kflow.errors import Forbidden, ValidationError
from kflow.org.models import Unit
from kflow.org.roles import NATIONAL_KINDS, Role
from kflow.states import knowledge_support as ks

MAX_TITLE = 300
MAX_DESCRIPTION = 20_000
CREATE_ROLES = (Role.CHAIR, Role.PROCESS_LEAD)


def _owner(session: Session, owner: Any) -> Unit:
    if not isinstance(owner, str):
        raise ValidationError("owner måste vara en enhetskod.")
    unit = session.scalar(select(Unit).where(Unit.code == owner))
    if unit is None:
        raise ValidationError(f"owner: det finns ingen enhet med koden '{owner}'.")
    if unit.kind not in NATIONAL_KINDS:
        raise ValidationError("owner måste vara ett NPO, en NSG eller ett nationellt råd.")
    return unit


def _check_text(title: Any, kind: Any, description: Any) -> None:
    if not isinstance(title, str) or not title.strip():
        raise ValidationError("title krävs.")
    if len(title.strip()) > MAX_TITLE:
        raise ValidationError(f"title får vara högst {MAX_TITLE} tecken.")
    if not isinstance(kind, str) or kind not in ks.KINDS:
        raise ValidationError(f"kind måste vara en av: {', '.join(ks.KINDS)}.")
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_DESCRIPTION
    ):
        raise ValidationError(f"description måste vara text på högst {MAX_DESCRIPTION} tecken.")


def create_knowledge_support(
    session: Session,
    authority: Authority,
    *,
    title: Any,
    kind: Any,
    owner: Any,
    description: Any = None,
    document_url: Any = None,
    now: dt.datetime | None = None,
) -> KnowledgeSupport:
    """Create a knowledge support in ``need_identified``, by the owner's chair or process lead;
    ``document_url``: a link to its published document (http or https), if there is one."""
    now = now or utcnow()
    _check_text(title, kind, description)
    url = ks.check_document_url(document_url)
    unit = _owner(session, owner)
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
        document_url=url,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()  # generate case.id for the history row
    row = event_values(case.id, CREATE_TRIGGER, None, case.state, authority.actor, role, now)
    session.connection().execute(RECORD, row)
    return case
