"""The basis of a decision on a case page (kflow.queries.basis): what happens next and who
does it, the document link, the proposal being decided, the hand-off note, the attachments and
the comments, merged into the timeline."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kflow.cases.models import Case, KnowledgeSupport
from kflow.documents.attachments import upload_role
from kflow.documents.comments import comment_role
from kflow.engine.authority import Authority
from kflow.queries import basis
from kflow.states.base import CaseType
from kflow.states.next_step import next_step
from kflow.web import files
from kflow.web.ui import casepage, labels

COMMENT_LABEL = "Kommentar"


def context(
    session: Session,
    auth: Authority,
    case: Case,
    ks: KnowledgeSupport | None,
    page: dict[str, Any],
) -> dict[str, Any]:
    """What the case page adds to its ``page`` context (whose timeline gains the comments)."""
    out: dict[str, Any] = {
        "next_step": next_step(case.type, case.state),
        "document_url": ks.document_url if ks is not None else None,
        "attachments": basis.attachments(session, basis.attachment_cases(session, auth, case, ks)),
        "may_attach": case.is_open and upload_role(auth, case) is not None,
        "attachment_max_mb": files.max_mb(),
        "may_comment": comment_role(auth, case) is not None,
    }
    if case.type == CaseType.REGIONAL_ADAPTATION:
        out["proposal"] = basis.latest_note(session, case.id, "submit_for_decision")
    if case.type == CaseType.LOCAL_IMPLEMENTATION and case.parent_id is not None:
        out["hand_off"] = basis.latest_note(session, case.parent_id, "hand_off")
    comments = basis.comments(session, case.id)
    if comments:
        newest_first = not page.get("oldest_first", True)
        entries = [*page.get("timeline", []), *(_entry(c) for c in comments)]
        out["timeline"] = sorted(entries, key=lambda e: e.at, reverse=newest_first)
        out["history_total"] = page.get("history_total", 0) + len(comments)
    return out


def _entry(comment: basis.Comment) -> casepage.Entry:
    return casepage.Entry(
        at=comment.at,
        actor=comment.author,
        role=labels.role_label(comment.role),
        action=COMMENT_LABEL,
        from_label=None,
        to_label="",
        comment=comment.comment,
        params=[],
        override=False,
    )
