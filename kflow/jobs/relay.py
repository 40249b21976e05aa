"""The relay: send due outbox mail, each claimed, sent and recorded in short transactions of
its own (the rules it keeps are kflow.mailing.outbox's).

Nothing is held open while a mail is sent: the claim is committed before the send, and the
outcome is recorded afterwards only where the row still holds that claim.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from typing import Any

from kflow.db import utcnow
from kflow.mailing import outbox
from kflow.mailing.messages import Transport, build_message, transport_for
from kflow.mailing.outbox import Claimed, lease
from kflow.runtime import Runtime
from kflow.transient import backoff, is_transient

log = logging.getLogger(__name__)
CLAIM_TRIES = 20
RECORD_TRIES = 6


@dataclasses.dataclass
class RelayResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0


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
    for _attempt in range(CLAIM_TRIES):
        with runtime.transaction() as session:
            found = outbox.claim_first(session, due, held_for)
        if found is None:
            return None
        candidate, claim = found
        if claim is not None:
            return candidate, claim
    return None


def _deliver(
    runtime: Runtime, transport: Transport, mail_id: int, claim: str, result: RelayResult
) -> None:
    """Send one claimed mail (unless its claim was taken over) and record what became of it."""
    settings = runtime.settings
    with runtime.transaction(write=False) as session:
        mail = outbox.load_claimed(session, mail_id, claim)
    if mail is None:
        log.warning("Mail %s not sent: its claim was taken over (the lease ran out)", mail_id)
        return
    error = mail.error if mail.content is None else _send(runtime, transport, mail)
    done = outbox.outcome(settings, mail.attempts, mail.content, error)
    if not _record(runtime, mail_id, claim, done.values):
        log.warning(
            "Mail %s: its claim was taken over while it was being sent (the lease ran out); "
            "the outcome (%s) is not recorded",
            mail_id,
            done.kind,
        )
        return
    if done.kind == "sent":
        result.sent += 1
    elif done.kind == "failed":
        result.failed += 1
        log.warning("Mail %s failed for good after %s attempts: %s", mail_id, mail.attempts, error)
    else:
        result.retried += 1
        log.info(
            "Mail %s not sent (attempt %s), retrying in %s: %s",
            mail_id,
            mail.attempts,
            done.delay,
            error,
        )


def _send(runtime: Runtime, transport: Transport, mail: Claimed) -> str | None:
    """Hand the mail to the transport; the error, if it did not take it."""
    assert mail.content is not None
    subject, text, html = mail.content
    message = build_message(
        settings=runtime.settings,
        to_addr=mail.to_addr,
        subject=subject,
        text=text,
        html=html,
        message_id=mail.message_id,
    )
    try:
        transport.send(message)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[: outbox.MAX_ERROR]
    return None


def _record(runtime: Runtime, mail_id: int, claim: str, values: dict[str, Any]) -> bool:
    """Record an outcome where the row still holds ``claim``; False if it no longer does."""
    # The mail has gone (or failed): recording that must not fail on a passing database error,
    # or the mail would be sent again once the lease runs out. Try a few times before giving up.
    tries = 0
    while True:
        try:
            with runtime.transaction() as session:
                return outbox.record(session, mail_id, claim, values)
        except Exception as exc:
            tries += 1
            if tries == RECORD_TRIES or not is_transient(exc):
                raise
            log.warning("Mail %s: recording its outcome failed (%s); trying again", mail_id, exc)
            time.sleep(backoff(tries))
