"""Trigger forms rendered from the declarations (Trigger.params), and read back.

Each parameter kind has one control: text -> text input, choice -> select, date -> date input,
unit -> select of the regional groups of the case's region and its healthcare regions (each
labelled with the region or healthcare region it belongs to), units -> checkboxes of its local
units, own_unit -> select of the owner's local units, row -> select of the rows of its table
(indicators), number -> a text input for a decimal number, long_text -> a text area.
Whatever the browser sends is handed to kflow.engine.fire unchanged in meaning; the engine
validates it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from kflow.cases.models import Case
from kflow.engine.authority import Authority
from kflow.errors import ValidationError
from kflow.org.models import Unit
from kflow.org.roles import UnitKind
from kflow.queries import casepage as page_queries
from kflow.queries import consequences
from kflow.queries import units as unit_queries
from kflow.queries.consequences import Consequence
from kflow.states import MACHINES
from kflow.states import local_implementation as li_states
from kflow.states.base import Cascade, Param, Trigger

# A hand-off to a unit nobody there can acknowledge: said in the form, and the region's
# coordinators are mailed (kflow.mailing.handoffs).
UNSTAFFED_NOTE = (
    "varning: ingen lokalt ansvarig eller ledamot på enheten ännu; regionens samordnare får besked"
)


@dataclasses.dataclass
class Option:
    value: str
    label: str
    selected: bool = False
    note: str = ""


@dataclasses.dataclass
class Field:
    id: str
    name: str
    control: str  # text, number, select, date, checkboxes, textarea
    label: str
    required: bool
    help: str = ""
    value: str = ""
    options: list[Option] = dataclasses.field(default_factory=list)
    min: str = ""
    error: str = ""  # shown at the field (kflow.web.ui.field_errors)


@dataclasses.dataclass
class Action:
    spec: Trigger
    fields: list[Field]
    comment: Field
    # What it will do, for a destructive trigger or one that ends work in progress below.
    consequence: Consequence | None = None
    confirm_error: str = ""  # the confirmation was missing when the form was last sent

    @property
    def simple(self) -> bool:
        """Nothing to fill in: one button, with an optional comment tucked away."""
        return not self.fields and not self.comment.required and not self.spec.destructive

    @property
    def id(self) -> str:
        return f"handling-{self.spec.name}"


class _Options:
    """Unit options for the case's region, each list loaded once."""

    def __init__(self, session: Session, case: Case) -> None:
        self.session = session
        self.case = case
        self._units: dict[str, list[Unit]] = {}

    def units(self, kind: str) -> list[Unit]:
        if kind not in self._units:
            anchor = self.case.region_id or self.case.owner_id
            if kind == "own_unit":  # local units of the case's owner
                anchor, kind = self.case.owner_id, UnitKind.LOCAL_UNIT
            self._units[kind] = unit_queries.below(self.session, anchor, kind)
        return self._units[kind]

    def labels(self, kind: str) -> dict[int, str]:
        """The picker's label of each unit of ``kind`` (name and region, see units.labels)."""
        return unit_queries.labels(self.session, self.units(kind))

    def rows(self, table: str) -> list[tuple[int, str]]:
        """(id, label) of the rows a ROW parameter may name (indicators, by name)."""
        return page_queries.row_choices(self.session, table)

    def busy_units(self) -> set[int]:
        """Local units already holding an open implementation of this adaptation."""
        return page_queries.busy_units(self.session, self.case)

    def unstaffed_units(self, units: list[Unit]) -> set[int]:
        """Local units where nobody could acknowledge a hand-off (kflow.queries.consequences)."""
        return consequences.unstaffed(
            self.session, [u.id for u in units], li_states.MACHINE, self.case.region_id
        )


def build_actions(
    session: Session,
    authority: Authority,
    case: Case,
    today: dt.date,
    submitted: tuple[str, MultiDict[str, str]] | None = None,
) -> list[Action]:
    """One action per trigger the user may fire now; ``submitted`` refills a failed form."""
    machine = MACHINES[case.type]
    options = _Options(session, case)
    actions = []
    for name in authority.allowed_triggers(case):
        spec = machine.triggers[name]
        form: MultiDict[str, str] = (
            submitted[1] if submitted and submitted[0] == name else MultiDict()
        )
        fields = [_field(spec, p, case, options, form, today) for p in spec.params]
        comment = Field(
            id=f"f-{name}-comment",
            name="comment",
            control="textarea",
            label="Kommentar" if spec.comment_required else "Kommentar (valfri)",
            required=spec.comment_required,
            value=form.get("comment", ""),
        )
        action = Action(spec, fields, comment)
        if spec.destructive or _ends_work(spec):
            action.consequence = consequences.of(session, case, spec)
        if spec.destructive and submitted and submitted[0] == name and not confirmed(form):
            action.confirm_error = CONFIRM_MISSING
        actions.append(action)
    return actions


# A destructive trigger is fired from the UI only with this box ticked (no JavaScript needed).
CONFIRM_FIELD = "bekraftat"
CONFIRM_MISSING = "Kryssa i rutan för att bekräfta att du förstår vad som händer."


def confirmed(form: MultiDict[str, str]) -> bool:
    return form.get(CONFIRM_FIELD) == "ja"


def require_confirmation(
    spec: Trigger | None, form: MultiDict[str, str], allowed: list[str]
) -> None:
    """Refuse a destructive trigger the user may fire now (``allowed``) sent without its
    confirmation, before the engine is asked, so nothing is written. A trigger the user may
    not fire is left to the engine, which says why (403, 409)."""
    if spec is not None and spec.destructive and spec.name in allowed and not confirmed(form):
        raise ValidationError(
            f"”{spec.label}” kan inte ångras och gjordes inte: {CONFIRM_MISSING[0].lower()}"
            f"{CONFIRM_MISSING[1:]}"
        )


def _ends_work(spec: Trigger) -> bool:
    return any(isinstance(e, Cascade) and e.busy for e in spec.effects)


def _field(
    spec: Trigger,
    param: Param,
    case: Case,
    options: _Options,
    form: MultiDict[str, str],
    today: dt.date,
) -> Field:
    field = Field(
        id=f"f-{spec.name}-{param.name}",
        name=param.name,
        control="text",
        label=param.label,
        required=param.is_required(case),
        help=param.help,
        value=form.get(param.name, ""),
    )
    if param.kind == "choice":
        field.control = "select"
        field.options = [Option(key, label, key == field.value) for key, label in param.choices]
    elif param.kind == "date":
        field.control = "date"
        field.min = (today + dt.timedelta(days=1)).isoformat()
    elif param.kind == "unit":
        field.control = "select"
        labels = options.labels(UnitKind.REGIONAL_GROUP)
        field.options = [
            Option(u.code, labels[u.id], u.code == field.value)
            for u in options.units(UnitKind.REGIONAL_GROUP)
        ]
    elif param.kind == "own_unit":
        field.control = "select"
        units = options.units(UnitKind.LOCAL_UNIT)
        labels = unit_queries.labels(options.session, units)
        field.options = [Option(u.code, labels[u.id], u.code == field.value) for u in units]
    elif param.kind == "row":
        field.control = "select"
        field.options = [
            Option(str(key), label, str(key) == field.value)
            for key, label in options.rows(param.table)
        ]
    elif param.kind == "number":
        field.control = "number"
    elif param.kind == "long_text":
        field.control = "textarea"
    elif param.kind == "units":
        field.control = "checkboxes"
        chosen = set(form.getlist(param.name))
        busy = options.busy_units()
        units = options.units(UnitKind.LOCAL_UNIT)
        nobody = options.unstaffed_units(units)
        field.options = [
            Option(
                u.code,
                u.name,
                u.code in chosen,
                "har redan ett pågående införande"
                if u.id in busy
                else (UNSTAFFED_NOTE if u.id in nobody else ""),
            )
            for u in units
        ]
    return field


def params_from(spec: Trigger | None, form: MultiDict[str, str]) -> dict[str, Any]:
    """The trigger's parameters as the service takes them (lists for ``units``)."""
    if spec is None:
        return {}
    params: dict[str, Any] = {}
    for param in spec.params:
        if param.kind == "units":
            values = [v for v in form.getlist(param.name) if v]
            if values:
                params[param.name] = values
        else:
            value = form.get(param.name, "")
            if value.strip():
                params[param.name] = value
    return params


def is_number(raw: str) -> bool:
    """Plain digits 0-9 that int() takes (str.isdigit() alone also accepts '²')."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 18


def lock_version_from(form: MultiDict[str, str]) -> int | None:
    raw = form.get("lock_version", "")
    return int(raw) if is_number(raw) else None
