"""An indicator with three tertials of measurements in two VGR units and one Skåne unit, and
an approved VGR indikatorlista with a måltal for one unit: what the results tests read."""

from __future__ import annotations

import dataclasses

from kflow.cases.models import Case
from kflow.followup.lists import create_indicator_list
from kflow.followup.models import Indicator, Measurement
from tests.support.world import World

PERIODS = ("2025-T3", "2026-T1", "2026-T2")
# unit -> a value per period
VALUES = {
    "vgr-psyk-1": (80.0, 84.0, 88.0),  # met (85)
    "vgr-psyk-2": (70.0, 72.0, 82.0),  # near: within 5 % of 85
    "skane-psyk-1": (60.0, 61.0, 62.0),  # not met
}


@dataclasses.dataclass
class Results:
    ks: Case
    indicator: Indicator
    listed: Case


def build(world: World) -> Results:
    ks = world.ks_in("published")
    indicator = Indicator(
        knowledge_support_id=ks.id,
        code="UF-1",
        name="Andel med vårdplan",
        unit_of_measure="procent",
        target_value=85.0,
    )
    world.session.add(indicator)
    world.session.flush()
    for unit, values in VALUES.items():
        for period, value in zip(PERIODS, values, strict=True):
            world.session.add(
                Measurement(
                    indicator_id=indicator.id,
                    unit_id=world.units[unit].id,
                    period=period,
                    value=value,
                )
            )
    world.session.flush()
    listed = create_indicator_list(
        world.session, world.authority("vgr-coordinator"), owner="vgr", year=2026,
        scope="alla", title="VGR 2026",
    )  # fmt: skip
    target = {"indicator": indicator.id, "unit": "vgr-psyk-2", "target_value": 80}
    world.fire(listed, "set_target", "vgr-coordinator", params=target)
    world.fire(listed, "submit", "vgr-coordinator")
    world.fire(listed, "approve", "vgr-chair", params={"decision_ref": "RS 1"})
    return Results(ks, indicator, listed)
