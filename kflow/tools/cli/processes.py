"""``kflow serve`` and ``kflow scheduler``: the long-running processes."""

from __future__ import annotations

import logging

import click

from kflow.tools.cli.base import friendly, runtime


@click.command()
@friendly
def scheduler() -> None:
    """Run the scheduler: sweeps every 15 minutes, digests at 07:00, the outbox every minute."""
    from kflow.jobs.scheduler import run

    logging.getLogger().setLevel(logging.INFO)
    run(runtime())


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@friendly
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web UI and API on gunicorn (a production WSGI server)."""
    from kflow.web.server import run

    run(host, port, workers)


COMMANDS = (scheduler, serve)
