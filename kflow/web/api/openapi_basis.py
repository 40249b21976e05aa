"""The OpenAPI paths and schemas of attachments and comments (kflow.web.api.basis);
kflow.web.api.openapi adds them to the document."""

from __future__ import annotations

from typing import Any

from kflow.documents.filetypes import CONTENT_TYPES
from kflow.web.api.openapi_followup import _error, _json, _list_of, _path, _ref

ATTACHING = {
    "knowledge-supports": ("knowledge_support", "the owner's chair or process lead"),
    "regional-adaptations": (
        "regional_adaptation",
        "the region's (or assignee's) chair, process lead or coordinator",
    ),
}
CASE_ID = _path("case_id")
READ = {
    "401": _error("Not logged in or bad token"),
    "404": _error("No such case, or the caller may not read it"),
    "422": _error("Bad query parameter"),
}
UPLOAD = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "PDF, Word (.doc, .docx) or Excel (.xls, .xlsx); the extension and "
            "the file's first bytes must agree",
        }
    },
}
NEW_COMMENT = {
    "type": "object",
    "required": ["comment"],
    "properties": {"comment": {"type": "string", "minLength": 1, "maxLength": 10000}},
}
SCHEMAS: dict[str, Any] = {
    "Attachment": {
        "type": "object",
        "required": [
            "id",
            "case_id",
            "filename",
            "content_type",
            "size",
            "sha256",
            "uploaded_by",
            "role",
            "uploaded_at",
            "url",
        ],
        "properties": {
            "id": {"type": "integer"},
            "case_id": {"type": "integer"},
            "filename": {"type": "string"},
            "content_type": {"type": "string", "enum": sorted(set(CONTENT_TYPES.values()))},
            "size": {"type": "integer", "minimum": 1},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "uploaded_by": {"type": "string", "description": "The uploader's name"},
            "role": {"type": ["string", "null"]},
            "uploaded_at": {"type": "string", "format": "date-time"},
            "url": {"type": "string", "description": "Where to download it"},
        },
    },
    "Comment": {
        "type": "object",
        "required": ["id", "case_id", "author", "role", "at", "comment"],
        "properties": {
            "id": {"type": "integer"},
            "case_id": {"type": "integer"},
            "author": {"type": "string", "description": "The author's name"},
            "role": {"type": ["string", "null"]},
            "at": {"type": "string", "format": "date-time"},
            "comment": {"type": "string"},
        },
    },
}


def _attachment_paths(collection: str, case_type: str, who: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": f"The attachments of a {case_type}",
            "operationId": f"attachments_{case_type}",
            "parameters": [CASE_ID],
            "responses": {"200": _json(_list_of("Attachment"))} | READ,
        },
        "post": {
            "summary": f"Attach a file to a {case_type} ({who})",
            "operationId": f"attach_{case_type}",
            "parameters": [CASE_ID],
            "requestBody": {
                "required": True,
                "content": {"multipart/form-data": {"schema": UPLOAD}},
            },
            "responses": {
                "201": _json(_ref("Attachment"), "Attached"),
                "400": _error("Malformed request"),
                "401": _error("Not logged in"),
                "403": _error(f"Not {who}"),
                "404": _error("No such case, or the caller may not read it"),
                "413": _error("The file is larger than attachments.max_mb"),
                "422": _error("No file, or not a PDF, Word or Excel file"),
            },
        },
    }


def paths(collections: dict[str, str]) -> dict[str, Any]:
    """The attachment paths, and the comment paths of every collection in ``collections``."""
    out: dict[str, Any] = {
        f"/api/v1/{collection}/{{case_id}}/attachments": _attachment_paths(collection, *spec)
        for collection, spec in ATTACHING.items()
    }
    out["/api/v1/attachments/{attachment_id}"] = {
        "get": {
            "summary": "Download an attachment (as an attachment, never shown inline)",
            "operationId": "download_attachment",
            "parameters": [_path("attachment_id")],
            "responses": {
                "200": {
                    "description": "The file",
                    "content": {
                        media: {"schema": {"type": "string", "format": "binary"}}
                        for media in sorted(set(CONTENT_TYPES.values()))
                    },
                },
                "404": _error("No such attachment, or the caller may not read its case"),
                "401": _error("Not logged in or bad token"),
                "422": _error("Bad query parameter"),
            },
        }
    }
    for collection, case_type in collections.items():
        out[f"/api/v1/{collection}/{{case_id}}/comments"] = {
            "get": {
                "summary": f"Comments on a {case_type}, oldest first",
                "operationId": f"comments_{case_type}",
                "parameters": [CASE_ID],
                "responses": {"200": _json(_list_of("Comment"))} | READ,
            },
            "post": {
                "summary": f"Comment on a {case_type} (anyone with a role who may read it); "
                "changes nothing else",
                "operationId": f"comment_{case_type}",
                "parameters": [CASE_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": NEW_COMMENT}},
                },
                "responses": {
                    "201": _json(_ref("Comment"), "Added"),
                    "400": _error("Malformed JSON"),
                    "401": _error("Not logged in"),
                    "403": _error("The caller holds no role"),
                    "404": _error("No such case, or the caller may not read it"),
                    "422": _error("No comment, or one too long"),
                },
            },
        }
    return out
