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

Every function here works on a session its caller commits; the relay that claims, sends and
records each mail in transactions of its own is kflow.jobs.relay.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kflow.config import Settings
from kflow.db import utcnow
from kflow.mailing.messages import message_id_for
from kflow.mailing.models import OutboxMail

log = logging.getLogger(__name__)
LEASE = dt.timedelta(minutes=5)  # the shortest lease
# smtplib's timeout bounds each wait of a send, not the send: connecting, the greeting, EHLO,
# STARTTLS, the TLS handshake, EHLO again, AUTH (two answers), MAIL, RCPT, DATA, the message, its
# answer and QUIT are 14 waits. The lease is this many timeouts, so no send outlasts it.
LEASE_TIMEOUTS = 20
MAX_ERROR = 2_000


OUTBOX = cast(Table, OutboxMail.__table__)
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


def lease(settings: Settings) -> dt.timedelta:
    """How long a claim holds: longer than any SMTP send with ``settings``' timeout."""
    return max(LEASE, dt.timedelta(seconds=settings.mail.smtp_timeout * LEASE_TIMEOUTS))


def _claimable(due: dt.datetime, expired: dt.datetime) -> ColumnElement[bool]:
    return or_(
        and_(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= due),
        and_(OutboxMail.status == "sending", OutboxMail.claimed_at < expired),
    )


def claim_first(
    session: Session, due: dt.datetime, held_for: dt.timedelta
) -> tuple[int, str | None] | None:
    """Claim the first row due by ``due``, or whose claim is older than the lease on the real
    clock.

    None: no row is claimable. (id, token): the row is claimed, ``token`` names this claim
    alone. (id, None): another relay claimed that row between this read and this write."""
    claimable = _claimable(due, utcnow() - held_for)
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
    return candidate, claim if getattr(claimed, "rowcount", 0) == 1 else None


@dataclasses.dataclass(frozen=True)
class Claimed:
    """A claimed mail as its relay is to send it: which attempt this is, and its content (or,
    when its template does not render, the error)."""

    attempts: int
    to_addr: str
    message_id: str
    content: tuple[str, str, str] | None
    error: str | None


def load_claimed(session: Session, mail_id: int, claim: str) -> Claimed | None:
    """The mail ``mail_id`` while it still holds ``claim``; None once the claim was taken over."""
    row = session.get(OutboxMail, mail_id, populate_existing=True)
    if row is None or row.status != "sending" or row.claimed_by != claim:
        return None
    content: tuple[str, str, str] | None = None
    error: str | None = None
    try:
        content = row.content()
    except Exception as exc:  # a template that fails to render: this mail fails, no other
        log.exception("Mail %s could not be rendered", mail_id)
        error = f"render: {type(exc).__name__}: {exc}"[:MAX_ERROR]
    return Claimed(row.attempts + 1, row.to_addr, row.message_id, content, error)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one attempt: ``kind`` is sent, failed (for good) or retried (later)."""

    kind: str
    values: dict[str, Any]
    delay: dt.timedelta | None = None


def outcome(
    settings: Settings, attempts: int, content: tuple[str, str, str] | None, error: str | None
) -> Outcome:
    """The row's new values after attempt ``attempts``: sent, failed for good, or retried
    after a delay that doubles with each attempt."""
    if error is None:
        assert content is not None
        sent = {
            "status": "sent",
            "sent_at": utcnow(),
            "attempts": attempts,
            "last_error": None,
            # What was sent, kept with the row.
            "subject": content[0],
            "body_text": content[1],
            "body_html": content[2],
        }
        return Outcome("sent", sent)
    if attempts >= settings.mail.max_attempts:
        return Outcome("failed", {"status": "failed", "attempts": attempts, "last_error": error})
    delay = dt.timedelta(seconds=settings.mail.retry_base_seconds * 2 ** (attempts - 1))
    values = {
        "status": "pending",
        "attempts": attempts,
        "last_error": error,
        "next_attempt_at": utcnow() + delay,
    }
    return Outcome("retried", values, delay)


def record(session: Session, mail_id: int, claim: str, values: dict[str, Any]) -> bool:
    """Record an outcome where the row still holds ``claim``; False if it no longer does."""
    recorded = session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == mail_id, OutboxMail.claimed_by == claim)
        .values(claimed_by=None, claimed_at=None, **values)
    )
    return getattr(recorded, "rowcount", 0) == 1


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
