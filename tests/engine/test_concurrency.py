"""Conflicting triggers through the API under the production server, on SQLite and PostgreSQL.

``kflow serve`` (gunicorn, 4 workers) on a committed database; 16 client threads fire at the
same cases at the same moment (a barrier per round): put_on_hold/resume races on regional
adaptations (some with the lock_version read just before), three coordinators handing off the
same adaptation to the same units, a local unit's lead and member acknowledging while the region
waives, and a knowledge support's publish (fanning out 21 adaptations) racing its cancel.

Afterwards the database must show: every case's history one unbroken chain whose replay gives
its state, as many rows as its lock_version; as many new history rows as 200 answers, case by
case; every other answer 409 (conflict or invalid_transition), never 5xx (and on SQLite never
503: writers queue for the lock, and a busy database is retried); fan-out once; no mail twice.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import json
import random
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from kflow.accounts import tokens as api_tokens
from kflow.cases.events import CaseEvent
from kflow.cases.models import Case
from kflow.mailing.models import OutboxMail
from kflow.org import users as org_users
from tests.support.oracle import check_chains
from tests.support.processes import cli_env, committed_world
from tests.support.served import Answer, Served, serving
from tests.support.timeline import adaptation_at, at, published_ks

pytestmark = pytest.mark.slow
CLIENTS = 16
WORKERS = 4
COLLECTION = {
    "knowledge_support": "knowledge-supports",
    "regional_adaptation": "regional-adaptations",
    "local_implementation": "local-implementations",
}
EXTRA_USERS = [
    ("vgr-coordinator2", "coordinator", "vgr"),
    ("npo-chair2", "chair", "npo-psykisk-halsa"),
    ("local2-member", "member", "vgr-psyk-2"),
]
HANDOFF_UNITS = ["vgr-psyk-1", "vgr-psyk-2"]
HANDOFF_BY = ("vgr-coordinator", "vgr-coordinator2", "vgr-lead")
HANDOFF_RECIPIENTS = {"local-lead", "local-member", "local2-lead", "local2-member"}


@dataclasses.dataclass
class Shot:
    """One request of a round."""

    case_id: int
    case_type: str
    who: str
    trigger: str | None  # None: a read (the case's history)
    body: dict[str, Any] = dataclasses.field(default_factory=dict)
    pin_version: bool = False  # send the lock_version read just before the round
    answer: Answer | None = None


@dataclasses.dataclass
class Scenario:
    hold: list[tuple[int, str, str]]  # (adaptation, coordinator, process lead)
    handoff: list[int]  # adaptations in adopted
    acknowledge: list[tuple[int, str, str]]  # (local implementation, lead, member)
    publish: list[int]  # knowledge supports awaiting approval
    tokens: dict[str, str]
    last_event: int


def build(rt: Any) -> Scenario:
    now = at("2026-03-02")
    with committed_world(rt) as world:
        s = world.session
        for name, role, unit in EXTRA_USERS:
            user = org_users.create_user(s, f"{name}@test.se", name)
            s.flush()
            org_users.grant(s, user, role, world.units[unit])
            world.users[name] = user
        s.flush()
        hold = []
        for _ in range(2):
            ks = published_ks(world, now)
            hold.append(
                (adaptation_at(world, ks, "assessing", now).id, "vgr-coordinator", "vgr-lead")
            )
            skane = world.adaptation(ks, "skane")
            world.fire(skane, "start_assessment", "skane-coordinator", now=now)
            hold.append((skane.id, "skane-coordinator", "skane-lead"))
        handoff = [
            adaptation_at(world, published_ks(world, now), "adopted", now).id for _ in range(8)
        ]
        acknowledge = []
        for _ in range(3):
            ra = adaptation_at(world, published_ks(world, now), "implementing", now)
            acknowledge.append(
                (world.implementation(ra, "vgr-psyk-1").id, "local-lead", "local-member")
            )
            acknowledge.append(
                (world.implementation(ra, "vgr-psyk-2").id, "local2-lead", "local2-member")
            )
        publish = [world.ks_in("awaiting_approval").id for _ in range(6)]
        tokens = {
            name: api_tokens.create_token(s, user, "concurrency")[1]
            for name, user in world.users.items()
        }
        s.flush()
        last_event = s.scalar(select(func.max(CaseEvent.id))) or 0
    return Scenario(hold, handoff, acknowledge, publish, tokens, last_event)


def pack(groups: list[list[Shot]]) -> list[list[Shot]]:
    """Rounds of at most CLIENTS requests, never splitting a group (the requests that race)."""
    out: list[list[Shot]] = [[]]
    for group in groups:
        if len(out[-1]) + len(group) > CLIENTS:
            out.append([])
        out[-1].extend(group)
    return [shots for shots in out if shots]


def rounds(sc: Scenario, rng: random.Random) -> list[list[Shot]]:
    ra, li, ks = "regional_adaptation", "local_implementation", "knowledge_support"
    out: list[list[Shot]] = []
    hold = {"comment": "Inväntar nationellt besked"}
    for _ in range(6):  # hold and resume, back and forth; two of each three send the version
        groups = [
            [
                Shot(case_id, ra, coordinator, "put_on_hold", hold, pin_version=True),
                Shot(case_id, ra, lead, "resume", pin_version=True),
                Shot(
                    case_id,
                    ra,
                    rng.choice([coordinator, lead]),
                    rng.choice(["put_on_hold", "resume"]),
                    hold,
                ),
            ]
            for case_id, coordinator, lead in sc.hold
        ]
        groups.append(
            [Shot(case_id, ra, "vgr-viewer", None) for case_id, who, _ in sc.hold if "vgr" in who]
        )
        out += pack(groups)
    handoff = {"params": {"units": HANDOFF_UNITS, "due": "2027-06-30"}}
    out += pack(
        [
            [Shot(case_id, ra, who, "hand_off", handoff) for who in HANDOFF_BY]
            for case_id in sc.handoff
        ]
    )
    waive = {"comment": "Ej aktuellt här"}
    out += pack(
        [
            [
                Shot(case_id, li, lead, "acknowledge"),
                Shot(case_id, li, member, "acknowledge"),
                Shot(case_id, li, "vgr-lead", "waive", waive),
            ]
            for case_id, lead, member in sc.acknowledge
        ]
    )
    publish = {"params": {"decision_ref": "NPO-2026-7"}}
    cancel = {"comment": "Ersätts av ett annat stöd"}
    out += pack(
        [
            [
                Shot(case_id, ks, "npo-chair", "publish", publish),
                Shot(case_id, ks, "npo-chair2", "cancel", cancel),
                Shot(case_id, ks, "npo-chair2", "publish", publish),
            ]
            for case_id in sc.publish
        ]
    )
    return out


def lock_versions(rt: Any, ids: set[int]) -> dict[int, int]:
    with rt.engine.connect() as conn:
        rows = conn.execute(select(Case.id, Case.lock_version).where(Case.id.in_(ids)))
        return {case_id: version for case_id, version in rows}


def fire_rounds(rt: Any, served: Served, sc: Scenario, plan: list[list[Shot]]) -> None:
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        for shots in plan:
            pinned = {shot.case_id for shot in shots if shot.pin_version}
            versions = lock_versions(rt, pinned) if pinned else {}
            barrier = threading.Barrier(len(shots))

            def send(
                shot: Shot,
                barrier: threading.Barrier = barrier,
                versions: dict[int, int] = versions,
            ) -> None:
                path = f"/api/v1/{COLLECTION[shot.case_type]}/{shot.case_id}"
                token = sc.tokens[shot.who]
                body: dict[str, Any] | None = None
                if shot.trigger is not None:
                    body = {"trigger": shot.trigger, **shot.body}
                    if shot.pin_version:
                        body["lock_version"] = versions[shot.case_id]
                barrier.wait(timeout=60)
                if body is None:
                    shot.answer = served.call("GET", f"{path}/history", token)
                else:
                    shot.answer = served.call("POST", f"{path}/transitions", token, body)

            for future in [pool.submit(send, shot) for shot in shots]:
                future.result()


@pytest.mark.parametrize("seed", [20261122])
def test_conflicting_triggers_under_gunicorn(committed_runtime, tmp_path, seed):
    rt = committed_runtime
    sc = build(rt)
    plan = rounds(sc, random.Random(seed))  # noqa: S311 (a repeatable mix, not a secret)
    with serving(cli_env(rt), tmp_path / "serve.log", workers=WORKERS) as served:
        fire_rounds(rt, served, sc, plan)
    log = served.log()
    shots = [shot for shots in plan for shot in shots]
    answers = [(shot, shot.answer) for shot in shots]
    assert all(answer is not None for _, answer in answers)
    failed = [(s.trigger, a.status, a.body) for s, a in answers if a and a.status >= 500]
    assert not failed, f"5xx answers: {failed[:5]}\n{log[-3000:]}"
    assert "Traceback" not in log, log[-3000:]
    reads = [a for s, a in answers if s.trigger is None]
    assert reads and all(a is not None and a.status == 200 for a in reads)
    writes = [(s, a) for s, a in answers if s.trigger is not None and a is not None]
    others = collections.Counter((a.status, a.code) for _, a in writes if a.status != 200)
    assert set(others) <= {(409, "conflict"), (409, "invalid_transition")}, others
    wins = collections.Counter(s.case_id for s, a in writes if a.status == 200)
    assert sum(wins.values()) > len({s.case_id for s, _ in writes})  # real races, real moves
    assert others[(409, "invalid_transition")] > 0

    events = check_chains(rt)
    new = {
        case_id: [e for e in chain if e.id > sc.last_event and e.actor != "system"]
        for case_id, chain in events.items()
    }
    moves = {  # the moves requests made (a cascade's rows name their cause)
        case_id: [e for e in chain if e.trigger != "create" and "cause" not in (e.params or {})]
        for case_id, chain in new.items()
    }
    touched = {s.case_id for s, _ in writes}
    for case_id in touched:  # one new history row per 200, case by case
        assert len(moves[case_id]) == wins[case_id], (case_id, moves[case_id], wins[case_id])
    assert not [c for c, rows in moves.items() if rows and c not in touched]
    # Pinned versions: of the requests that sent the same version, at most one won.
    pinned = collections.Counter(
        (shot.case_id, number)
        for number, shots in enumerate(plan)
        for shot in shots
        if shot.pin_version and shot.answer is not None and shot.answer.status == 200
    )
    assert pinned and max(pinned.values()) == 1

    with rt.transaction(write=False) as s:
        # Hand-off: one winner per adaptation, one implementation per unit, one mail each.
        for ra_id in sc.handoff:
            assert wins[ra_id] == 1
            children = list(s.scalars(select(Case).where(Case.parent_id == ra_id)))
            assert sorted(c.owner.code for c in children) == HANDOFF_UNITS
            assert all(len(events[c.id]) == 1 for c in children)  # just created
            keys = list(
                s.scalars(
                    select(OutboxMail.to_addr).where(
                        OutboxMail.idempotency_key.like(f"handoff:{ra_id}.v%")
                    )
                )
            )
            assert sorted(keys) == sorted(f"{n}@test.se" for n in HANDOFF_RECIPIENTS)
        # Publish or cancel: one winner; 21 adaptations if publish won, none if cancel did.
        outcomes = collections.Counter()
        for ks_id in sc.publish:
            assert wins[ks_id] == 1
            ks = s.get(Case, ks_id)
            assert ks is not None
            outcomes[ks.state] += 1
            adaptations = s.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.knowledge_support_id == ks_id, Case.type == "regional_adaptation")
            )
            assert adaptations == (21 if ks.state == "published" else 0), (ks.state, adaptations)
            mails = s.scalars(
                select(OutboxMail.idempotency_key).where(
                    OutboxMail.idempotency_key.like(f"handoff:{ks_id}.v{ks.lock_version}:%")
                )
            ).all()
            assert bool(mails) == (ks.state == "published")  # mail for the fan-out only
        assert set(outcomes) <= {"published", "cancelled"}
        # Acknowledge races: one acknowledgement at most, whoever won.
        for li_id, _, _ in sc.acknowledge:
            acks = [e for e in moves[li_id] if e.trigger == "acknowledge"]
            assert len(acks) <= 1 and 1 <= wins[li_id] <= 2
        # No mail twice: one row per key, and no two rows saying the same to the same person.
        mails = s.execute(
            select(
                OutboxMail.idempotency_key,
                OutboxMail.to_addr,
                OutboxMail.template,
                OutboxMail.context,
                OutboxMail.body_text,
            )
        ).all()
        assert len({key for key, *_ in mails}) == len(mails)
        said = {
            (to, template, json.dumps(context, sort_keys=True), text)
            for _, to, template, context, text in mails
        }
        assert len(said) == len(mails)
    print(f"answers: {collections.Counter(a.status for _, a in writes)}; {dict(others)}")
    print(f"retries logged by the server: {log.count('transient database error')}")
