"""What every UI view shares: the signed-in actor's Authority, the sign-in check, error pages
and security headers.

Views stay thin: load (404), check access (403), validate, call the service, flash, redirect
(303). The transaction is the request boundary's (kflow.web.boundary): it commits after a
successful write and rolls back otherwise.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g
from flask_login import current_user

from kflow.engine.authority import Actor, Authority
from kflow.errors import KflowError
from kflow.org.roles import Role
from kflow.web import boundary, errors

# No inline scripts or styles anywhere, so the policy can be this strict.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def authority() -> Authority:
    """The signed-in user's Authority, built once per request."""
    if "ui_authority" not in g:
        g.ui_authority = Authority(boundary.session(), Actor(current_user.user))
    auth: Authority = g.ui_authority
    return auth


def is_admin() -> bool:
    return any(role == Role.ADMIN for _, role in authority().memberships)


def _require_login() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return None


def install(bp: Blueprint, *, login: bool = True) -> None:
    """Give a UI blueprint the sign-in check and the error pages."""
    if login:
        bp.before_request(_require_login)
    bp.register_error_handler(KflowError, errors.error_page)


HSTS = "max-age=31536000; includeSubDomains"


def security_headers(response: Response) -> Response:
    """On every response (pages, API, static files, error pages): no sniffing, no framing, the
    strict policy above, and outside development HSTS (kflow is served over HTTPS there)."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # With single sign-on, form-action also names the provider (kflow.web.ui.oidc).
    headers.setdefault("Content-Security-Policy", current_app.config.get("KFLOW_CSP", CSP))
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if not current_app.extensions["kflow"].settings.is_development:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response
