"""The root command, ``kflow``, and every command group under it."""

from __future__ import annotations

import logging

import click

from kflow.tools.cli import (
    accounts,  # noqa: F401 (adds the lifecycle commands to kflow user)
    backup,
    cases,
    data,
    mail,
    org,
    processes,
)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """kflow: kunskapsstöd from NPO to local unit."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # transitions logs every state change at INFO; the history table already records them.
    logging.getLogger("transitions").setLevel(logging.WARNING)


for command in (
    *data.COMMANDS,
    *org.COMMANDS,
    *cases.COMMANDS,
    *mail.COMMANDS,
    *processes.COMMANDS,
    *backup.COMMANDS,
):
    main.add_command(command)
