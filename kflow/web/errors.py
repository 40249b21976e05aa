"""How the web answers an error: JSON in the API (lifecycle.md §3), a Swedish page elsewhere.

Nothing here touches the database, so the request boundary (kflow.web.boundary) can answer
with these when the database is the trouble.
"""

from __future__ import annotations

from flask import Response, g, jsonify, make_response, render_template, request
from flask import session as cookie_session
from flask_login import AnonymousUserMixin
from werkzeug.exceptions import HTTPException

from kflow.errors import Conflict, KflowError
from kflow.web.ui.labels import CONFLICT_MESSAGE

HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found"}

# Werkzeug's own descriptions are English; these say the same in Swedish (§3).
API_MESSAGES = {
    404: "Det finns ingen sådan adress i API:t. Se /api/v1/openapi.json.",
    405: "Metoden går inte att använda på den här adressen; se rubriken Allow.",
}
PAGE_MESSAGES = {
    404: "Sidan finns inte. Kontrollera adressen eller gå tillbaka till Min inkorg.",
    405: "Sidan kan inte användas på det sättet.",
    500: "Något gick fel hos kflow. Försök igen om en stund; om felet består, kontakta "
    "den som förvaltar kflow.",
}
SERVER_ERROR_API = "Ett oväntat fel inträffade. Försök igen om en stund."
CONFLICT_API = "Ärendet ändrades samtidigt av någon annan; försök igen."


def in_api() -> bool:
    return request.path.startswith("/api/")


def error_response(error: KflowError) -> Response:
    """``error`` as the API's JSON error."""
    response = jsonify(error.to_dict())
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kflow"'
    return response


def http_error_response(error: HTTPException) -> Response:
    """An HTTP error (404 and 405 from routing, 414, ...) as a §3 JSON error. Another 4xx is
    ``bad_request``; a 405 keeps Werkzeug's ``Allow`` header, naming the methods the path takes."""
    status = error.code or 500
    code = HTTP_CODES.get(status, "bad_request" if status < 500 else "server_error")
    message = error.description
    if message == type(error).description:  # Werkzeug's default, not one of kflow's
        message = API_MESSAGES.get(status, message)
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers["Allow"] = value
    return response


def error_page(error: KflowError, status: int | None = None) -> Response:
    """``error`` as a page."""
    return make_response(
        render_template("ui/error.html", message=error.message, code=error.code),
        status or error.status,
    )


def http_error_page(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    message = PAGE_MESSAGES.get(code, error.description or "Något gick fel.")
    return render_template("ui/error.html", message=message, code=str(code)), code


def without_database() -> None:
    """Show the page to come as to someone signed out: it must not need the database (the
    signed-in user is read from it)."""
    g._login_user = AnonymousUserMixin()  # Flask-Login's per-request user


def answer(error: KflowError) -> Response:
    """``error`` in the API's JSON or as a page, without the database."""
    if in_api():
        return error_response(error)
    without_database()
    return error_page(error)


def conflict() -> Response:
    """A write that met another at commit (a version clash, a broken unique constraint): 409,
    and on a page without the success message the view left, which would be a lie."""
    if in_api():
        return error_response(Conflict(CONFLICT_API))
    cookie_session.pop("_flashes", None)
    return error_page(Conflict(CONFLICT_MESSAGE))


def server_error(error: HTTPException) -> Response | tuple[str, int]:
    """A 500, without the database. (The traceback is logged by Flask; the answer says nothing
    of it.)"""
    if in_api():
        response = jsonify(error={"code": "server_error", "message": SERVER_ERROR_API})
        response.status_code = 500
        return response
    without_database()
    return http_error_page(error)
