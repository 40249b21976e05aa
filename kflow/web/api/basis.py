"""/api/v1: attachments of knowledge supports and regional adaptations (upload as
multipart/form-data, list, download) and comments on any case (kflow.documents)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from kflow.documents import attachments, comments
from kflow.documents.models import Attachment
from kflow.engine.read import readable_case
from kflow.queries import basis
from kflow.queries import people as people_queries
from kflow.states.base import CaseType
from kflow.web import boundary, files
from kflow.web.api.base import authority, bp, case_type_for, json_body, text_field


def attachment_json(found: Attachment, people: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": found.id,
        "case_id": found.case_id,
        "filename": found.filename,
        "content_type": found.content_type,
        "size": found.size,
        "sha256": found.sha256,
        "uploaded_by": people_queries.name_of(people, found.uploaded_by),
        "role": found.role,
        "uploaded_at": found.uploaded_at.isoformat(),
        "url": url_for("api.download_attachment", attachment_id=found.id),
    }


def comment_json(found: basis.Comment) -> dict[str, Any]:
    return {
        "id": found.id,
        "case_id": found.case_id,
        "author": found.author,
        "role": found.role,
        "at": found.at.isoformat(),
        "comment": found.comment,
    }


def _listed(rows: list[Attachment]) -> Response:
    people = people_queries.by_email(boundary.session(), (a.uploaded_by for a in rows))
    return jsonify(items=[attachment_json(a, people) for a in rows], total=len(rows))


def _attachments_of(case_type: str, case_id: int) -> Response:
    session = boundary.session()
    case = readable_case(session, authority(), case_id, case_type)
    return _listed(basis.attachments(session, [case.id]))


def _upload_to(case_type: str, case_id: int) -> tuple[Response, int]:
    session = boundary.session()
    case = readable_case(session, authority(), case_id, case_type)
    made = files.upload(authority(), case)
    people = people_queries.by_email(session, [made.uploaded_by])
    return jsonify(attachment_json(made, people)), 201


# One rule per path for both methods: two rules on one path would answer a POST with an id out
# of range 405 instead of 404 (werkzeug reports the method of the rule whose path matched).
@bp.route("/knowledge-supports/<int:case_id>/attachments", methods=["GET", "POST"])
def knowledge_support_attachments(case_id: int) -> Any:
    if request.method == "POST":
        return _upload_to(CaseType.KNOWLEDGE_SUPPORT, case_id)
    return _attachments_of(CaseType.KNOWLEDGE_SUPPORT, case_id)


@bp.route("/regional-adaptations/<int:case_id>/attachments", methods=["GET", "POST"])
def adaptation_attachments(case_id: int) -> Any:
    if request.method == "POST":
        return _upload_to(CaseType.REGIONAL_ADAPTATION, case_id)
    return _attachments_of(CaseType.REGIONAL_ADAPTATION, case_id)


@bp.get("/attachments/<int:attachment_id>")
def download_attachment(attachment_id: int) -> Response:
    found = attachments.readable_attachment(boundary.session(), authority(), attachment_id)
    return files.download(found)


@bp.route("/<collection>/<int:case_id>/comments", methods=["GET", "POST"])
def case_comments(collection: str, case_id: int) -> Any:
    session = boundary.session()
    case = readable_case(session, authority(), case_id, case_type_for(collection))
    if request.method == "POST":
        body = json_body()
        made = comments.add_comment(session, authority(), case, text_field(body, "comment"))
        shown = next(c for c in basis.comments(session, case.id) if c.id == made.id)
        return jsonify(comment_json(shown)), 201
    found = basis.comments(session, case.id)
    return jsonify(items=[comment_json(c) for c in found], total=len(found))
