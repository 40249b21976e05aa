"""Load the reference organisation (config/organisation.toml) idempotently."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.errors import ValidationError
from kflow.org.models import Unit
from kflow.org.roles import UnitKind
from kflow.org.units import create_unit, link_healthcare_region, set_host

ROOT_CODE = "sverige"
ROOT_NAME = "Sverige (hela systemet)"
SECTIONS = (
    ("national_council", UnitKind.NATIONAL_COUNCIL),
    ("npo", UnitKind.NPO),
    ("nsg", UnitKind.NSG),
    ("healthcare_region", UnitKind.HEALTHCARE_REGION),
    ("region", UnitKind.REGION),
)


def load_reference(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def seed(session: Session, path: Path) -> dict[str, int]:
    """Create missing reference units and links; rename changed ones. Returns counts."""
    data = load_reference(path)
    counts = {"created": 0, "renamed": 0, "linked": 0, "hosted": 0}
    existing = {u.code: u for u in session.scalars(select(Unit))}
    root = existing.get(ROOT_CODE)
    if root is None:
        root = create_unit(session, ROOT_CODE, ROOT_NAME, UnitKind.ROOT)
        existing[ROOT_CODE] = root
        counts["created"] += 1
    for section, kind in SECTIONS:
        for entry in data.get(section, []):
            code, name = entry["code"], entry["name"]
            unit = existing.get(code)
            if unit is None:
                existing[code] = create_unit(session, code, name, kind, root)
                counts["created"] += 1
            elif unit.kind != kind:
                raise ValidationError(f"Enheten '{code}' finns redan som {unit.kind}, inte {kind}.")
            elif unit.name != name:
                unit.name = name
                counts["renamed"] += 1
    for entry in data.get("healthcare_region", []):
        for region_code in entry.get("regions", []):
            if region_code not in existing:
                raise ValidationError(
                    f"Sjukvårdsregionen '{entry['code']}' nämner okänd region '{region_code}'."
                )
            link_healthcare_region(session, existing[entry["code"]], existing[region_code])
            counts["linked"] += 1
    for entry in data.get("npo", []):
        _seed_host(session, existing, entry, counts)
    session.flush()  # surface constraint errors inside the seeding transaction
    return counts


def _seed_host(
    session: Session, existing: dict[str, Unit], entry: dict[str, Any], counts: dict[str, int]
) -> None:
    """Store the NPO's host healthcare region (lifecycle.md §5.2); an NPO without one keeps
    whatever it has (null until confirmed)."""
    host_code = entry.get("host")
    if not host_code:
        return
    host = existing.get(host_code)
    if host is None:
        raise ValidationError(f"NPO '{entry['code']}' har okänd värdregion '{host_code}'.")
    npo = existing[entry["code"]]
    if npo.host_unit_id != host.id:
        set_host(session, npo, host)
        counts["hosted"] += 1
