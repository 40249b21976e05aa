"""The Flask application factory. No scheduler and no database queries at start-up."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, make_response, request
from werkzeug.exceptions import HTTPException, InternalServerError

from kflow.runtime import Runtime


def create_app(
    runtime: Runtime | None = None, config_override: dict[str, Any] | None = None
) -> Flask:
    runtime = runtime or Runtime.create()
    settings = runtime.settings
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.is_development,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if config_override:
        app.config.update(config_override)
    app.extensions["kflow"] = runtime

    from kflow.web import boundary, errors, limits

    # First: each request's transaction, and running it again after a transient database error.
    boundary.init_app(app)
    limits.init_app(app)  # before the routes below: they bind its id converter

    from kflow.web.api import bp as api_bp

    app.register_blueprint(api_bp)

    from kflow.web import ui

    ui.init_app(app)

    @app.errorhandler(404)
    @app.errorhandler(405)
    @app.errorhandler(414)
    def _http_error(error: HTTPException) -> Any:
        """Routing's 404 and 405 and kflow.web.limits' 414: JSON in the API and /healthz (§3),
        a page elsewhere. A 405 names the methods the path takes in ``Allow``, as HTTP asks."""
        if request.path.startswith("/api/") or request.path == "/healthz":
            return errors.http_error_response(error)
        response = make_response(errors.http_error_page(error))
        allow = dict(error.get_headers()).get("Allow")
        if allow:
            response.headers["Allow"] = allow
        return response

    @app.errorhandler(500)
    def _server_error(error: InternalServerError) -> Any:
        # A database error raised where no view could catch it is the boundary's to judge.
        return boundary.failed(error.original_exception) or errors.server_error(error)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    return app
