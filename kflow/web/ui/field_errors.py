"""Form errors at their fields: a trigger form's required fields and dates are checked before
the engine is asked, every problem at once, and each message is shown at its field
(``aria-invalid`` and ``aria-describedby`` in ui/_macros.html). A refusal from the engine that
names a parameter is put at that parameter's field too."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.datastructures import MultiDict

from kflow.errors import KflowError, ValidationError
from kflow.states.base import Trigger

COMMENT = "comment"
FILL_IN = "Fyll i ”{label}”."
CHOOSE = "Välj minst en i ”{label}”."
WRITE_COMMENT = "Skriv en kommentar."
BAD_DATE = "Ange ett datum som ÅÅÅÅ-MM-DD."


class FieldErrors(ValidationError):
    """A form with problems at its fields: ``fields`` maps a field's name to its message."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        count = len(fields)
        lead = "Ett fält behöver rättas" if count == 1 else f"{count} fält behöver rättas"
        super().__init__(f"{lead}: {' '.join(fields.values())}")
        self.fields = dict(fields)


def check(spec: Trigger | None, case: Any, form: MultiDict[str, str]) -> None:
    """Raise FieldErrors naming every required field left empty and every malformed date."""
    if spec is None:
        return
    found: dict[str, str] = {}
    for param in spec.params:
        values = [v for v in form.getlist(param.name) if v.strip()]
        if not values:
            if param.is_required(case):
                text = CHOOSE if param.kind == "units" else FILL_IN
                found[param.name] = text.format(label=param.label)
            continue
        if param.kind == "date":
            try:
                dt.date.fromisoformat(values[0].strip())
            except ValueError:
                found[param.name] = BAD_DATE
    if spec.comment_required and not form.get(COMMENT, "").strip():
        found[COMMENT] = WRITE_COMMENT
    if found:
        raise FieldErrors(found)


def of_error(error: KflowError, spec: Trigger | None, message: str) -> dict[str, str]:
    """The field messages of a refusal: FieldErrors' own, or the one field the engine's message
    names (by its parameter id, which ``message`` has already turned into its label)."""
    if isinstance(error, FieldErrors):
        return error.fields
    if spec is None or not isinstance(error, ValidationError):
        return {}
    for param in spec.params:
        if re.search(rf"(?<![\w']){re.escape(param.name)}(?![\w'])", error.message):
            return {param.name: message}
    return {}


def apply(actions: Sequence[Any], trigger: str, errors: Mapping[str, str]) -> None:
    """Put ``errors`` at the fields of the action of ``trigger``."""
    for action in actions:
        if action.spec.name != trigger:
            continue
        for field in [*action.fields, action.comment]:
            field.error = errors.get(field.name, "")
