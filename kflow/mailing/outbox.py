"""The mail outbox: rows written in the same transaction as their cause, relayed later.

Exactly once: a mail exists once per idempotency key (a unique constraint; inserts that collide
do nothing). A relay claims a row by compare-and-set (UPDATE ... WHERE status = 'pending'),
stamping it with a token of that claim alone; it sends the row only while the row still carries
that token, and records the outcome only where it still does (UPDATE ... WHERE claimed_by =
the token), so two relays never send the same row. A claim left by a relay that died is taken
over after the lease, which is much longer than the longest SMTP send. Claims and the lease go
by the real clock, whatever moment a relay runs for (`kflow remind --now`): that moment only
says which pending mail is due. The one window left is the classic one: SMTP accepted the mail
and the relay died before recording it; the stable Message-ID lets a receiver recognise such a
resend.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kflow.config import Settings
from kflow.db import utcnow
from kflow.mailing.messages import Transport, build_message, message_id_for, transport_for
from kflow.mailing.models import OutboxMail
from kflow.runtime import Runtime
from kflow.transient import backoff, is_transient

log = logging.getLogger(__name__)
LEASE = dt.timedelta(minutes=5)  # the shortest lease
# smtplib's timeout bounds each wait of a send, not the send: connecting, the greeting, EHLO,
# STARTTLS, the TLS handshake, EHLO again, AUTH (two answers), MAIL, RCPT, DATA, the message, its
# answer and QUIT are 14 waits. The lease is this many timeouts, so no send outlasts it.
LEASE_TIMEOUTS = 20
RECORD_TRIES = 6
MAX_ERROR = 2_000


OUTBOX = cast(Table, OutboxMail.__table__)
_COLUMNS = (
    "idempotency_key",
    "message_id",
    "to_addr",
    "template",
    "context",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)
# A key that exists already is skipped (the mail was queued before): exactly once.
# The rows written are returned, so the count leaves out the keys that existed.
_ENQUEUE = {
    name: dialect_insert(OUTBOX)
    .on_conflict_do_nothing(index_elements=["idempotency_key"])
    .returning(OUTBOX.c.id)
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


@dataclasses.dataclass(frozen=True)
class Mail:
    key: str
    to_addr: str
    template: str
    context: dict[str, Any]


def enqueue(session: Session, settings: Settings, mails: Sequence[Mail]) -> int:
    """Write outbox rows (one multi-row INSERT); a key that exists already is skipped."""
    if not mails:
        return 0
    now = utcnow()
    rows = [
        {
            "idempotency_key": mail.key,
            "message_id": message_id_for(mail.key, settings),
            "to_addr": mail.to_addr,
            "template": mail.template,
            "context": mail.context,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for mail in mails
    ]
    connection = session.connection()
    return len(connection.execute(_ENQUEUE[connection.dialect.name], rows).all())


@dataclasses.dataclass
class RelayResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def lease(settings: Settings) -> dt.timedelta:
    """How long a claim holds: longer than any SMTP send with ``settings``' timeout."""
    return max(LEASE, dt.timedelta(seconds=settings.mail.smtp_timeout * LEASE_TIMEOUTS))


def relay(
    runtime: Runtime,
    now: dt.datetime | None = None,
    transport: Transport | None = None,
    limit: int = 500,
) -> RelayResult:
    """Send due outbox rows, each claimed and recorded in its own short transaction.

    ``now`` (the real time if not given) says which pending rows are due; the claims and their
    lease use the real clock, the one every relay shares."""
    settings = runtime.settings
    transport = transport or transport_for(settings)
    held_for = lease(settings)
    result = RelayResult()
    for _ in range(limit):
        claimed = _claim_next(runtime, now or utcnow(), held_for)
        if claimed is None:
            break
        mail_id, claim = claimed
        _deliver(runtime, transport, mail_id, claim, result)
    return result


def _claim_next(
    runtime: Runtime, due: dt.datetime, held_for: dt.timedelta
) -> tuple[int, str] | None:
    """Claim the first row due by ``due``, or whose claim is older than the lease on the real
    clock: (its id, the token of this claim); None when there is none."""
    for _attempt in range(20):
        expired = utcnow() - held_for
        claimable = or_(
            and_(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= due),
            and_(OutboxMail.status == "sending", OutboxMail.claimed_at < expired),
        )
        with runtime.transaction() as session:
            candidate = session.scalar(
                select(OutboxMail.id).where(claimable).order_by(OutboxMail.id).limit(1)
            )
            if candidate is None:
                return None
            claim = uuid.uuid4().hex  # a token per claim: a row taken back is a new claim
            claimed = session.execute(
                update(OutboxMail)
                .where(OutboxMail.id == candidate, claimable)
                .values(status="sending", claimed_by=claim, claimed_at=utcnow())
            )
            if getattr(claimed, "rowcount", 0) == 1:
                return candidate, claim
    return None


def _deliver(
    runtime: Runtime, transport: Transport, mail_id: int, claim: str, result: RelayResult
) -> None:
    settings = runtime.settings
    error: str | None = None
    content: tuple[str, str, str] | None = None
    with runtime.transaction(write=False) as session:
        row = session.get(OutboxMail, mail_id, populate_existing=True)
        if row is None or row.status != "sending" or row.claimed_by != claim:
            log.warning("Mail %s not sent: its claim was taken over (the lease ran out)", mail_id)
            return
        attempts = row.attempts + 1
        to_addr, message_id = row.to_addr, row.message_id
        try:
            content = row.content()
        except Exception as exc:  # a template that fails to render: this mail fails, no other
            log.exception("Mail %s could not be rendered", mail_id)
            error = f"render: {type(exc).__name__}: {exc}"[:MAX_ERROR]
    if content is not None:
        subject, text, html = content
        message = build_message(
            settings=settings,
            to_addr=to_addr,
            subject=subject,
            text=text,
            html=html,
            message_id=message_id,
        )
        try:
            transport.send(message)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
    delay: dt.timedelta | None = None
    if error is None:
        assert content is not None
        outcome = "sent"
        values: dict[str, Any] = {
            "status": "sent",
            "sent_at": utcnow(),
            "attempts": attempts,
            "last_error": None,
            # What was sent, kept with the row.
            "subject": content[0],
            "body_text": content[1],
            "body_html": content[2],
        }
    elif attempts >= settings.mail.max_attempts:
        outcome = "failed"
        values = {"status": "failed", "attempts": attempts, "last_error": error}
    else:
        outcome = "retried"
        delay = dt.timedelta(seconds=settings.mail.retry_base_seconds * 2 ** (attempts - 1))
        values = {
            "status": "pending",
            "attempts": attempts,
            "last_error": error,
            "next_attempt_at": utcnow() + delay,
        }
    if not _record(runtime, mail_id, claim, values):
        log.warning(
            "Mail %s: its claim was taken over while it was being sent (the lease ran out); "
            "the outcome (%s) is not recorded",
            mail_id,
            outcome,
        )
        return
    if outcome == "sent":
        result.sent += 1
    elif outcome == "failed":
        result.failed += 1
        log.warning("Mail %s failed for good after %s attempts: %s", mail_id, attempts, error)
    else:
        result.retried += 1
        log.info(
            "Mail %s not sent (attempt %s), retrying in %s: %s", mail_id, attempts, delay, error
        )


def _record(runtime: Runtime, mail_id: int, claim: str, values: dict[str, Any]) -> bool:
    """Record an outcome where the row still holds ``claim``; False if it no longer does."""
    record = (
        update(OutboxMail)
        .where(OutboxMail.id == mail_id, OutboxMail.claimed_by == claim)
        .values(claimed_by=None, claimed_at=None, **values)
    )
    # The mail has gone (or failed): recording that must not fail on a passing database error,
    # or the mail would be sent again once the lease runs out. Try a few times before giving up.
    tries = 0
    while True:
        try:
            with runtime.transaction() as session:
                recorded = session.execute(record)
            return getattr(recorded, "rowcount", 0) == 1
        except Exception as exc:
            tries += 1
            if tries == RECORD_TRIES or not is_transient(exc):
                raise
            log.warning("Mail %s: recording its outcome failed (%s); trying again", mail_id, exc)
            time.sleep(backoff(tries))


def retry(session: Session, mail_id: int) -> OutboxMail:
    """Put a failed (or pending) mail back in the queue to be sent at the next relay."""
    from kflow.errors import NotFound, ValidationError

    row = session.get(OutboxMail, mail_id)
    if row is None:
        raise NotFound(f"Det finns inget utgående brev {mail_id}.")
    if row.status == "sent":
        raise ValidationError(f"Brev {mail_id} är redan skickat.")
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.claimed_by = None
    row.claimed_at = None
    return row
