"""The follow-up story: an indicator for heart failure care, three years of tertial
measurements, and indikatorlistor in two regions (VGR and Skåne, approved for this year, one
unit missing its target) and one in Stockholm waiting for its chair."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kflow.cases.models import KnowledgeSupport
from kflow.followup import indicators, measurements
from kflow.followup.lists import create_indicator_list
from kflow.followup.periods import latest_ended
from kflow.tools.demo.builder import Builder

HEART_FAILURE = "Hjärtsvikt – nyupptäckt"
# unit -> (coordinator, share of patients treated in the first tertial, gain per tertial)
UNITS = {
    "vgr-su-kardiologi": ("samordnare.vgr", 0.78, 0.012),
    "skane-sus-hjarta": ("samordnare.skane", 0.70, 0.004),  # misses its target of 85 %
    "stockholm-sos-hjartkliniken": ("samordnare.sthlm", 0.82, 0.008),
}
LISTS = (
    ("vgr", "samordnare.vgr", "ordf.vgr", "vgr-su-kardiologi", True),
    ("skane", "samordnare.skane", "ordf.skane", "skane-sus-hjarta", True),
    ("stockholm", "samordnare.sthlm", None, "stockholm-sos-hjartkliniken", False),
)


def follow_up(b: Builder) -> None:
    ks = b.session.scalar(select(KnowledgeSupport).where(KnowledgeSupport.title == HEART_FAILURE))
    if ks is None:
        return
    ras = indicators.define_indicator(
        b.session,
        b.authority("process.hjarta"),
        ks,
        name="Andel patienter med hjärtsvikt som har ordinerats RAS-hämmare",
        unit_of_measure="procent",
        target_value=85,
        code="VIS-HS-01",
        source="kvalitetsregister",
        aggregation="ratio",
    )
    tertials = [latest_ended(b.today, "tertial")]
    while len(tertials) < 9:  # three years
        tertials.insert(0, tertials[0].previous())
    for code, (who, share, gain) in UNITS.items():
        for n, period in enumerate(tertials):
            patients = 120 + 7 * ((n * 5 + len(code)) % 6)
            treated = round(patients * min(share + gain * n, 0.97))
            measurements.report(
                b.session,
                b.authority(who),
                ras,
                b.units[code],
                settings=b.settings,
                period=period.code,
                numerator=treated,
                denominator=patients,
                now=b.at(3),
            )
    year = b.today.year
    # A draft in Skåne that the chair cancelled, making way for the list of all heart care.
    dropped = _list(b, "skane", "samordnare.skane", year, "skane-sus-hjarta", ras.id, 60)
    b.fire(
        dropped, "cancel", "ordf.skane", 45, comment="Ersätts av en lista för hela hjärtsjukvården."
    )
    for region, coordinator, chair, unit, approve in LISTS:
        case = _list(b, region, coordinator, year, unit, ras.id, 40)
        b.fire(case, "submit", coordinator, 30)
        if approve and chair:
            b.fire(case, "approve", chair, 20, decision_ref=f"HSN {year}-{b.number()}")
    # Last year's list in VGR, closed by the system in February; a draft in Östergötland.
    old = _list(b, "vgr", "samordnare.vgr", year - 1, "vgr-su-kardiologi", ras.id, 400)
    b.fire(old, "submit", "samordnare.vgr", 390)
    b.fire(old, "approve", "ordf.vgr", 380, decision_ref=f"HSN {year - 1}-{b.number()}")
    b.fire(old, "close", "system", max(b.days_ago(old.closes_on) - 1, 2))
    _list(b, "ostergotland", "samordnare.ostergotland", year, "ostergotland-us-hjartcentrum",
          ras.id, 12)  # fmt: skip


def _list(
    b: Builder, region: str, who: str, year: int, unit: str, indicator: int, days_ago: int
) -> Any:
    case = create_indicator_list(
        b.session,
        b.authority(who),
        owner=region,
        year=year,
        scope="sjukhus",
        title=f"Indikatorlista hjärtsjukvård {year}",
        now=b.at(days_ago),
    )
    target: dict[str, Any] = {"indicator": indicator, "unit": unit, "target_value": 85}
    b.fire(case, "set_target", who, days_ago - 1, tolerance_pct=5, **target)
    return case
