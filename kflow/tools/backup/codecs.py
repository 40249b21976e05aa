"""Column values in the file: JSON by column type, and back (the module docstring of
kflow.tools.backup lists them)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Float, Integer, LargeBinary, String

from kflow.tools.backup.format import BackupError


def kind(column: Column[Any]) -> str:
    """The backup type of a column; refuse types this format does not know."""
    kinds: list[tuple[type, str]] = [
        (JSON, "json"),
        (Boolean, "boolean"),
        (Integer, "integer"),
        (Float, "float"),
        (DateTime, "datetime"),
        (Date, "date"),
        (LargeBinary, "bytes"),
        (String, "string"),  # Text is a String
    ]
    column_type = column.type
    impl = getattr(column_type, "impl", None)  # a TypeDecorator (UTCDateTime) by what it stores
    for candidate in (column_type, impl):
        for cls, name in kinds:
            if isinstance(candidate, cls):
                return name
    raise BackupError(
        f"Column {column.table.name}.{column.name} has a type the backup format does not know "
        f"({column_type!r}); kflow's backup needs to learn it first."
    )


def _encode_float(value: float) -> float | str:
    value = float(value)
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _encode_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:  # never from kflow's UTCDateTime; refuse to guess a zone
        raise BackupError(f"A naive date-time ({value.isoformat()}) cannot be exported safely.")
    return value.isoformat()


ENCODERS: dict[str, Callable[[Any], Any]] = {
    "integer": int,
    "string": str,
    "boolean": bool,
    "float": _encode_float,
    "date": lambda v: v.isoformat(),
    "datetime": _encode_datetime,
    "json": str,  # the stored text (read through CAST(... AS TEXT))
    "bytes": lambda v: base64.b64encode(bytes(v)).decode("ascii"),
}


def _decode_integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    return value


def _decode_string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    return value


def _decode_boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not a boolean")
    return value


def _decode_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, str) and value not in ("NaN", "Infinity", "-Infinity"):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def _decode_datetime(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(_decode_string(value))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment


def _decode_json(value: Any) -> str:
    text = _decode_string(value)
    json.loads(text)  # must be a JSON document
    return text


DECODERS: dict[str, Callable[[Any], Any]] = {
    "integer": _decode_integer,
    "string": _decode_string,
    "boolean": _decode_boolean,
    "float": _decode_float,
    "date": lambda v: dt.date.fromisoformat(_decode_string(v)),
    "datetime": _decode_datetime,
    "json": _decode_json,
    "bytes": lambda v: base64.b64decode(_decode_string(v), validate=True),
}


class Malformed(Exception):
    """A row line that cannot be imported (turned into BackupError once the rest is checked)."""


# The JSON types each backup type accepts (None, for SQL NULL, always).
_ACCEPTS: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "string": (str,),
    "boolean": (bool,),
    "float": (int, float, str),
    "date": (str,),
    "datetime": (str,),
    "json": (str,),
    "bytes": (str,),
}
_AS_THEY_ARE = ("integer", "string", "boolean")  # accepted by type alone
# On PostgreSQL the server reads a JSON column's text and refuses one that is not JSON.
SERVER_DECODERS = {**DECODERS, "json": _decode_string}
_PATTERNS_KEPT = 4096  # shapes of rows remembered as valid (bounded: memory stays flat)


class RowDecoder:
    """Decodes the values of one table's row lines.

    The JSON types of a row (which columns are null, which numbers whole) fall into few shapes:
    a shape once checked column by column is remembered, so a row of a known shape is checked
    by one lookup, and only the values that need converting (dates, floats, JSON, bytes) are
    converted one by one. ``bool`` is not ``int`` here: shapes compare exact types.
    """

    def __init__(self, table: Any, decoders: dict[str, Callable[[Any], Any]] = DECODERS) -> None:
        kinds = [kind(c) for c in table.columns]
        self.table = table.name
        self.width = len(kinds)
        self.accepts = [(*_ACCEPTS[k], type(None)) for k in kinds]
        self.converters = [
            (i, decoders[k]) for i, k in enumerate(kinds) if k not in (*_AS_THEY_ARE, "float")
        ]
        # A float column's number is taken as it is; only a string (NaN, ±Infinity) is read.
        self.floats = [i for i, k in enumerate(kinds) if k == "float"]
        self.shapes: set[tuple[type, ...]] = set()

    def __call__(self, values: Any) -> tuple[Any, ...]:
        if type(values) is not list or len(values) != self.width:
            raise Malformed(f"a row of {self.table} has the wrong number of values")
        shape = tuple(map(type, values))
        if shape not in self.shapes:
            self._check(values, shape)
        try:
            for i, decode in self.converters:
                if values[i] is not None:
                    values[i] = decode(values[i])
            for i in self.floats:
                if type(values[i]) is str:
                    values[i] = _decode_float(values[i])
        except (ValueError, TypeError) as exc:
            raise Malformed(f"a value of {self.table} is malformed: {exc}") from None
        return tuple(values)

    def _check(self, values: list[Any], shape: tuple[type, ...]) -> None:
        for value, found, accepts in zip(values, shape, self.accepts, strict=True):
            if found not in accepts:
                raise Malformed(f"a value of {self.table} is malformed: {value!r} is not accepted")
        if len(self.shapes) < _PATTERNS_KEPT:
            self.shapes.add(shape)
