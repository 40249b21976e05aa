"""gunicorn, started from `kflow serve`. Each worker builds its own app (and database pool)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


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
        "timeout": 60,
        "graceful_timeout": 20,
        # gunicorn's control socket lives at one path per OS user (~/.gunicorn), so two
        # servers of one user would fight over it; kflow does not use it.
        "control_socket_disable": True,
    }


def run(host: str, port: int, workers: int) -> None:
    KflowServer(options(host, port, workers)).run()
