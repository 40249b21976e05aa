"""The basis of a decision as a case page shows it: the knowledge support's document link and
attachments (and an adaptation's own), the proposal being decided (the latest
``submit_for_decision``), the region's hand-off note on a local implementation, and comments.
People are named, not addressed (kflow.queries.people)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.cases.events import CaseEvent
from kflow.cases.models import Case, KnowledgeSupport
from kflow.documents.models import Attachment, CaseComment
from kflow.engine.authority import Authority
from kflow.queries import people as people_queries


@dataclasses.dataclass(frozen=True)
class Note:
    """A comment given with a trigger (a proposal, a hand-off note), and who gave it when."""

    comment: str | None
    sender: str  # the person's name
    role: str | None
    at: dt.datetime
    params: dict[str, object]


@dataclasses.dataclass(frozen=True)
class Comment:
    id: int
    case_id: int
    author: str  # the person's name
    role: str | None
    at: dt.datetime
    comment: str


def attachments(session: Session, case_ids: Collection[int]) -> list[Attachment]:
    """The attachments of ``case_ids``, in the order they were added."""
    if not case_ids:
        return []
    return list(
        session.scalars(
            select(Attachment)
            .where(Attachment.case_id.in_(sorted(case_ids)))
            .order_by(Attachment.case_id, Attachment.id)
        )
    )


def comments(session: Session, case_id: int) -> list[Comment]:
    rows = list(
        session.scalars(
            select(CaseComment).where(CaseComment.case_id == case_id).order_by(CaseComment.id)
        )
    )
    people = people_queries.by_email(session, (row.actor for row in rows))
    return [
        Comment(
            row.id,
            row.case_id,
            people_queries.name_of(people, row.actor),
            row.role,
            row.at,
            row.comment,
        )
        for row in rows
    ]


def latest_note(session: Session, case_id: int, trigger: str) -> Note | None:
    """The latest firing of ``trigger`` on the case, with its comment and its sender's name."""
    row = session.scalar(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.trigger == trigger)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    people = people_queries.by_email(session, [row.actor])
    return Note(
        row.comment,
        people_queries.name_of(people, row.actor),
        row.role,
        row.at,
        dict(row.params or {}),
    )


def attachment_cases(
    session: Session, authority: Authority, case: Case, ks: KnowledgeSupport | None
) -> list[int]:
    """Whose attachments a case page lists: the knowledge support's, and the regional
    adaptation's (the case itself or a local implementation's parent) if the viewer may read it."""
    ids = [ks.id] if ks is not None else []
    adaptation: Case | None = None
    if case.type == "regional_adaptation":
        adaptation = case
    elif case.type == "local_implementation" and case.parent_id is not None:
        adaptation = session.get(Case, case.parent_id)
    if adaptation is not None and authority.can_read(adaptation, ks.owner_id if ks else None):
        ids.append(adaptation.id)
    return ids
