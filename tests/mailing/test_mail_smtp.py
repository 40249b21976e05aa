"""Mail over a real SMTP server (aiosmtpd on 127.0.0.1), the file backend, retries and the CLI.

The relay takes ``now``: tests step time past the back-off instead of sleeping.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import re
import sqlite3

import sqlalchemy

from kflow.config import load_settings
from kflow.db import utcnow
from kflow.jobs.digests import build_digests
from kflow.jobs.relay import relay
from kflow.jobs.sweep import sweep
from kflow.mailing.messages import message_id_for
from kflow.mailing.models import OutboxMail
from kflow.mailing.outbox import Mail, enqueue, lease
from tests.support.processes import cli_env, committed_world, kflow
from tests.support.smtp import free_port, running_server
from tests.support.timeline import at, handed_off, outbox

LI_SUBJECT = "Nytt ärende: Lokalt införande – Depression hos vuxna"
SECOND = dt.timedelta(seconds=1)


def with_mail(runtime, **mail):
    """``runtime`` with some mail settings changed."""
    settings = runtime.settings.replace(mail=dataclasses.replace(runtime.settings.mail, **mail))
    return dataclasses.replace(runtime, settings=settings)


def on_port(runtime, port, **mail):
    return with_mail(runtime, backend="smtp", smtp_host="127.0.0.1", smtp_port=port, **mail)


def test_handoff_mail_arrives_in_swedish_with_a_deep_link(runtime, world, session):
    _, li, _ = handed_off(world, at("2026-03-02"))
    pending = outbox(session)
    with running_server() as server:
        result = relay(on_port(runtime, server.port))
        assert (result.sent, result.retried, result.failed) == (len(pending), 0, 0)
        received = server.wait_for(len(pending))
    assert sorted(m.to for m in received) == sorted(row.to_addr for row in pending)
    mail = next(m for m in received if m.to == "local-lead@test.se")
    row = next(r for r in pending if r.to_addr == "local-lead@test.se" and li.id in _links(r))
    assert mail.subject == LI_SUBJECT
    assert str(mail.message["From"]) == "kflow <kflow@localhost>"
    assert str(mail.message["To"]) == "local-lead@test.se"
    assert mail.mail_from == "kflow@localhost"
    assert str(mail.message["Auto-Submitted"]) == "auto-generated"
    # A stable Message-ID: derived from the idempotency key, stored with the row.
    assert (
        mail.message_id == row.message_id == message_id_for(row.idempotency_key, runtime.settings)
    )
    assert re.fullmatch(r"<[0-9a-f]{32}@localhost>", mail.message_id)
    # Headers travel as 7-bit (RFC 2047 encoded words); the bodies are UTF-8.
    head = mail.raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")
    assert b"=?utf-8?" in head.lower()
    assert mail.message.get_content_type() == "multipart/alternative"
    text, html = mail.text(), mail.html()
    link = f"http://127.0.0.1:5000/arenden/{li.id}"
    assert link in text.splitlines()[-8:] or link in text
    assert "Kvittera överlämningen i kflow" in text
    assert "Psykiatri Göteborg, kvittera senast 2026-03-16" in text
    assert f'<a href="{link}">Lokalt införande: Depression hos vuxna</a>' in html
    for part in mail.message.iter_parts():
        assert part.get_content_charset() == "utf-8"
    # Recorded as sent; a second relay sends nothing.
    session.expire_all()
    assert {(r.status, r.attempts) for r in outbox(session)} == {("sent", 1)}
    assert all(r.sent_at is not None and r.last_error is None for r in outbox(session))
    with running_server(server.port) as again:
        assert relay(on_port(runtime, again.port)).sent == 0
        assert again.messages == []


def _links(row):
    return [int(m) for m in re.findall(r"/arenden/(\d+)", row.body_text)]


def test_digests_and_deviations_over_smtp(runtime, world, session):
    _, li, li2 = handed_off(world, at("2026-03-02"))
    world.fire(li2, "acknowledge", "local2-lead", now=at("2026-03-03"))
    world.fire(li2, "start_implementation", "local2-lead", now=at("2026-03-03"))
    world.fire(
        li2,
        "report_deviation",
        "local2-lead",
        comment="Personalbrist på avdelning Å",
        now=at("2026-03-04"),
    )
    sweep(runtime, at("2026-03-23", 7))
    build_digests(runtime, at("2026-03-23", 7))
    with running_server() as server:
        rt = on_port(runtime, server.port)
        relay(rt)
        received = server.messages
    # (vgr-lead also had hand-offs: the new adaptation and consultation response.)
    to_lead = [m for m in received if m.to == "vgr-lead@test.se" and "Nytt" not in m.subject]
    by_subject = {m.subject: m for m in to_lead}
    assert set(by_subject) == {
        "Avvikelse rapporterad: Depression hos vuxna (Psykiatri Skaraborg)",
        "Påminnelse: Försenat – Depression hos vuxna",
    }
    deviation = by_subject["Avvikelse rapporterad: Depression hos vuxna (Psykiatri Skaraborg)"]
    assert "Personalbrist på avdelning Å" in deviation.text()
    assert deviation.links() == [li2.id]
    digest = by_subject["Påminnelse: Försenat – Depression hos vuxna"]
    assert digest.items() == [("overdue", li.id)]
    assert "Förfallodag: 2026-03-16" in digest.text()
    assert f'href="http://127.0.0.1:5000/arenden/{li.id}"' in digest.html()
    local = [m for m in received if m.to == "local-lead@test.se" and m.subject.startswith("Påm")]
    assert [m.items() for m in local] == [[("overdue", li.id)]]


def test_smtp_down_then_back_delivers_everything_once(runtime, world, session):
    handed_off(world, at("2026-03-02"))
    rows = outbox(session)
    port = free_port()  # nothing listens here yet
    rt = on_port(runtime, port, retry_base_seconds=60, max_attempts=8)
    start = utcnow()
    result = relay(rt, now=start)
    assert (result.sent, result.retried, result.failed) == (0, len(rows), 0)
    session.expire_all()
    for row in outbox(session):
        assert (row.status, row.attempts) == ("pending", 1)
        assert "ConnectionRefusedError" in row.last_error
        delay = row.next_attempt_at - start
        assert dt.timedelta(seconds=60) <= delay < dt.timedelta(seconds=90), delay
    assert relay(rt, now=utcnow() + dt.timedelta(seconds=30)).retried == 0  # backing off
    second = utcnow()
    assert relay(rt, now=second + dt.timedelta(seconds=61)).retried == len(rows)
    for row in outbox(session):
        assert row.attempts == 2
        delay = row.next_attempt_at - second
        assert dt.timedelta(seconds=120) <= delay < dt.timedelta(seconds=150), delay  # doubled
    with running_server(port) as server:
        assert relay(rt, now=utcnow() + dt.timedelta(seconds=100)).sent == 0
        result = relay(rt, now=utcnow() + dt.timedelta(seconds=125))
        assert (result.sent, result.retried) == (len(rows), 0)
        assert relay(rt, now=utcnow() + dt.timedelta(hours=5)).sent == 0
        received = server.wait_for(len(rows))
    assert sorted(m.message_id for m in received) == sorted(r.message_id for r in rows)
    assert len({m.message_id for m in received}) == len(rows)  # nothing doubled
    assert {(r.status, r.attempts, r.last_error) for r in outbox(session)} == {("sent", 3, None)}


def test_a_claim_left_by_a_dead_relay_is_taken_over_after_the_lease(runtime, world, session):
    handed_off(world, at("2026-03-02"))
    stuck = session.get(OutboxMail, outbox(session)[0].id)
    assert stuck is not None
    stuck.status, stuck.claimed_by, stuck.claimed_at = "sending", "dead-relay", utcnow()
    session.flush()
    with running_server() as server:
        rt = on_port(runtime, server.port)
        others = relay(rt).sent
        assert others == len(outbox(session)) - 1
        assert stuck.message_id not in {m.message_id for m in server.messages}
        # The lease goes by the real clock: a relay run for a later moment does not shorten it.
        assert relay(rt, now=utcnow() + lease(rt.settings) + SECOND).sent == 0
        age_claims(session, lease(rt.settings) - dt.timedelta(minutes=1))
        assert relay(rt).sent == 0
        age_claims(session, dt.timedelta(minutes=1) + SECOND)  # now older than the lease
        assert relay(rt).sent == 1
        assert [m.message_id for m in server.messages].count(stuck.message_id) == 1


def age_claims(session, by):
    """Claims made ``by`` earlier: as if that much real time had passed."""
    claimed = sqlalchemy.select(OutboxMail).where(OutboxMail.claimed_at.is_not(None))
    for row in session.scalars(claimed.execution_options(populate_existing=True)):
        row.claimed_at -= by
    session.flush()


def test_one_outbox_row_per_idempotency_key(runtime, session):
    item = {"url": "http://127.0.0.1:5000/arenden/1", "title": "Kol", "unit": "Vårdcentral Ö"}
    context = {"name": "Åke", "actor": "Örjan", "comment": "Saknas", "item": item}
    mail = Mail("test:ärende-1", "någon@test.se", "deviation", context)
    assert enqueue(session, runtime.settings, [mail]) == 1
    assert enqueue(session, runtime.settings, [mail, dataclasses.replace(mail, key="test:2")]) == 1
    rows = outbox(session, OutboxMail.idempotency_key.like("test:%"))
    assert [r.idempotency_key for r in rows] == ["test:ärende-1", "test:2"]
    assert rows[0].message_id != rows[1].message_id
    assert rows[0].message_id == message_id_for("test:ärende-1", runtime.settings)
    other_domain = runtime.settings.replace(
        mail=dataclasses.replace(runtime.settings.mail, from_="Kunskapsstöd <noreply@vgr.se>")
    )
    assert message_id_for("test:2", other_domain).endswith("@vgr.se>")


def test_file_backend_writes_eml_files(runtime, world, session, tmp_path):
    handed_off(world, at("2026-03-02"))
    rows = outbox(session)
    # The short environment names of the operations guide choose the backend and folder.
    environ = {"KFLOW_ENVIRONMENT": "development", "KFLOW_MAIL_BACKEND": "file"}
    environ["KFLOW_MAIL_DIR"] = str(tmp_path / "mail")
    mail = load_settings(environ=environ).mail
    assert (mail.backend, mail.dir) == ("file", str(tmp_path / "mail"))
    rt = dataclasses.replace(runtime, settings=runtime.settings.replace(mail=mail))
    assert relay(rt).sent == len(rows)
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == len(rows)
    assert not list((tmp_path / "mail").glob("*.tmp"))
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert sorted(str(m["Message-ID"]) for m in parsed) == sorted(r.message_id for r in rows)
    assert LI_SUBJECT in {str(m["Subject"]) for m in parsed}
    assert relay(rt, now=utcnow() + dt.timedelta(days=1)).sent == 0
    assert len(list((tmp_path / "mail").glob("*.eml"))) == len(rows)


def test_failed_mail_is_listed_and_requeued_by_the_cli(committed_runtime):
    rt = committed_runtime
    with committed_world(rt) as world:
        _, li, _ = handed_off(world, at("2026-03-02"))
    port = free_port()
    down = on_port(rt, port, max_attempts=3)
    moment = utcnow()
    with rt.transaction(write=False) as s:
        queued = len(outbox(s))
    for attempt in (1, 2, 3):
        result = relay(down, now=moment)
        expected = (0, queued, 0) if attempt < 3 else (0, 0, queued)  # the third one fails
        assert (result.sent, result.retried, result.failed) == expected
        moment = utcnow() + dt.timedelta(seconds=60 * 2**attempt)
    with rt.transaction(write=False) as s:
        rows = outbox(s)
        assert {(r.status, r.attempts) for r in rows} == {("failed", 3)}
        target = next(r for r in rows if r.to_addr == "local-lead@test.se" and li.id in _links(r))
    assert relay(down, now=utcnow() + dt.timedelta(days=30)).failed == 0  # failed stays failed
    env = cli_env(rt)
    listed = kflow(env, "outbox", "list", "--failed", "--limit", "500").stdout
    lines = {int(line.split()[0]): line for line in listed.splitlines()}
    assert set(lines) == {r.id for r in rows}
    assert "failed" in lines[target.id] and "local-lead@test.se" in lines[target.id]
    assert LI_SUBJECT in lines[target.id] and "ConnectionRefusedError" in lines[target.id]
    assert "queued again" in kflow(env, "outbox", "retry", str(target.id)).stdout
    relisted = kflow(env, "outbox", "list", "--failed", "--limit", "500").stdout
    assert str(target.id) not in {line.split()[0] for line in relisted.splitlines()}
    with running_server(port) as server:
        result = relay(on_port(rt, port))
        assert (result.sent, result.failed) == (1, 0)
        assert [(m.to, m.subject, m.message_id) for m in server.messages] == [
            ("local-lead@test.se", LI_SUBJECT, target.message_id)
        ]
    refused = kflow(env, "outbox", "retry", str(target.id), ok=False)
    assert refused.returncode == 1 and "redan skickat" in refused.stderr
    missing = kflow(env, "outbox", "retry", "999999", ok=False)
    assert missing.returncode == 1 and "not_found" in missing.stderr
    assert "No failed mail." not in kflow(env, "outbox", "list", "--failed").stdout


def test_remind_now_walks_the_ladder_once(committed_runtime):
    """Done when: a hand-off mails the local unit at once; `kflow remind --now` across the
    ladder sends each rung once to the local lead, then the region's process lead, then its
    chair; repeating a run sends nothing more."""
    rt = committed_runtime
    with committed_world(rt) as world:
        _, li, li2 = handed_off(world, at("2026-03-02"))
    with running_server() as server:
        env = cli_env(rt, **server.env())
        out = kflow(env, "remind", "--now", "2026-03-02T09:30").stdout
        handoffs = [m for m in server.messages if m.subject == LI_SUBJECT]
        assert sorted(m.to for m in handoffs) == [
            "local-lead@test.se",
            "local-member@test.se",
            "local2-lead@test.se",
        ]
        assert "0 reminder rungs" in out
        expected = {
            "2026-03-09": {"local-lead", "local-member", "local2-lead"},
            "2026-03-16": {"local-lead", "local-member", "local2-lead"},
            "2026-03-23": {"local-lead", "local-member", "local2-lead", "vgr-lead"},
            "2026-04-08": {"local-lead", "local-member", "local2-lead", "vgr-lead", "vgr-chair"},
        }
        rung_of = dict(zip(expected, ("upcoming", "due", "overdue", "escalated"), strict=True))
        seen: list[tuple[str, str, int]] = []
        for day, people in expected.items():
            server.clear()
            out = kflow(env, "remind", "--now", f"{day}T07:30").stdout
            assert "2 reminder rungs" in out, out
            got = server.messages
            assert {m.to.removesuffix("@test.se") for m in got} == people
            assert len(got) == len(people)  # one digest each
            for m in got:
                assert {rung for rung, _ in m.items()} == {rung_of[day]}
                seen += [(m.to, rung, case) for rung, case in m.items()]
            if day == "2026-03-23":  # the same day again, later: nothing more
                server.clear()
                again = kflow(env, "remind", "--now", f"{day}T16:00").stdout
                assert "0 reminder rungs" in again and "0 digests" in again, again
                assert "Outbox: 0 sent" in again
                assert server.messages == []
        assert len(seen) == len(set(seen))
        assert ("vgr-chair@test.se", "escalated", li.id) in seen
        assert ("vgr-chair@test.se", "escalated", li2.id) in seen
        assert not any(to == "vgr-chair@test.se" and rung != "escalated" for to, rung, _ in seen)


class _RecordingFailsOnce:
    """A runtime whose first write transaction after the server took a mail fails with a
    passing database error: the moment a relay records "sent". (Injected: the window between
    SMTP's answer and that COMMIT is too short to hit with a real outage.)"""

    def __init__(self, runtime, server) -> None:
        self.runtime, self.server, self.failed = runtime, server, False

    def __getattr__(self, name):
        return getattr(self.runtime, name)

    def transaction(self, write=True):
        if write and self.server.messages and not self.failed:
            self.failed = True
            raise sqlalchemy.exc.OperationalError(
                "COMMIT", {}, sqlite3.OperationalError("database is locked")
            )
        return self.runtime.transaction(write=write)


def test_a_passing_error_while_recording_a_sent_mail_does_not_send_it_again(
    runtime, world, session
):
    handed_off(world, at("2026-03-02"))
    rows = outbox(session)
    with running_server() as server:
        flaky = _RecordingFailsOnce(on_port(runtime, server.port), server)
        assert relay(flaky).sent == len(rows)
        assert flaky.failed
        age_claims(session, lease(runtime.settings) + SECOND)  # had it stayed claimed
        assert relay(on_port(runtime, server.port)).sent == 0
        received = server.wait_for(len(rows))
    assert sorted(m.message_id for m in received) == sorted(r.message_id for r in rows)
    assert {(r.status, r.attempts) for r in outbox(session)} == {("sent", 1)}
