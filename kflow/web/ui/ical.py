"""A small iCalendar writer (RFC 5545) for all-day events: what the calendar feed needs and
nothing more. Lines end in CRLF and are folded at 75 octets; text values are escaped."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

LIMIT = 75  # octets per line, CRLF not counted (RFC 5545 §3.1)


@dataclasses.dataclass(frozen=True)
class Event:
    uid: str
    day: dt.date
    summary: str
    description: str
    url: str


def escape(text: str) -> str:
    """A TEXT value (§3.3.11): backslash, semicolon, comma and newlines escaped."""
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str) -> str:
    """Split ``line`` into lines of at most 75 octets, never inside a UTF-8 character; each
    continuation line starts with a space (§3.1)."""
    parts: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode())
        if size + width > LIMIT:
            parts.append(current)
            current, size = " ", 1
        current += char
        size += width
    parts.append(current)
    return "\r\n".join(parts)


def _date(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def calendar(name: str, events: Iterable[Event], now: dt.datetime) -> str:
    """A VCALENDAR of all-day VEVENTs (DTEND the day after, as §3.6.1 says of a one-day event),
    marked free time so a deadline does not block the day."""
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//kflow//Min inkorg//SV",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape(name)}",
        "X-PUBLISHED-TTL:PT1H",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
    ]
    for event in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{_date(event.day)}",
            f"DTEND;VALUE=DATE:{_date(event.day + dt.timedelta(days=1))}",
            f"SUMMARY:{escape(event.summary)}",
            f"DESCRIPTION:{escape(event.description)}",
            f"URL:{event.url}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
