"""gunicorn, started from `kflow serve`. Each worker builds its own app (and database pool)."""

from __future__ import annotations

import re
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

# Paths whose last part is a secret (a password-reset link, a calendar feed): never logged.
SECRET_PATHS = re.compile(r"(/aterstall-losenord/|/kalender/)[^/?\s]+")


def redact(text: str | None) -> str | None:
    return SECRET_PATHS.sub(r"\1…", text) if text else text


class KflowLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, with the secrets in a reset link's or a calendar feed's address left
    out of the access log (its request line and path)."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U"):
            atoms[key] = redact(atoms.get(key))
        return atoms


class KflowServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from kflow.runtime import settle_heap
        from kflow.web import create_app

        app = create_app()
        settle_heap()
        return app


def options(host: str, port: int, workers: int) -> dict[str, Any]:
    """gunicorn's settings for kflow in production (the benchmarks' WSGI twin runs on them)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "accesslog": "-",
        "logger_class": "kflow.web.server.KflowLogger",
        "timeout": 60,
        "graceful_timeout": 20,
        # gunicorn's control socket lives at one path per OS user (~/.gunicorn), so two
        # servers of one user would fight over it; kflow does not use it.
        "control_socket_disable": True,
    }


def run(host: str, port: int, workers: int) -> None:
    KflowServer(options(host, port, workers)).run()
