"""``kflow export`` and ``kflow import``: the whole database to one signed file and back."""

from __future__ import annotations

import sys

import click

from kflow.tools.cli.base import friendly, runtime

KEY_FILE_HELP = (
    "The file holding the backup key that signs the backup (export) and checks it (import); "
    "make one with 'openssl rand -hex 32 > backup.key' and keep it apart from the backups."
)


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--key-file", metavar="PATH", help=KEY_FILE_HELP)
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@friendly
def export_command(file: str, key_file: str | None, force: bool) -> None:
    """Back up the whole database, history included, to FILE ('-': standard output).

    FILE is gzip-compressed JSON Lines read from one consistent snapshot; the service may keep
    running. It is signed with the backup key (HMAC-SHA256), so 'kflow import' refuses it if
    anyone without the key changes it. It is not encrypted: it holds the password and token
    hashes, so protect it like the database. docs/backup.md describes the format.
    """
    from kflow.documents.storage import FileStore
    from kflow.tools import backup

    try:
        key = backup.load_key(key_file)
        if file == "-" and sys.stdout.isatty():
            raise click.ClickException(
                "A backup is binary: redirect standard output, or name a FILE."
            )
        engine = runtime().engine
        files = FileStore(runtime().settings.attachments_dir)  # attachments' files
        if file == "-":
            summary = backup.export_stream(engine, sys.stdout.buffer, key=key, files=files)
        else:
            summary = backup.export_file(engine, file, key=key, overwrite=force, files=files)
    except backup.BackupError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(
        f"Exported {summary.total} rows from {len(summary.rows)} tables "
        f"(schema revision {summary.revision}) to {'standard output' if file == '-' else file}.",
        err=file == "-",
    )


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--key-file", metavar="PATH", help=KEY_FILE_HELP)
@friendly
def import_command(file: str, key_file: str | None) -> None:
    """Restore a backup made by 'kflow export' from FILE ('-': standard input).

    The database must be migrated to the backup's schema revision and hold no data at all:
    create it with 'kflow db upgrade' alone, without 'kflow seed' or 'kflow demo' (the backup
    brings the reference data along). Everything is written in one transaction and checked
    against the file's row counts and its authentication code under the backup key first: a
    refused import (a changed file, a wrong key) leaves the database empty.
    """
    from kflow.documents.storage import FileStore
    from kflow.tools import backup

    try:
        key = backup.load_key(key_file)
        engine = runtime().engine
        files = FileStore(runtime().settings.attachments_dir)  # attachments' files
        if file == "-":
            summary = backup.import_stream(engine, sys.stdin.buffer, key=key, files=files)
        else:
            summary = backup.import_file(engine, file, key=key, files=files)
    except backup.BackupError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(
        f"Imported {summary.total} rows into {len(summary.rows)} tables "
        f"(schema revision {summary.revision})."
    )


COMMANDS = (export_command, import_command)
