"""What every contender does for one click, and the triggers they all fire.

A click is one persisted transition in its own transaction, as a person's click in the web
interface would be: the client knows the case id, the trigger and the ``lock_version`` it last
read; the server moves the case (an UPDATE guarded by state and version) and appends one history
row, then commits. Each contender does this in its own framework's natural way.

The cycle: a regional adaptation in ``assessing`` is put on hold (a comment is required) and
resumed, for ever. Clicks go round robin over many adaptations, each moved by its region's
coordinator.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

CASE_TYPE = "regional_adaptation"
NEXT = {"assessing": ("put_on_hold", "on_hold"), "on_hold": ("resume", "assessing")}
COMMENT = "Väntar på underlag från verksamheten."


def move(state: str) -> tuple[str, str, str | None]:
    """(trigger, new state, comment) for a case in ``state``."""
    trigger, dest = NEXT[state]
    return trigger, dest, COMMENT if trigger == "put_on_hold" else None


def history_time() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sqlite_time(moment: dt.datetime) -> str:
    """A UTC datetime as kflow (SQLAlchemy's DateTime) stores it in SQLite."""
    return (
        moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    )


class Conflict(Exception):
    """The case was not at the state and version the click expected."""


class Contender(Protocol):
    def click(self, case: dict[str, Any]) -> int:
        """Fire the case's next trigger; return its new lock_version."""

    def pragmas(self) -> dict[str, str]:
        """The SQLite journal mode and synchronous level its connection uses ({} elsewhere)."""

    def observed(self, case_ids: list[int]) -> dict[str, Any]:
        """What the database holds afterwards: {case id: [state, version]} and history rows."""

    def close(self) -> None: ...
