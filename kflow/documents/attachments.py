"""Attaching files to a case: a knowledge support (by its owner's chair or process lead) or a
regional adaptation (by the region's chair, process lead or coordinator, or its assignee's).
Whoever may read the case may download them (kflow.engine.read); the bytes are checked by
kflow.documents.filetypes and kept in the file store."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.db import utcnow
from kflow.documents import filetypes
from kflow.documents.models import Attachment
from kflow.documents.storage import FileStore
from kflow.engine.authority import Authority
from kflow.engine.read import readable_case
from kflow.errors import Forbidden, KflowError, NotFound, ValidationError
from kflow.org.roles import Role
from kflow.states.base import CaseType

# Who may attach, by case type (roles held at the case's unit, its assignee or above).
UPLOAD_ROLES: dict[str, tuple[Role, ...]] = {
    CaseType.KNOWLEDGE_SUPPORT: (Role.CHAIR, Role.PROCESS_LEAD),
    CaseType.REGIONAL_ADAPTATION: (Role.CHAIR, Role.PROCESS_LEAD, Role.COORDINATOR),
}
MB = 1024 * 1024


class TooLarge(KflowError):
    """A file over the configured limit (413, as a body over any limit is)."""

    code, status = "bad_request", 413


def upload_role(authority: Authority, case: Case) -> str | None:
    """The role the actor attaches files to ``case`` with, or None if they may not."""
    held = authority.case_roles(case)
    return next((str(r) for r in UPLOAD_ROLES.get(case.type, ()) if r in held), None)


def attach(
    session: Session,
    authority: Authority,
    case: Case,
    *,
    filename: str,
    data: bytes,
    store: FileStore,
    max_mb: int,
    now: dt.datetime | None = None,
) -> Attachment:
    """Attach ``data`` as ``filename`` to ``case`` (which the caller read as the actor may)."""
    if case.type not in UPLOAD_ROLES:
        raise ValidationError("Bilagor kan bara läggas till kunskapsstöd och regionala ärenden.")
    role = upload_role(authority, case)
    if role is None:
        raise Forbidden("Du har inte behörighet att lägga till bilagor i det här ärendet.")
    if len(data) > max_mb * MB:
        raise TooLarge(f"Filen är för stor: en bilaga får vara högst {max_mb} MB.")
    if not data:
        raise ValidationError("Filen är tom.")
    name = filetypes.clean_name(filename)
    content_type = filetypes.content_type(name, data)
    sha, _ = store.put(data)
    attachment = Attachment(
        case_id=case.id,
        filename=name,
        content_type=content_type,
        size=len(data),
        sha256=sha,
        uploaded_by_id=authority.actor.user_id,
        uploaded_by=authority.actor.label,
        role=role,
        uploaded_at=now or utcnow(),
    )
    session.add(attachment)
    session.flush()  # the id, for the answer and the link
    return attachment


def readable_attachment(session: Session, authority: Authority, attachment_id: int) -> Attachment:
    """The attachment if the actor may read its case; otherwise not_found."""
    found = session.scalar(select(Attachment).where(Attachment.id == attachment_id))
    if found is None:
        raise NotFound("Bilagan finns inte.")
    try:
        readable_case(session, authority, found.case_id)
    except NotFound:
        raise NotFound("Bilagan finns inte.") from None
    return found
