"""The server-rendered web UI (Swedish): sign-in, Min inkorg, case pages, Översikt, Administration.

Every page calls the same services and read models (kflow.queries) as the JSON API; nothing
here changes a case except kflow.engine.fire and kflow.followup.indicators.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect

from kflow.states import MACHINES
from kflow.web.ui import labels

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    secure = bool(app.config.get("SESSION_COOKIE_SECURE"))
    # A case page may stay open for hours; the token is bound to the session, which is enough.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_SECURE", secure)

    from kflow.web.api import bp as api_bp
    from kflow.web.ui import (
        admin,
        admin_access,  # noqa: F401 (adds its routes to admin.bp)
        admin_users,  # noqa: F401 (adds its routes to admin.bp)
        auth,
        base,
        calendar_feed,
        cases,
        create,
        followup,
        inbox,
        inbox_bulk,  # noqa: F401 (adds bulk Kvittera's routes to inbox.bp)
        overdue,
        overview,
        remiss,  # noqa: F401 (adds the remissammanställning's routes to cases.bp)
        summary,  # noqa: F401 (adds its route to cases.bp)
    )

    auth.login_manager.init_app(app)
    csrf.init_app(app)
    csrf.exempt(api_bp)  # the API authenticates with bearer tokens, never cookies

    for bp in (auth.bp, inbox.bp, cases.bp, create.bp, overview.bp, overdue.bp, admin.bp):
        app.register_blueprint(bp)
    app.register_blueprint(followup.bp)
    app.register_blueprint(calendar_feed.bp)  # the feed, for calendars that cannot sign in
    from kflow.web.ui import my_account, password_reset  # Mitt konto, "Glömt lösenord?"

    app.register_blueprint(my_account.bp)
    app.register_blueprint(password_reset.bp)
    from kflow.web.ui import basis  # attachments and comments (after cases: it renders pages)

    app.register_blueprint(basis.bp)
    from kflow.web.ui import oidc  # single sign-on: its routes only when oidc.issuer is set

    oidc.init_app(app)

    settings = app.extensions["kflow"].settings
    app.jinja_env.globals.update(
        ui_is_admin=base.is_admin,
        ui_can_create=create.can_create,
        date_text=labels.date_text,
        role_label=labels.role_label,
        state_label=lambda case_type, state: MACHINES[case_type].state_label(state),
    )
    app.jinja_env.filters["local_time"] = lambda value: labels.local_time(value, settings.timezone)
    app.after_request(base.security_headers)

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError) -> Any:
        message = (
            "Formuläret kunde inte skickas eftersom säkerhetskontrollen (CSRF) saknades eller "
            "hade gått ut. Ladda om sidan och försök igen."
        )
        return render_template("ui/error.html", message=message, code="csrf"), 400
