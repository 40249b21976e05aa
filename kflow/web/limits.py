"""What a request may carry, checked before any view sees it: hostile input never reaches SQL.

Every value a person or a script can send is bounded here, so that a bad one is refused with a
clear 4xx (lifecycle.md §3) instead of failing deep down as a 500:

* **Size.** A body is at most ``MAX_CONTENT_LENGTH`` (2 MB), a multipart field at most
  ``MAX_FORM_MEMORY_SIZE`` (a CSV import of measurements at most ``MAX_IMPORT_LENGTH``, 8 MB);
  anything larger is ``413`` with a Swedish message (JSON in the API).
  Below that, the services bound each text (a comment 10 000 characters, a title 300, ...).
  A URL (path and query string, as sent) is at most ``MAX_URL_LENGTH`` characters: longer is
  ``414``, on every route. (gunicorn, which ``kflow serve`` runs, itself refuses a request line
  over 4094 bytes with an HTML 414 of its own before kflow sees it.)
* **Ids.** A number in a path (``/arenden/<int:case_id>``) must fit an INTEGER column (32-bit
  signed on PostgreSQL); a larger one matches no route (404). Integer query and form fields
  (``offset``, ``knowledge_support``, ...) beyond that range are 422.
* **Text.** No NUL characters (PostgreSQL cannot store them) anywhere in the query string, a
  form or a JSON body: 422. JSON strings may not hold lone surrogates (not Unicode; they cannot
  be stored either): 422.
* **JSON.** Strict JSON only (no ``NaN`` or ``Infinity``), nested at most ``MAX_JSON_DEPTH``
  deep: otherwise 400 ``bad_request``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from flask import Flask, Request, current_app, jsonify, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge, RequestURITooLarge
from werkzeug.routing import IntegerConverter, Map

from kflow.errors import BadRequest, ValidationError

MAX_CONTENT_LENGTH = 2 * 1024 * 1024
# A CSV of measurements (POST /api/v1/measurements/import): 100 000 lines fit.
MAX_IMPORT_LENGTH = 8 * 1024 * 1024
MAX_FORM_MEMORY_SIZE = 500_000
# The routes that take an attachment (kflow.web.files): up to attachments.max_mb, plus this.
UPLOAD_ENDPOINTS = frozenset(
    {"basis.upload", "api.knowledge_support_attachments", "api.adaptation_attachments"}
)
UPLOAD_ENVELOPE = MAX_FORM_MEMORY_SIZE
# Ids are INTEGER columns: 32 bits on PostgreSQL (SQLite's are wider).
MAX_DB_INT = 2**31 - 1
MAX_JSON_DEPTH = 32
# Path and query string as sent (percent-encoded). Below gunicorn's request-line limit (4094 bytes
# with the method and protocol), so a URL just too long gets this answer, in JSON in the API.
MAX_URL_LENGTH = 4000
# Query and form fields that are read as integers and reach the database.
INTEGER_FIELDS = ("limit", "offset", "knowledge_support", "indicator", "lock_version")
# How the web pages name those fields (the API uses the ids).
FIELD_LABELS = {
    "indicator": "Indikatorn",
    "lock_version": "Ärendets version i formuläret",
    "offset": "Sidans startrad (offset)",
}
_SURROGATE = re.compile("[\ud800-\udfff]")

API_BLUEPRINT = "api"
TOO_DEEP = f"JSON-kroppen är nästlad för djupt (högst {MAX_JSON_DEPTH} nivåer)."
TOO_LARGE_API = (
    "Förfrågan är för stor: en kropp får vara högst 2 MB. En kommentar får vara högst "
    "10 000 tecken och en beskrivning högst 20 000."
)
TOO_LONG_URL = (
    f"Adressen är för lång: sökväg och frågesträng får vara högst {MAX_URL_LENGTH} tecken."
)
TOO_LARGE_UI = (
    "Det du skickade är för stort för att tas emot. En kommentar får vara högst 10 000 tecken, "
    "en beskrivning högst 20 000 och en titel högst 300. Korta texten och försök igen."
)


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in a route: a non-negative integer that fits an INTEGER column."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = MAX_DB_INT,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def init_app(app: Flask) -> None:
    """Install the limits. Call before any blueprint is registered (routes bind converters)."""
    app.config.setdefault("MAX_CONTENT_LENGTH", MAX_CONTENT_LENGTH)
    app.config.setdefault("MAX_FORM_MEMORY_SIZE", MAX_FORM_MEMORY_SIZE)
    app.url_map.converters["int"] = DatabaseIdConverter
    app.before_request(check_url)  # first, and for every route: nothing is read before it
    app.before_request(allow_uploads)  # before anything reads a form (CSRF, check_request)
    app.before_request(check_request)
    app.register_error_handler(RequestEntityTooLarge, _too_large)


def url_length(environ: dict[str, Any]) -> int:
    """The length of the URL's path and query string as sent: the query string as it came, the
    path percent-encoded again (WSGI gives it decoded, as latin-1 text of its bytes)."""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    sent_path = quote(path.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=")
    return len(sent_path) + (len(query) + 1 if query else 0)


def check_url() -> None:
    """Refuse a URL longer than MAX_URL_LENGTH: 414, before anything else reads the request."""
    if url_length(request.environ) > MAX_URL_LENGTH:
        raise RequestURITooLarge(TOO_LONG_URL)


def upload_limit() -> int:
    """The largest body an upload route takes: the configured file size and room for the
    multipart envelope and the form's other fields."""
    max_mb: int = current_app.extensions["kflow"].settings.attachments.max_mb
    return max_mb * 1024 * 1024 + UPLOAD_ENVELOPE


def allow_uploads() -> None:
    """An attachment's route takes a body as large as attachments.max_mb (others 2 MB)."""
    if request.method == "POST" and request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = upload_limit()


def check_request() -> None:
    """check_fields for the web pages (the API runs it itself, after authentication)."""
    if request.blueprint is None or request.blueprint == API_BLUEPRINT:
        return  # /healthz and static files read nothing from the request
    check_fields()


def check_fields() -> None:
    """Refuse NUL characters and out-of-range integers in the query string and form fields."""
    _check_fields(request.args.items(multi=True), "adressen")
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        _check_fields(request.form.items(multi=True), "formuläret")


def _check_fields(items: Any, where: str) -> None:
    for raw_name, raw_value in items:
        # A multipart part with a bare CR in its name parses as a field without a value.
        name, value = raw_name or "", raw_value or ""
        if "\x00" in name or "\x00" in value:
            raise ValidationError(
                f"Fältet '{_printable(name)}' i {where} innehåller ett NUL-tecken."
            )
        if name in INTEGER_FIELDS:
            _check_integer(name, value)


def _check_integer(name: str, value: str) -> None:
    """A number in an integer field must be ASCII digits that fit MAX_DB_INT. (Python's int()
    fails on '²', which str.isdigit() accepts, and on more than 4300 digits.) Anything else
    that is not a number is left to the view, which says what it expects."""
    text = value.strip()
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not (digits.isdigit() or digits.isdecimal()):
        return
    label = name if request.blueprint == API_BLUEPRINT else FIELD_LABELS.get(name, name)
    if not digits.isascii():
        raise ValidationError(f"{label} måste skrivas med siffrorna 0-9.")
    if len(digits.lstrip("0")) > len(str(MAX_DB_INT)) or int(digits) > MAX_DB_INT:
        raise ValidationError(f"{label} är ett för stort tal.")


def _printable(text: str) -> str:
    return text.replace("\x00", "\\0")[:40]


def json_object(req: Request) -> dict[str, Any]:
    """The request's JSON body as an object, or a 400/422 saying what is wrong with it."""
    if not req.is_json:
        raise BadRequest("Skicka JSON med Content-Type: application/json.")
    data = req.get_data(cache=True)
    try:
        body = json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise BadRequest(TOO_DEEP) from None
    except ValueError:  # also invalid UTF-8 (UnicodeDecodeError) and NaN/Infinity
        raise BadRequest("Kroppen är inte giltig JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("Kroppen måste vara ett JSON-objekt.")
    check_json(body)
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_json(value: Any, depth: int = 0) -> None:
    """Refuse JSON nested too deep, and text no database can store (NUL, lone surrogates)."""
    if depth > MAX_JSON_DEPTH:
        raise BadRequest(TOO_DEEP)
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_DB_INT:
        raise ValidationError(f"Ett tal i kroppen är för stort (högst {MAX_DB_INT}).")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ValidationError("Texten innehåller ett NUL-tecken, som inte är tillåtet.")
    if _SURROGATE.search(text):
        raise ValidationError("Texten innehåller ogiltiga Unicode-tecken (ensamma surrogater).")


def _too_large(error: RequestEntityTooLarge) -> Any:
    message_api, message_ui = TOO_LARGE_API, TOO_LARGE_UI
    if request.endpoint in UPLOAD_ENDPOINTS:
        max_mb = current_app.extensions["kflow"].settings.attachments.max_mb
        message_api = message_ui = f"Filen är för stor: en bilaga får vara högst {max_mb} MB."
    if request.path.startswith("/api/"):
        response = jsonify(error={"code": "bad_request", "message": message_api})
        return response, 413
    return render_template("ui/error.html", message=message_ui, code="413"), 413
