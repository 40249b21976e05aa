"""Data sets for the query and sweep benchmarks, generated fast with bulk INSERTs (not fire()).

Every knowledge support looks like one that went the whole way through kflow: created by its
NPO's chair, commissioned, drafted, reviewed, sent on remiss (21 consultation responses, which
were submitted, declined or missed), published (21 regional adaptations, each assessed, adopted
and handed off) and handed to 290 local units whose implementations are spread over every
state. That is 333 cases per knowledge support, each with the history rows its state implies
(about 4 per case), with dates spread over the past three years so that some cases are overdue
and some are not.

``next_reminder_on`` is what it would be if the reminder sweep last ran a week ago
(``SWEPT_DAYS_AGO``): the day of each case's next rung that had not fired by then. So a sweep
now has a week of rungs to send, a share of the cases that grows with the data set, and a second
sweep right after it has none.

The rows go in through the stdlib sqlite3 module with executemany, in one transaction with
``synchronous=OFF``; the schema is kflow's own (its migrations built the template).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.org import OrgInfo
from kflow.engine.history import EVENT_COLUMNS

CASES_PER_KS = 1 + 21 + 21 + 290
CASE_COLUMNS = [
    "id",
    "type",
    "state",
    "lock_version",
    "owner_id",
    "assignee_id",
    "region_id",
    "knowledge_support_id",
    "parent_id",
    "due",
    "next_reminder_on",
    "created_at",
    "updated_at",
    "title",
    "kind",
    "description",
    "version",
    "published_version",
    "published_at",
    "next_review_due",
    "consultation_round",
    "consultation_channel",
    "consultation_deadline",
    "round",
    "position",
    "adapted_version",
    "decision_ref",
    "target_date",
]
KINDS = ("kliniskt_kunskapsstod", "vardprogram", "vardriktlinje", "rapport")
# Local implementations by state (the mix across every age of hand-off).
LI_MIX = (
    ("assigned", 0.08),
    ("acknowledged", 0.12),
    ("implementing", 0.30),
    ("implemented", 0.15),
    ("following_up", 0.18),
    ("deviation", 0.05),
    ("closed", 0.10),
    ("waived", 0.02),
)
LI_DONE = {"implemented", "following_up", "closed", "waived"}
SWEPT_DAYS_AGO = 7


def ks_count(target: int) -> int:
    return max(1, round(target / CASES_PER_KS))


class Generator:
    def __init__(self, conn: sqlite3.Connection, info: OrgInfo, settings: Any, now: dt.datetime):
        from kflow.calendar import add_business_days, local_date
        from kflow.mailing.ladder import rung_dates

        self.conn = conn
        self.info = info
        self.settings = settings
        self.now = now
        self.today = local_date(now)
        self.last_swept = self.today - dt.timedelta(days=SWEPT_DAYS_AGO)
        self.emails = dict(conn.execute("SELECT id, email FROM users").fetchall())
        self._rungs: dict[dt.date, list[dt.date]] = {}
        self._rung_dates: Callable[..., Any] = rung_dates
        self._add_bd = add_business_days
        self.cases: list[tuple[Any, ...]] = []
        self.events: list[tuple[Any, ...]] = []
        self.next_id = (conn.execute("SELECT coalesce(max(id), 0) FROM cases").fetchone()[0]) + 1

    # --- helpers -----------------------------------------------------------------------------

    def next_reminder(self, due: dt.date | None) -> str | None:
        """The day of the first rung of ``due`` that had not fired when the sweep last ran."""
        if due is None:
            return None
        days = self._rungs.get(due)
        if days is None:
            days = [day for _rung, day in self._rung_dates(due, self.settings)]
            self._rungs[due] = days
        return next((d.isoformat() for d in days if d > self.last_swept), None)

    def business_days(self, day: dt.date, count: int) -> dt.date:
        return self._add_bd(day, count)

    @staticmethod
    def stamp(moment: dt.datetime) -> str:
        return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

    def event(
        self,
        case_id: int,
        trigger: str,
        source: str | None,
        dest: str,
        user: int | None,
        role: str | None,
        at: dt.datetime,
        comment: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        actor = self.emails[user] if user is not None else "system"
        self.events.append(
            (
                case_id,
                trigger,
                source,
                dest,
                user,
                actor,
                role,
                0,
                self.stamp(at),
                comment,
                json.dumps(params) if params else None,
            )
        )

    def case(self, **values: Any) -> int:
        case_id = self.next_id
        self.next_id += 1
        values["id"] = case_id
        due = values.get("due")
        values["due"] = due.isoformat() if due else None
        values.setdefault("next_reminder_on", self.next_reminder(due))
        for key in ("created_at", "updated_at", "published_at"):
            if isinstance(values.get(key), dt.datetime):
                values[key] = self.stamp(values[key])
        for key in ("next_review_due", "consultation_deadline", "target_date"):
            if isinstance(values.get(key), dt.date):
                values[key] = values[key].isoformat()
        self.cases.append(tuple(values.get(c) for c in CASE_COLUMNS))
        return case_id

    # --- one knowledge support with everything below it ---------------------------------------

    def knowledge_support(self, number: int, count: int) -> None:
        rng = random.Random(number)
        span = 770 * (count - 1 - number) / max(count - 1, 1)
        created = self.now - dt.timedelta(days=330 + span, hours=rng.uniform(0, 8))

        def at(days: float) -> dt.datetime:
            return created + dt.timedelta(days=days)

        npo = self.info.npos[number % len(self.info.npos)]
        chair, lead = npo["chair"], npo["lead"]
        kind = KINDS[number % len(KINDS)]
        published = at(240)
        review_months = self.settings.deadlines.review_months
        next_review = _add_months(published.date(), review_months)
        ks = self.case(
            type="knowledge_support",
            state="published",
            lock_version=8,
            owner_id=npo["id"],
            due=next_review,
            created_at=created,
            updated_at=published,
            title=f"Kunskapsstöd {number + 1}: {kind.replace('_', ' ')}",
            kind=kind,
            description="Genererat för kflows prestandamätningar.",
            version=1,
            published_version=1,
            published_at=published,
            next_review_due=next_review,
            consultation_round=1,
            consultation_channel="remiss",
            consultation_deadline=at(190).date(),
        )
        path = [
            ("commission", "need_identified", "commissioned", chair, "chair", 10, None),
            ("start_drafting", "commissioned", "drafting", lead, "process_lead", 20, None),
            ("approve_for_review", "drafting", "review", chair, "chair", 120, None),
            (
                "open_consultation",
                "review",
                "consultation",
                chair,
                "chair",
                130,
                {"channel": "remiss", "deadline": at(190).date().isoformat()},
            ),
            ("close_consultation", "consultation", "revising", None, None, 195, None),
            (
                "submit_for_approval",
                "revising",
                "awaiting_approval",
                lead,
                "process_lead",
                230,
                None,
            ),
            (
                "publish",
                "awaiting_approval",
                "published",
                chair,
                "chair",
                240,
                {"decision_ref": f"NPO-{number}"},
            ),
        ]
        self.event(ks, "create", None, "need_identified", chair, "chair", created)
        for trigger, source, dest, user, role, day, params in path:
            self.event(ks, trigger, source, dest, user, role, at(day), params=params)

        ks_cause = {"cause": f"knowledge_support.{ks}"}
        for region in self.info.regions:
            self.consultation_response(rng, ks, region, at, chair, ks_cause)
        for region in self.info.regions:
            self.adaptation(rng, ks, region, at, chair, ks_cause)

    def consultation_response(
        self,
        rng: random.Random,
        ks: int,
        region: dict[str, Any],
        at: Callable[[float], dt.datetime],
        chair: int,
        cause: dict[str, Any],
    ) -> None:
        roll = rng.random()
        state = "submitted" if roll < 0.65 else "declined" if roll < 0.75 else "missed"
        coordinator = region["coordinator"]
        moves: list[tuple[Any, ...]] = []
        if state == "submitted":
            position = rng.choice(("supports", "supports_with_reservations", "opposes"))
            moves = [
                ("start_response", "requested", "drafting", coordinator, "coordinator", 140, None),
                (
                    "submit",
                    "drafting",
                    "submitted",
                    region["chair"],
                    "chair",
                    180,
                    {"position": position},
                ),
            ]
        elif state == "declined":
            moves = [("decline", "requested", "declined", coordinator, "coordinator", 150, None)]
        else:
            if rng.random() < 0.4:
                moves.append(
                    (
                        "start_response",
                        "requested",
                        "drafting",
                        coordinator,
                        "coordinator",
                        140,
                        None,
                    )
                )
            source = moves[-1][2] if moves else "requested"
            moves.append(("expire", source, "missed", None, None, 195, cause))
        case = self.case(
            type="consultation_response",
            state=state,
            lock_version=1 + len(moves),
            owner_id=region["id"],
            region_id=region["id"],
            knowledge_support_id=ks,
            due=None,
            created_at=at(130),
            updated_at=at(moves[-1][5]),
            round=1,
            position=moves[-1][6]["position"] if state == "submitted" else None,
        )
        self.event(case, "create", None, "requested", chair, "chair", at(130), params=cause)
        for trigger, source, dest, user, role, day, params in moves:
            self.event(case, trigger, source, dest, user, role, at(day), params=params)

    def adaptation(
        self,
        rng: random.Random,
        ks: int,
        region: dict[str, Any],
        at: Callable[[float], dt.datetime],
        chair: int,
        cause: dict[str, Any],
    ) -> None:
        coordinator, lead = region["coordinator"], region["lead"]
        units = self.info.handoff_units(region["code"])
        handed = at(320)
        target = handed.date() + dt.timedelta(days=365)
        # The implementations' states first: the adaptation's own state follows from them.
        states = [_pick(rng, LI_MIX) for _ in units]
        done = all(s in LI_DONE for s in states)
        final = "implementing"
        if done:
            final = "closed" if rng.random() < 0.5 else "following_up"
        age = (self.now - handed).total_seconds() / 86400
        moves = [
            (
                "start_assessment",
                "received",
                "assessing",
                coordinator,
                "coordinator",
                250,
                None,
                None,
            ),
            (
                "submit_for_decision",
                "assessing",
                "awaiting_decision",
                lead,
                "process_lead",
                280,
                "Konsekvensanalys klar.",
                None,
            ),
            (
                "adopt",
                "awaiting_decision",
                "adopted",
                region["chair"],
                "chair",
                300,
                None,
                {"decision_ref": f"RS-{ks}-{region['code']}"},
            ),
            (
                "hand_off",
                "adopted",
                "implementing",
                coordinator,
                "coordinator",
                320,
                None,
                {"units": sorted(units), "due": target.isoformat()},
            ),
        ]
        if final in ("following_up", "closed"):
            moves.append(
                (
                    "start_follow_up",
                    "implementing",
                    "following_up",
                    lead,
                    "process_lead",
                    320 + age * 0.92,
                    None,
                    None,
                )
            )
        if final == "closed":
            moves.append(
                (
                    "close",
                    "following_up",
                    "closed",
                    coordinator,
                    "coordinator",
                    320 + age * 0.96,
                    None,
                    None,
                )
            )
        ra = self.case(
            type="regional_adaptation",
            state=final,
            lock_version=1 + len(moves),
            owner_id=region["id"],
            region_id=region["id"],
            knowledge_support_id=ks,
            due=None,
            created_at=at(240),
            updated_at=at(moves[-1][5]),
            adapted_version=1,
            decision_ref=f"RS-{ks}-{region['code']}",
        )
        self.event(ra, "create", None, "received", chair, "chair", at(240), params=cause)
        for trigger, source, dest, user, role, day, comment, params in moves:
            self.event(ra, trigger, source, dest, user, role, at(day), comment, params)
        ra_cause = {"cause": f"regional_adaptation.{ra}"}
        for code, state in zip(units, states, strict=True):
            self.implementation(ks, ra, region, code, state, handed, age, target, ra_cause)

    def implementation(
        self,
        ks: int,
        ra: int,
        region: dict[str, Any],
        code: str,
        state: str,
        handed: dt.datetime,
        age: float,
        target: dt.date,
        cause: dict[str, Any],
    ) -> None:
        local = self.info.local_leads[code]
        lead = region["lead"]

        def after(fraction: float) -> dt.datetime:
            return handed + dt.timedelta(days=age * fraction)

        steps = {
            "acknowledge": ("assigned", "acknowledged", local, "local_lead", 0.05, None),
            "start_implementation": (
                "acknowledged",
                "implementing",
                local,
                "local_lead",
                0.1,
                None,
            ),
            "report_implemented": ("implementing", "implemented", local, "local_lead", 0.5, None),
            "start_follow_up": ("implemented", "following_up", local, "local_lead", 0.6, None),
            "close": ("following_up", "closed", lead, "process_lead", 0.9, None),
            "report_deviation": (
                "implementing",
                "deviation",
                local,
                "local_lead",
                0.4,
                "Bemanningen räcker inte för rutinen.",
            ),
            "waive": (
                "assigned",
                "waived",
                lead,
                "process_lead",
                0.05,
                "Enheten har inte den patientgruppen.",
            ),
        }
        path = {
            "assigned": [],
            "acknowledged": ["acknowledge"],
            "implementing": ["acknowledge", "start_implementation"],
            "implemented": ["acknowledge", "start_implementation", "report_implemented"],
            "following_up": [
                "acknowledge",
                "start_implementation",
                "report_implemented",
                "start_follow_up",
            ],
            "closed": [
                "acknowledge",
                "start_implementation",
                "report_implemented",
                "start_follow_up",
                "close",
            ],
            "deviation": ["acknowledge", "start_implementation", "report_deviation"],
            "waived": ["waive"],
        }[state]
        if state == "assigned":
            due: dt.date | None = self.business_days(
                handed.date(), self.settings.deadlines.implementation_acknowledge_business_days
            )
        elif state in ("acknowledged", "implementing", "deviation"):
            due = target
        elif state == "following_up":
            due = after(0.6).date() + dt.timedelta(
                days=self.settings.deadlines.follow_up_measurement_days
            )
        else:
            due = None
        last = after(steps[path[-1]][4]) if path else handed
        li = self.case(
            type="local_implementation",
            state=state,
            lock_version=1 + len(path),
            owner_id=self.info.units[code],
            region_id=region["id"],
            knowledge_support_id=ks,
            parent_id=ra,
            due=due,
            created_at=handed,
            updated_at=last,
            target_date=target,
        )
        self.event(
            li,
            "create",
            None,
            "assigned",
            region["coordinator"],
            "coordinator",
            handed,
            params=cause,
        )
        for trigger in path:
            source, dest, user, role, fraction, comment = steps[trigger]
            self.event(li, trigger, source, dest, user, role, after(fraction), comment)

    def flush(self) -> None:
        marks = ", ".join("?" * len(CASE_COLUMNS))
        self.conn.executemany(
            f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) VALUES ({marks})", self.cases
        )
        marks = ", ".join("?" * len(EVENT_COLUMNS))
        columns = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
        self.conn.executemany(f"INSERT INTO case_events ({columns}) VALUES ({marks})", self.events)
        self.cases.clear()
        self.events.clear()


def _pick(rng: random.Random, mix: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random()
    for value, share in mix:
        if roll < share:
            return value
        roll -= share
    return mix[-1][0]


def _add_months(day: dt.date, months: int) -> dt.date:
    from kflow.calendar import add_months

    return add_months(day, months)


def run(args: dict[str, Any]) -> dict[str, int]:
    """Worker entry: generate one data set (keeps the suite's own process small)."""
    from benchmarks.common import kflow_settings

    settings = kflow_settings("sqlite://", Path(args["tmp"]))
    now = dt.datetime.fromisoformat(args["now"])
    return generate(
        Path(args["path"]), OrgInfo.from_json(args["org"]), settings, args["target"], now
    )


def generate(
    path: Path, info: OrgInfo, settings: Any, target: int, now: dt.datetime
) -> dict[str, int]:
    """Fill ``path`` (a copy of the organisation template) with about ``target`` cases."""
    count = ks_count(target)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA cache_size=-200000")
        generator = Generator(conn, info, settings, now)
        conn.execute("BEGIN")
        for number in range(count):
            generator.knowledge_support(number, count)
            if len(generator.events) > 200_000:
                generator.flush()
        generator.flush()
        conn.execute("COMMIT")
        cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM case_events").fetchone()[0]
        due_today = conn.execute(
            "SELECT count(*) FROM cases WHERE next_reminder_on <= ?", (generator.today.isoformat(),)
        ).fetchone()[0]
        # After a bulk load, as `kflow db upgrade` and the scheduler's nightly job do it.
        conn.execute("PRAGMA analysis_limit=1000")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return {"knowledge_supports": count, "cases": cases, "events": events, "due_today": due_today}


if __name__ == "__main__":
    from benchmarks.common import worker_main

    worker_main(run)
