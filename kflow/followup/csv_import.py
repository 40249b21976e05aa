"""Importing measurements from CSV (lifecycle.md §6.2): all lines or none.

The file is ``indikator;enhet;period;värde[;täljare;nämnare][;kommentar]`` with a header row,
indicator and unit by code, UTF-8 with or without BOM, ``;`` or ``,`` between fields (read from
the header). Every line is checked as a single report would be (the same rights, line by line)
before any is written; if one is refused, nothing is written and every refused line is named
with its number and reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.calendar import local_date
from kflow.config import Settings
from kflow.db import utcnow
from kflow.engine.authority import Authority
from kflow.errors import KflowError, ValidationError
from kflow.followup import bulk, measurements, periods
from kflow.followup.models import Indicator
from kflow.followup.reporters import Reporters
from kflow.followup.values import measured
from kflow.org.models import Unit

UNCHECKED = object()
REQUIRED = ["indikator", "enhet", "period", "värde"]
HEADERS = [
    REQUIRED,
    [*REQUIRED, "kommentar"],
    [*REQUIRED, "täljare", "nämnare"],
    [*REQUIRED, "täljare", "nämnare", "kommentar"],
]
HEADER_HELP = "indikator;enhet;period;värde, följt av täljare;nämnare och/eller kommentar"
MAX_LINES = 100_000
SWEDISH = {"numerator": "täljare", "denominator": "nämnare", "value": "värde", "period": "period"}


class ImportRefused(ValidationError):
    """A file refused: 422 validation_error with each refused line and its reason."""

    def __init__(self, lines: list[tuple[int, str]]) -> None:
        count = len(lines)
        super().__init__(
            f"Importen gjordes inte: {count} {'rad' if count == 1 else 'rader'} avvisades. "
            "Inget sparades; rätta raderna och importera hela filen igen."
        )
        self.lines = lines

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = super().to_dict()
        data["error"]["lines"] = [{"line": n, "reason": reason} for n, reason in self.lines]
        return data


def decode(data: bytes) -> str:
    """The file's text: UTF-8, a BOM dropped; a broken encoding is refused at its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportRefused(
            [(line, "Filen är inte UTF-8: raden innehåller tecken som inte kan läsas.")]
        ) from None


def rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's column names and the data rows with their line numbers."""
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    found: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    try:
        for row in reader:
            if header is None:
                header = [name.strip().lower() for name in row]
                continue
            if "".join(row).strip():  # a line of blanks (and separators) is no line
                found.append((reader.line_num, row))
            if len(found) > MAX_LINES:
                raise ImportRefused([(reader.line_num, f"Filen får ha högst {MAX_LINES} rader.")])
    except csv.Error as error:
        raise ImportRefused(
            [(reader.line_num, f"Raden kan inte läsas som CSV: {error}.")]
        ) from None
    if header is None:
        raise ImportRefused([(1, "Filen är tom: den ska börja med en rubrikrad.")])
    if header not in HEADERS:
        raise ImportRefused(
            [(1, f"Rubrikraden måste vara {HEADER_HELP} (fick: {delimiter.join(header)}).")]
        )
    return header, found


def import_csv(
    session: Session,
    authority: Authority,
    data: bytes,
    *,
    settings: Settings,
    now: dt.datetime | None = None,
) -> int:
    """Check and write every line of the file; the number of measurements written."""
    now = now or utcnow()
    header, found = rows(decode(data))
    if not found:
        raise ImportRefused([(1, "Filen har inga rader med mätvärden.")])
    codes = {row[0].strip() for _, row in found if row}
    indicators = {
        i.code: i for i in session.scalars(select(Indicator).where(Indicator.code.in_(codes)))
    }
    unit_codes = {row[1].strip() for _, row in found if len(row) > 1}
    units = {u.code: u for u in session.scalars(select(Unit).where(Unit.code.in_(unit_codes)))}
    refused: list[tuple[int, str]] = []
    seen: dict[tuple[int, int, str], int] = {}
    ready = []
    reporters = Reporters(session, authority)
    named = {
        (row[0].strip(), row[1].strip()) for row in {tuple(r[:2]) for _, r in found} if len(row) > 1
    }
    reporters.preload(
        (indicators[code], units[unit])
        for code, unit in named
        if code in indicators and unit in units
    )
    column = {name: i for i, name in enumerate(header)}
    value_at, top_at, bottom_at = column["värde"], column.get("täljare"), column.get("nämnare")
    comment_at = column.get("kommentar")
    checked = Periods(local_date(now))
    # Plain values read once per indicator and unit, not once per line.
    by_indicator = {
        code: (i, i.id, i.aggregation, i.unit_of_measure) for code, i in indicators.items()
    }
    by_unit = {code: (u, u.id) for code, u in units.items()}
    width = len(header)
    # What one line has decided for the next: period codes, the reporter's right per indicator
    # and unit (refusals are not kept: they are asked again), periods that have started.
    period_codes: dict[str, str] = {}
    rights: dict[tuple[int, int], Any] = {}
    started: set[str] = set()
    for line, row in found:
        if len(row) != width:
            refused.append((line, f"Raden har {len(row)} fält, rubriken {width}."))
            continue
        fields = list(map(str.strip, row))
        ind = by_indicator.get(fields[0])
        place = by_unit.get(fields[1])
        if ind is None:
            refused.append((line, f"Det finns ingen indikator med koden '{fields[0]}'."))
            continue
        if place is None:
            refused.append((line, f"Det finns ingen enhet med koden '{fields[1]}'."))
            continue
        indicator, indicator_id, aggregation, unit_of_measure = ind
        unit, unit_id = place
        try:
            text = fields[2]
            code = period_codes.get(text) or period_codes.setdefault(text, checked.code(text))
            key = (indicator_id, unit_id, code)
            if key in seen:
                raise ValidationError(
                    f"Samma indikator, enhet och period som rad {seen[key]}: en rad per mätvärde."
                )
            seen[key] = line
            pair = (indicator_id, unit_id)
            implementation = rights.get(pair, UNCHECKED)
            if implementation is UNCHECKED:
                implementation = rights[pair] = reporters.check(indicator, unit, key=pair)
            if code not in started:
                checked.require_started(code)
                started.add(code)
            values = measured(
                aggregation,
                unit_of_measure,
                fields[value_at],
                None if top_at is None else fields[top_at],
                None if bottom_at is None else fields[bottom_at],
            )
            comment = None if comment_at is None else measurements.comment_text(row[comment_at])
            ready.append(
                measurements.Prepared(
                    indicator, unit_id, implementation, code, values, comment, None
                )
            )
        except KflowError as error:
            refused.append((line, _swedish(error.message)))
    if refused:
        raise ImportRefused(refused)
    return bulk.write_many(session, authority, ready, settings=settings, now=now)


class Periods:
    """Period codes checked once per distinct text in the file (a file repeats a few)."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self._codes: dict[str, periods.Period | KflowError] = {}
        self._started: dict[str, KflowError | None] = {}

    def code(self, text: str) -> str:
        if text not in self._codes:
            try:
                self._codes[text] = periods.parse(text)
            except KflowError as error:
                self._codes[text] = error
        found = self._codes[text]
        if isinstance(found, KflowError):
            raise type(found)(found.message)
        return found.code

    def require_started(self, code: str) -> None:
        if code not in self._started:
            try:
                periods.require_started(periods.parse(code), self.today)
                self._started[code] = None
            except KflowError as error:
                self._started[code] = error
        refusal = self._started[code]
        if refusal is not None:
            raise type(refusal)(refusal.message)


def _swedish(message: str) -> str:
    """A service message with the CSV's column names for the API's field names."""
    for name, column in SWEDISH.items():
        message = message.replace(f"{name} ", f"{column} ").replace(f"({name})", f"({column})")
    return message[0].upper() + message[1:]
