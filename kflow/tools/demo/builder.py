"""The builder every demo story goes through: the demo's units and users, who acts as whom,
the days counted back from today, and every move made with kflow.engine.fire as the user whose
role allows it (or as ``system`` for automatic triggers), so the history is real."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.calendar import STOCKHOLM, local_date, previous_working_day
from kflow.cases.models import Case
from kflow.config import Settings
from kflow.engine.authority import SYSTEM, Actor, Authority
from kflow.engine.fire import Fired, fire
from kflow.org import units as org_units
from kflow.org import users as org_users
from kflow.org.models import Unit, User
from kflow.tools.demo.people import DOMAIN, USERS
from kflow.tools.demo.units import UNITS


class Builder:
    def __init__(self, session: Session, settings: Settings, now: dt.datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        self.session = session
        self.settings = settings
        self.now = now
        self.today = local_date(now)
        self.units: dict[str, Unit] = {}
        self.users: dict[str, User] = {}
        self._authorities: dict[str, Authority] = {}
        self._numbers: Iterator[int] = itertools.count(101)
        self._counts: Iterator[int] = itertools.count()

    # --- organisation ----------------------------------------------------------------------
    def organisation(self, password: str) -> None:
        session = self.session
        self.units = {u.code: u for u in session.scalars(select(Unit))}
        for code, name, kind, parent in UNITS:
            if code not in self.units:
                self.units[code] = org_units.create_unit(
                    session, code, name, kind, self.units[parent]
                )
        # One hash for the shared password: scrypt is slow by design, and 38 hashes of the
        # same password would take seconds. Every user can still log in with it.
        password_hash: str | None = None
        for login, name, _ in USERS:
            user = org_users.create_user(session, f"{login}@{DOMAIN}", name)
            if password_hash is None:
                org_users.set_password(user, password)
                password_hash = user.password_hash
            else:
                user.password_hash = password_hash
            self.users[login] = user
        session.flush()  # user ids for the memberships
        for login, _, grants in USERS:
            for role, unit_code in grants:
                org_users.grant(session, self.users[login], role, self.units[unit_code])
        session.flush()  # make the memberships visible to Authority

    def authority(self, who: str) -> Authority:
        if who not in self._authorities:
            actor = SYSTEM if who == "system" else Actor(self.users[who])
            self._authorities[who] = Authority(self.session, actor)
        return self._authorities[who]

    # --- time ------------------------------------------------------------------------------
    def day(self, days_ago: int) -> dt.date:
        """The working day on or before ``days_ago`` days before today."""
        assert days_ago >= 1, "demo events lie in the past"
        return previous_working_day(self.today - dt.timedelta(days=days_ago))

    def days_ago(self, day: dt.date) -> int:
        return (self.today - day).days

    def at(self, days_ago: int, case: Case | None = None) -> dt.datetime:
        """09:00 Stockholm time on that day, and after the case's last change."""
        moment = dt.datetime.combine(self.day(days_ago), dt.time(9), STOCKHOLM).astimezone(dt.UTC)
        if case is not None and case.updated_at >= moment:
            moment = case.updated_at + dt.timedelta(minutes=7)
        assert moment < self.now, (days_ago, case)
        return moment

    # --- what varies, the same way every time ----------------------------------------------
    def number(self) -> int:
        """The next decision number."""
        return next(self._numbers)

    def count(self) -> int:
        """The next of a running count that picks texts and varies measured values."""
        return next(self._counts)

    def text(self, choices: Sequence[str]) -> str:
        return choices[self.count() % len(choices)]

    # --- firing ----------------------------------------------------------------------------
    def fire(
        self,
        case: Case,
        trigger: str,
        who: str,
        days_ago: int,
        comment: str | None = None,
        override: bool = False,
        **params: Any,
    ) -> Fired:
        return fire(
            self.session,
            self.authority(who),
            case,
            trigger,
            settings=self.settings,
            comment=comment,
            params=params or None,
            override=override,
            now=self.at(days_ago, case),
        )

    def child(self, case_type: str, ks: Case, owner: str, parent: Case | None = None) -> Case:
        """The newest ``case_type`` case of ``ks`` owned by ``owner`` (under ``parent``)."""
        stmt = select(Case).where(
            Case.type == case_type,
            Case.knowledge_support_id == ks.id,
            Case.owner_id == self.units[owner].id,
        )
        if parent is not None:
            stmt = stmt.where(Case.parent_id == parent.id)
        found = self.session.scalars(stmt.order_by(Case.id.desc())).first()
        assert found is not None, (case_type, ks.id, owner)
        return found
