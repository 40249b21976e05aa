"""What the UI and the API share about attachments: the file store of the app's settings, the
uploaded file of a multipart request, and a download served so that no browser runs it."""

from __future__ import annotations

import io

from flask import Response, request, send_file

from kflow.cases.models import Case
from kflow.documents.attachments import attach
from kflow.documents.models import Attachment
from kflow.documents.storage import FileStore
from kflow.engine.authority import Authority
from kflow.errors import ValidationError
from kflow.web import boundary

# The file is never rendered in kflow's origin: a sandbox without scripts, no sniffing.
DOWNLOAD_CSP = "sandbox; default-src 'none'"
FILE_FIELD = "file"


def store() -> FileStore:
    return FileStore(boundary.runtime().settings.attachments_dir)


def max_mb() -> int:
    return boundary.runtime().settings.attachments.max_mb


def upload(auth: Authority, case: Case) -> Attachment:
    """Attach the request's file (multipart field ``file``) to ``case``, read as the actor
    (``auth``) may read it."""
    sent = request.files.get(FILE_FIELD)
    if sent is None or not sent.filename:
        raise ValidationError("Välj en fil att bifoga (fältet file).")
    data = sent.read()
    return attach(
        boundary.session(),
        auth,
        case,
        filename=sent.filename,
        data=data,
        store=store(),
        max_mb=max_mb(),
    )


def download(attachment: Attachment) -> Response:
    """The file as a download: its own content type, ``attachment`` disposition with its name,
    nosniff, a sandboxing policy and no caching by shared caches."""
    data = store().read(attachment.sha256)
    response = send_file(
        io.BytesIO(data),
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.filename,
        etag=False,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    response.headers["Cache-Control"] = "private, no-store"
    return response
