"""Swedish display text the pages share: short state labels, dates and times, message wording.

Full state, trigger, role and kind labels come from their declarations (kflow.states,
kflow.org.roles); only what the declarations do not carry is written here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from kflow.calendar import local_date
from kflow.db import utcnow
from kflow.org.models import Unit
from kflow.org.roles import ROLE_LABELS
from kflow.states import MACHINES
from kflow.states.base import CaseType, Trigger

NO_ADAPTATION = "Ej mottagen"
DIRECTION_LABELS = {"higher_is_better": "Högre är bättre", "lower_is_better": "Lägre är bättre"}
CREATE_LABEL = "Skapat"
SYSTEM_LABEL = "Systemet (automatiskt)"
CONFLICT_MESSAGE = (
    "Någon annan har ändrat ärendet sedan du öppnade sidan. Sidan visar nu det aktuella "
    "läget: kontrollera det och gör om åtgärden om den fortfarande behövs."
)


_SWEDISH_LAST = str.maketrans({"å": "{", "ä": "|", "ö": "}", "Å": "{", "Ä": "|", "Ö": "}"})


def swedish_key(text: str) -> str:
    """Sort key in Swedish alphabetical order (å, ä, ö after z)."""
    return text.lower().translate(_SWEDISH_LAST)


def region_label(region: Unit) -> str:
    """A region's name without the word "Region", short enough for a column head."""
    return region.name.removeprefix("Region ").strip()


def sorted_regions(regions: Iterable[Unit]) -> list[Unit]:
    """The regions in the order their short names read (Blekinge … Örebro län)."""
    return sorted(regions, key=lambda r: swedish_key(region_label(r)))


def adaptation_short(state: str | None) -> str:
    """A regional adaptation's state in an overview cell (None: no adaptation yet)."""
    return MACHINES[CaseType.REGIONAL_ADAPTATION].short_label(state) if state else NO_ADAPTATION


# The overview heatmap's cells are narrow: each state is a symbol there (with its colour, and
# its full label for screen readers and in the cell's title), explained in the legend.
ADAPTATION_SYMBOLS = {
    "received": "○",
    "assessing": "◔",
    "on_hold": "‖",
    "awaiting_decision": "?",
    "adopted": "✓",
    "not_adopted": "✗",
    "adapting": "◑",
    "implementing": "◕",
    "following_up": "●",
    "closed": "■",
    "cancelled": "⊘",
}
NO_ADAPTATION_SYMBOL = "–"


def adaptation_symbol(state: str | None) -> str:
    """A regional adaptation's state as the heatmap's symbol (None: no adaptation yet)."""
    return ADAPTATION_SYMBOLS.get(state, "•") if state else NO_ADAPTATION_SYMBOL


def adaptation_label(state: str | None) -> str:
    return MACHINES[CaseType.REGIONAL_ADAPTATION].state_label(state) if state else NO_ADAPTATION


@dataclasses.dataclass(frozen=True)
class CellText:
    symbol: str
    label: str
    short: str


@functools.cache
def cell_texts() -> dict[str | None, CellText]:
    """Each regional adaptation state's (and no adaptation's) symbol, label and short label,
    as the overview's cells show them."""
    machine = MACHINES[CaseType.REGIONAL_ADAPTATION]
    return {
        state: CellText(adaptation_symbol(state), adaptation_label(state), adaptation_short(state))
        for state in (None, *machine.state_labels)
    }


@dataclasses.dataclass
class Legend:
    state: str
    short: str
    label: str

    @property
    def css(self) -> str:
        return f"st-{self.state}"

    @property
    def symbol(self) -> str:
        return adaptation_symbol(None if self.state == "none" else self.state)


def legend() -> list[Legend]:
    """What the overview's cells mean: each state of a regional adaptation, and none yet."""
    machine = MACHINES[CaseType.REGIONAL_ADAPTATION]
    items = [
        Legend(s, machine.short_label(s), machine.state_label(s)) for s in machine.state_labels
    ]
    items.append(Legend("none", NO_ADAPTATION, "Ingen regional tillämpning ännu"))
    return items


def today() -> dt.date:
    """Today in Europe/Stockholm, the calendar every due date is computed in."""
    return local_date(utcnow())


def date_text(value: dt.date | None) -> str:
    return value.isoformat() if value else "–"


def local_time(value: dt.datetime | None, tz: str = "Europe/Stockholm") -> str:
    """A UTC time as Swedes read it: 2026-03-05 14:03 in Europe/Stockholm."""
    if value is None:
        return "–"
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def days_text(days: int) -> str:
    return "1 dag" if days == 1 else f"{days} dagar"


def role_label(role: str | None) -> str:
    return ROLE_LABELS.get(role, role) if role else ""  # type: ignore[call-overload]


def humanize(message: str, spec: Trigger | None) -> str:
    """A service message with the trigger's and parameters' ids replaced by their Swedish labels."""
    if spec is None:
        return message
    message = message.replace(f"'{spec.name}'", f"”{spec.label}”")
    message = message.replace(" (comment)", "")
    for param in spec.params:
        message = re.sub(rf"\b{re.escape(param.name)}\b", param.label, message)
    return message
