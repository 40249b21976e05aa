"""Relays racing each other over one outbox, on SQLite and PostgreSQL, with a real SMTP server
in this process that counts every delivery by Message-ID (not the outbox rows).

`kflow remind --now <a later moment>` relays what is due at that moment, but its claims and
their lease go by the real clock, as every other relay's do: two or three such runs at once,
real-time relays (processes and threads), and the two mixed, deliver each queued mail exactly
once. A relay that lost its claim (its lease ran out) neither sends the row nor records an
outcome for it.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import logging
import re
import threading
import time

import pytest
from sqlalchemy import select, update

from kflow.db import utcnow
from kflow.jobs import relay as outbox
from kflow.jobs.relay import RelayResult, relay
from kflow.mailing.models import OutboxMail
from kflow.mailing.outbox import Mail, enqueue
from kflow.runtime import Runtime
from tests.support.processes import cli_env, start_kflow
from tests.support.smtp import SmtpServer, running_server

pytestmark = pytest.mark.slow
MAILS = 160
DELAY = 0.01  # the server answers each message 10 ms late, so the relays overlap
SENT = re.compile(r"Outbox: (\d+) sent")

# Who relays, all at once: `kflow remind --now` a few days on ("later"), `kflow remind` on
# the real clock ("remind"), outbox.relay(runtime) in a thread of this process ("thread").
SCENARIOS = {
    "two-remind-now": ("later", "later"),
    "three-remind-now": ("later", "later", "later"),
    "real-time": ("remind", "remind", "thread", "thread"),
    "mixed": ("later", "remind", "thread"),
}


def queue(rt: Runtime, count: int) -> list[str]:
    """``count`` deviation mails, committed; their Message-IDs."""
    mails = []
    for i in range(count):
        item = {
            "url": f"http://127.0.0.1:5000/arenden/{i}",
            "title": "Kol",
            "unit": "Vårdcentral Ö",
        }
        context = {"name": "Åke", "actor": "Örjan", "comment": f"Avvikelse {i}", "item": item}
        mails.append(Mail(f"race:{i}", f"mottagare-{i % 7}@test.se", "deviation", context))
    with rt.transaction() as s:
        assert enqueue(s, rt.settings, mails) == count
    with rt.transaction(write=False) as s:
        return list(s.scalars(select(OutboxMail.message_id)))


def on_server(rt: Runtime, server: SmtpServer) -> Runtime:
    mail = dataclasses.replace(
        rt.settings.mail,
        backend="smtp",
        smtp_host=server.host,
        smtp_port=server.port,
        smtp_timeout=10,
    )
    return dataclasses.replace(rt, settings=rt.settings.replace(mail=mail))


def wait_until(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} in {timeout} s"
        time.sleep(0.005)


@pytest.mark.parametrize("relays", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_racing_relays_deliver_each_mail_once(committed_runtime, relays):
    rt = committed_runtime
    message_ids = queue(rt, MAILS)
    later = (utcnow() + dt.timedelta(days=3)).isoformat(timespec="seconds")
    with running_server(delay=DELAY) as server:
        env = cli_env(rt, **server.env())
        processes = [
            start_kflow(env, "remind", "--now", later)
            if kind == "later"
            else start_kflow(env, "remind")
            for kind in relays
            if kind != "thread"
        ]
        results: list[RelayResult] = []
        errors: list[BaseException] = []

        def in_thread() -> None:
            try:
                results.append(relay(on_server(rt, server)))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=in_thread) for kind in relays if kind == "thread"]
        try:
            if processes:  # a process takes a moment to start: the threads join once it relays
                wait_until(
                    lambda: server.messages or any(p.poll() is not None for p in processes),
                    "mail",
                )
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            outputs = [p.communicate(timeout=120) for p in processes]
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
        received = collections.Counter(m.message_id for m in server.messages)
    assert not errors, errors
    assert [p.returncode for p in processes] == [0] * len(processes), outputs
    sent = [int(SENT.search(out).group(1)) for out, _ in outputs] + [r.sent for r in results]
    twice = [n for n in received.values() if n > 1]
    assert not twice, (
        f"{sum(received.values())} deliveries of {len(received)} distinct mails "
        f"({len(message_ids)} queued): {len(twice)} arrived more than once, one {max(twice)} times"
    )
    assert received == collections.Counter(message_ids)  # each mail once
    assert sum(sent) == MAILS, sent  # each row recorded as sent by one relay
    assert sum(1 for n in sent if n > 0) >= 2, f"the relays did not overlap: {sent}"
    with rt.transaction(write=False) as s:
        rows = s.execute(
            select(OutboxMail.status, OutboxMail.attempts, OutboxMail.claimed_by)
        ).all()
    assert set(rows) == {("sent", 1, None)}


class Recording:
    """A transport that keeps what it sends, and can run something in the middle of a send."""

    def __init__(self, during=None) -> None:
        self.sent: list[str] = []
        self.during = during

    def send(self, message) -> None:
        self.sent.append(str(message["Message-ID"]))
        if self.during is not None:
            during, self.during = self.during, None
            during()


def expire_claims(rt: Runtime) -> None:
    """Claims as old as a lease and a second: as if the relay holding them hung that long."""
    with rt.transaction() as s:
        s.execute(
            update(OutboxMail)
            .where(OutboxMail.status == "sending")
            .values(claimed_at=utcnow() - outbox.lease(rt.settings) - dt.timedelta(seconds=1))
        )


def test_a_relay_that_lost_its_claim_mid_send_records_nothing(committed_runtime, caplog):
    """The first relay's send outlasts its lease; a second relay takes the row over, sends it
    and records it. The first one's outcome is then not recorded (and not counted)."""
    rt = committed_runtime
    (message_id,) = queue(rt, 1)
    second = Recording()
    results: list[RelayResult] = []

    def hang_past_the_lease() -> None:
        expire_claims(rt)
        results.append(relay(rt, transport=second))

    first = Recording(during=hang_past_the_lease)
    with caplog.at_level(logging.WARNING, logger=outbox.__name__):
        result = relay(rt, transport=first)
    assert first.sent == second.sent == [message_id]  # the window the lease exists to close
    assert (results[0].sent, result.sent, result.retried, result.failed) == (1, 0, 0, 0)
    assert "claim" in caplog.text and "not recorded" in caplog.text
    with rt.transaction(write=False) as s:
        row = s.execute(select(OutboxMail)).scalar_one()
        assert (row.status, row.attempts, row.claimed_by) == ("sent", 1, None)


def test_a_relay_sends_nothing_once_its_claim_was_taken_over(committed_runtime, caplog):
    """A claim taken over between the claim and the send: the row is not sent by the relay
    that lost it."""
    rt = committed_runtime
    (message_id,) = queue(rt, 1)
    with rt.transaction() as s:
        s.execute(
            update(OutboxMail).values(status="sending", claimed_by="another", claimed_at=utcnow())
        )
        row_id = s.scalars(select(OutboxMail.id)).one()
    transport = Recording()
    result = RelayResult()
    with caplog.at_level(logging.WARNING, logger=outbox.__name__):
        outbox._deliver(rt, transport, row_id, "mine-no-longer", result)
    assert transport.sent == [] and result == RelayResult()
    assert "claim" in caplog.text
    with rt.transaction(write=False) as s:
        row = s.execute(select(OutboxMail)).scalar_one()
        assert (row.status, row.attempts, row.claimed_by) == ("sending", 0, "another")
    assert message_id == row.message_id


def test_the_lease_outlasts_any_smtp_send(settings):
    """smtplib's timeout bounds each wait of a send, not the send: the lease is many of them,
    and never under five minutes."""
    mail = settings.mail
    assert outbox.lease(settings) >= dt.timedelta(minutes=5)
    slow = settings.replace(mail=dataclasses.replace(mail, smtp_timeout=120))
    assert outbox.lease(slow) >= dt.timedelta(seconds=120 * 14)
