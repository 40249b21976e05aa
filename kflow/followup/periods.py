"""Reporting periods (lifecycle.md §6.2): ``ÅÅÅÅ``, ``ÅÅÅÅ-H1..H2``, ``ÅÅÅÅ-T1..T3`` (tertials:
Jan–Apr, May–Aug, Sep–Dec), ``ÅÅÅÅ-Q1..Q4`` and ``ÅÅÅÅ-MM``. Pure functions, no database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from kflow.errors import ValidationError

# kind -> (months in a period, periods in a year, the letter of its code or "" for months)
KINDS: dict[str, tuple[int, int, str]] = {
    "year": (12, 1, ""),
    "half": (6, 2, "H"),
    "tertial": (4, 3, "T"),
    "quarter": (3, 4, "Q"),
    "month": (1, 12, ""),
}
_BY_LETTER = {letter: kind for kind, (_, _, letter) in KINDS.items() if letter}
_PATTERN = re.compile(r"^(\d{4})(?:-([HTQ])(\d)|-(\d{2}))?$")
FORMAT_HELP = "ÅÅÅÅ, ÅÅÅÅ-H1..H2, ÅÅÅÅ-T1..T3, ÅÅÅÅ-Q1..Q4 eller ÅÅÅÅ-MM (t.ex. 2026-Q1)"
MIN_YEAR, MAX_YEAR = 1900, 2999


@dataclasses.dataclass(frozen=True, order=True)
class Period:
    """One period: a year and the index (1-based) of the period of its kind within it."""

    year: int
    kind: str
    index: int

    @property
    def months(self) -> int:
        """The period's length in months (12, 6, 4, 3 or 1)."""
        return KINDS[self.kind][0]

    @property
    def code(self) -> str:
        if self.kind == "year":
            return f"{self.year}"
        if self.kind == "month":
            return f"{self.year}-{self.index:02d}"
        return f"{self.year}-{KINDS[self.kind][2]}{self.index}"

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, (self.index - 1) * self.months + 1, 1)

    @property
    def end(self) -> dt.date:
        """The period's last day."""
        return _month_start(self.year, self.index * self.months + 1) - dt.timedelta(days=1)

    def has_started(self, today: dt.date) -> bool:
        return self.start <= today

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        if self.index > 1:
            return Period(self.year, self.kind, self.index - 1)
        return Period(self.year - 1, self.kind, KINDS[self.kind][1])

    def __str__(self) -> str:
        return self.code


def _month_start(year: int, month: int) -> dt.date:
    """The first day of ``month`` (13 is January of the next year)."""
    return dt.date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def parse(text: object, name: str = "period") -> Period:
    """A period from its code; a ValidationError naming ``name`` if it is not one."""
    found = _PATTERN.match(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise ValidationError(f"{name} måste vara {FORMAT_HELP}.")
    year = int(found.group(1))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError(f"{name}: året måste ligga mellan {MIN_YEAR} och {MAX_YEAR}.")
    if found.group(2):
        kind, index = _BY_LETTER[found.group(2)], int(found.group(3))
    elif found.group(4):
        kind, index = "month", int(found.group(4))
    else:
        kind, index = "year", 1
    count = KINDS[kind][1]
    if not 1 <= index <= count:
        raise ValidationError(f"{name} måste vara {FORMAT_HELP}; '{text}' finns inte.")
    return Period(year, kind, index)


def containing(day: dt.date, kind: str) -> Period:
    """The period of ``kind`` that ``day`` falls in."""
    return Period(day.year, kind, (day.month - 1) // KINDS[kind][0] + 1)


def latest_ended(before: dt.date, kind: str) -> Period:
    """The period of ``kind`` that ended most recently before ``before`` (its last day is
    earlier than ``before``)."""
    current = containing(before, kind)
    return current.previous()


def require_started(period: Period, today: dt.date, name: str = "period") -> None:
    """Refuse a period that has not started yet (one cannot report the future)."""
    if not period.has_started(today):
        raise ValidationError(
            f"{name} {period.code} har inte börjat ännu (den börjar {period.start.isoformat()}); "
            "mätvärden kan bara rapporteras för perioder som har börjat."
        )
