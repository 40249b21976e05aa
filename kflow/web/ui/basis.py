"""Attachments and comments in the web UI: upload a file to a case, download one, comment on
a case. Views stay thin: the rules are kflow.documents'."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for

from kflow.documents import attachments, comments
from kflow.engine.read import readable_case
from kflow.errors import KflowError
from kflow.web import boundary, files
from kflow.web.ui.base import authority, install
from kflow.web.ui.cases import render_case

bp = Blueprint("basis", __name__)
install(bp)


def _refused(case_id: int, error: KflowError) -> Any:
    case = readable_case(boundary.session(), authority(), case_id)
    return render_case(case, error=error.message, status=error.status)


@bp.post("/arenden/<int:case_id>/bilagor")
def upload(case_id: int) -> Any:
    case = readable_case(boundary.session(), authority(), case_id)
    try:
        made = files.upload(authority(), case)
    except KflowError as error:
        return boundary.refused(_refused, case_id, error)
    flash(f"Bilagan {made.filename} är tillagd.", "success")
    return redirect(url_for("cases.show", case_id=case_id, _anchor="bilagor"), 303)


@bp.get("/bilagor/<int:attachment_id>")
def download(attachment_id: int) -> Any:
    found = attachments.readable_attachment(boundary.session(), authority(), attachment_id)
    return files.download(found)


@bp.post("/arenden/<int:case_id>/kommentarer")
def comment(case_id: int) -> Any:
    session = boundary.session()
    case = readable_case(session, authority(), case_id)
    try:
        comments.add_comment(session, authority(), case, request.form.get("comment"))
    except KflowError as error:
        return boundary.refused(_refused, case_id, error)
    flash("Kommentaren är sparad.", "success")
    return redirect(url_for("cases.show", case_id=case_id, _anchor="historik"), 303)
