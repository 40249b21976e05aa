"""``kflow remind`` (one run of the sweep, the digests and the relay) and ``kflow outbox``."""

from __future__ import annotations

import datetime as dt

import click

from kflow.tools.cli.base import friendly, runtime


@click.command()
@click.option(
    "--now",
    "now_text",
    default=None,
    help="Pretend it is this moment (ISO date-time; a bare time is taken as Stockholm time).",
)
@click.option("--no-relay", is_flag=True, help="Queue mail but do not send it.")
@friendly
def remind(now_text: str | None, no_relay: bool) -> None:
    """Run one sweep, build the digests due now and relay the outbox, then exit."""
    from kflow.db import utcnow
    from kflow.jobs.digests import build_digests
    from kflow.jobs.relay import relay
    from kflow.jobs.sweep import sweep

    rt = runtime()
    now = _parse_now(now_text) if now_text else utcnow()
    result = sweep(rt, now)
    digests = build_digests(rt, now)
    click.echo(
        f"Sweep at {now.isoformat()}: {result.closed_consultations} consultations closed, "
        f"{result.rungs} reminder rungs, {result.notifications} digest entries, "
        f"{result.mails} mails; {digests} digests; "
        f"{result.reports_opened} follow-up reports opened."
    )
    if not no_relay:
        sent = relay(rt, now=max(now, utcnow()))
        click.echo(f"Outbox: {sent.sent} sent, {sent.retried} to retry, {sent.failed} failed.")


def _parse_now(text: str) -> dt.datetime:
    from kflow.calendar import STOCKHOLM

    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO date-time.", param_hint="--now") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=STOCKHOLM)
    return moment


@click.group()
def outbox() -> None:
    """The mail outbox."""


@outbox.command("list")
@click.option("--failed", is_flag=True, help="Only mails that failed for good.")
@click.option("--limit", default=50, show_default=True)
@friendly
def outbox_list(failed: bool, limit: int) -> None:
    """List outgoing mail, newest first."""
    from sqlalchemy import select

    from kflow.mailing.models import OutboxMail

    with runtime().transaction(write=False) as session:
        stmt = select(OutboxMail).order_by(OutboxMail.id.desc()).limit(limit)
        if failed:
            stmt = stmt.where(OutboxMail.status == "failed")
        rows = session.scalars(stmt).all()
        for row in rows:
            error = f"  [{row.last_error}]" if row.last_error else ""
            try:
                subject = row.content()[0]
            except Exception as exc:  # shown, not raised: this list is how one finds such a mail
                subject = f"({row.template}: {type(exc).__name__})"
            click.echo(
                f"{row.id:>6} {row.status:<8} {row.attempts:>2} {row.to_addr:<36} {subject}{error}"
            )
        if not rows:
            click.echo("No mail." if not failed else "No failed mail.")


@outbox.command("retry")
@click.argument("mail_id", type=int)
@friendly
def outbox_retry(mail_id: int) -> None:
    """Requeue a failed mail; the next relay sends it."""
    from kflow.mailing.outbox import retry

    with runtime().transaction() as session:
        retry(session, mail_id)
    click.echo(f"Mail {mail_id} queued again.")


COMMANDS = (remind, outbox)
