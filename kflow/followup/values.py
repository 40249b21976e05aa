"""Numbers as people type them, and a measurement's values checked against its indicator's
unit of measure and aggregation (lifecycle.md §6.2)."""

from __future__ import annotations

import math
from typing import Any

from kflow.errors import ValidationError

PERCENT_UNITS = frozenset({"procent", "%"})
# A ratio's value may be given beside its numerator and denominator if it agrees with them to
# this much (a value rounded to one decimal, say).
RATIO_TOLERANCE = 0.05


def number(value: Any, name: str) -> float:
    """A finite number from a number or text ("80,5" and "1 200" too)."""
    if isinstance(value, bool):
        raise ValidationError(f"{name} måste vara ett tal.")
    try:
        found = float(value)  # "80.5", 12, 0.5: the common case, at once
    except (TypeError, ValueError, OverflowError):
        try:
            if not isinstance(value, str):
                raise ValueError(value) from None
            found = float(value.replace(",", ".").replace(" ", "").replace("\u00a0", ""))
        except (TypeError, ValueError, OverflowError):
            raise ValidationError(f"{name} måste vara ett tal.") from None
    if not math.isfinite(found):
        raise ValidationError(f"{name} måste vara ett ändligt tal.")
    return found


def optional_number(value: Any, name: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return number(value, name)


def is_percentage(unit_of_measure: str) -> bool:
    return unit_of_measure.strip().lower() in PERCENT_UNITS


def measured(
    aggregation: str, unit_of_measure: str, value: Any, numerator: Any, denominator: Any
) -> tuple[float, float | None, float | None]:
    """(value, numerator, denominator) as stored, or a ValidationError saying what is wrong.

    A ``ratio`` indicator takes a numerator and a denominator (0 ≤ numerator ≤ denominator,
    denominator > 0) and its value is numerator / denominator, times 100 when the unit of
    measure is a percentage. Other indicators take a value only. A percentage lies in 0–100.
    """
    given = optional_number(value, "value")
    top = optional_number(numerator, "numerator")
    bottom = optional_number(denominator, "denominator")
    percent = is_percentage(unit_of_measure)
    if aggregation == "ratio":
        if top is None or bottom is None:
            raise ValidationError("Indikatorn är en kvot: numerator och denominator krävs.")
        if bottom <= 0:
            raise ValidationError("denominator måste vara större än 0.")
        if top < 0:
            raise ValidationError("numerator får inte vara negativ.")
        if top > bottom:
            raise ValidationError(
                f"numerator ({_text(top)}) får inte vara större än denominator ({_text(bottom)})."
            )
        computed = top / bottom * (100 if percent else 1)
        if given is not None and abs(given - computed) > RATIO_TOLERANCE:
            raise ValidationError(
                f"value ({_text(given)}) stämmer inte med numerator/denominator "
                f"({_text(round(computed, 4))}); utelämna value eller rätta det."
            )
        return computed, top, bottom
    if top is not None or bottom is not None:
        raise ValidationError(
            "numerator och denominator anges bara för indikatorer som är kvoter (ratio)."
        )
    if given is None:
        raise ValidationError("value krävs.")
    if percent and not 0 <= given <= 100:
        raise ValidationError(
            f"value är en andel i procent och måste ligga mellan 0 och 100, inte {_text(given)}."
        )
    return given, None, None


def _text(value: float) -> str:
    return f"{value:g}".replace(".", ",")
