"""Unit subkinds (lifecycle.md §5.1): which kind each belongs to, its Swedish label, where it may
sit, and which ones are programme units that may name the NPO they mirror.

A subkind drives labels, validation and reports, never authority: that stays the tree of §1.
"""

from __future__ import annotations

from enum import StrEnum

from kflow.org.roles import UNIT_KIND_LABELS, UnitKind


class Subkind(StrEnum):
    RPO = "rpo"
    RSG = "rsg"
    RAG = "rag"
    SAMORDNINGSRAD = "samordningsrad"
    PRIMARVARDSRAD = "primarvardsrad"
    REGIONALT_PROCESSTEAM = "regionalt_processteam"
    LPO = "lpo"
    KS_RAD = "ks_rad"
    STODFUNKTION = "stodfunktion"
    FORVALTNING = "forvaltning"
    VERKSAMHET = "verksamhet"
    LOKALT_PROCESSTEAM = "lokalt_processteam"
    LAG = "lag"
    KOMMUN = "kommun"


SUBKIND_KINDS: dict[Subkind, UnitKind] = {
    Subkind.RPO: UnitKind.REGIONAL_GROUP,
    Subkind.RSG: UnitKind.REGIONAL_GROUP,
    Subkind.RAG: UnitKind.REGIONAL_GROUP,
    Subkind.SAMORDNINGSRAD: UnitKind.REGIONAL_GROUP,
    Subkind.PRIMARVARDSRAD: UnitKind.REGIONAL_GROUP,
    Subkind.REGIONALT_PROCESSTEAM: UnitKind.REGIONAL_GROUP,
    Subkind.LPO: UnitKind.REGIONAL_GROUP,
    Subkind.KS_RAD: UnitKind.REGIONAL_GROUP,
    Subkind.STODFUNKTION: UnitKind.REGIONAL_GROUP,
    Subkind.FORVALTNING: UnitKind.LOCAL_UNIT,
    Subkind.VERKSAMHET: UnitKind.LOCAL_UNIT,
    Subkind.LOKALT_PROCESSTEAM: UnitKind.LOCAL_UNIT,
    Subkind.LAG: UnitKind.LOCAL_UNIT,
    Subkind.KOMMUN: UnitKind.LOCAL_UNIT,
}

SUBKIND_LABELS: dict[Subkind, str] = {
    Subkind.RPO: "Regionalt programområde",
    Subkind.RSG: "Regional samverkansgrupp",
    Subkind.RAG: "Regional arbetsgrupp",
    Subkind.SAMORDNINGSRAD: "Regionalt samordningsråd",
    Subkind.PRIMARVARDSRAD: "Primärvårdsråd",
    Subkind.REGIONALT_PROCESSTEAM: "Regionalt processteam",
    Subkind.LPO: "Lokalt programområde",
    Subkind.KS_RAD: "Kunskapsstyrningsråd / regional samordning (RESAKS)",
    Subkind.STODFUNKTION: "Regional stödfunktion",
    Subkind.FORVALTNING: "Förvaltning",
    Subkind.VERKSAMHET: "Verksamhet",
    Subkind.LOKALT_PROCESSTEAM: "Lokalt processteam",
    Subkind.LAG: "Lokal arbetsgrupp",
    Subkind.KOMMUN: "Kommun",
}

# Where each subkind may sit: the parent's kind (region, healthcare_region) or its subkind.
ALLOWED_PARENTS: dict[Subkind, frozenset[str]] = {
    Subkind.RPO: frozenset({UnitKind.REGION, UnitKind.HEALTHCARE_REGION}),
    Subkind.RSG: frozenset({UnitKind.REGION, UnitKind.HEALTHCARE_REGION}),
    Subkind.RAG: frozenset({Subkind.RPO, Subkind.RSG}),
    Subkind.SAMORDNINGSRAD: frozenset({UnitKind.REGION}),
    Subkind.PRIMARVARDSRAD: frozenset({UnitKind.REGION}),
    Subkind.REGIONALT_PROCESSTEAM: frozenset(
        {Subkind.RPO, Subkind.SAMORDNINGSRAD, Subkind.PRIMARVARDSRAD}
    ),
    Subkind.LPO: frozenset({UnitKind.REGION}),
    Subkind.KS_RAD: frozenset({UnitKind.REGION, UnitKind.HEALTHCARE_REGION}),
    Subkind.STODFUNKTION: frozenset({UnitKind.REGION, Subkind.KS_RAD}),
    Subkind.FORVALTNING: frozenset({UnitKind.REGION}),
    Subkind.VERKSAMHET: frozenset({Subkind.FORVALTNING, UnitKind.REGION}),
    Subkind.LOKALT_PROCESSTEAM: frozenset(
        {Subkind.VERKSAMHET, Subkind.FORVALTNING, Subkind.REGIONALT_PROCESSTEAM}
    ),
    Subkind.LAG: frozenset({Subkind.LPO}),
    Subkind.KOMMUN: frozenset({UnitKind.REGION}),
}

# Programme units may name the NPO they mirror (an NPO's code) or the national primary care
# council (MIRRORS_PRIMARY_CARE).
PROGRAMME_SUBKINDS = frozenset(
    {
        Subkind.RPO,
        Subkind.LPO,
        Subkind.SAMORDNINGSRAD,
        Subkind.PRIMARVARDSRAD,
        Subkind.REGIONALT_PROCESSTEAM,
    }
)
MIRRORS_PRIMARY_CARE = "primarvardsradet"


def label(subkind: str | None) -> str | None:
    """The Swedish label of ``subkind`` (None for a unit without one)."""
    return SUBKIND_LABELS[Subkind(subkind)] if subkind else None


def parent_text(subkind: Subkind) -> str:
    """Where ``subkind`` may sit, in Swedish, for error messages and help texts."""
    names = sorted(
        SUBKIND_LABELS[Subkind(p)] if p in SUBKIND_KINDS else UNIT_KIND_LABELS[UnitKind(p)]
        for p in ALLOWED_PARENTS[subkind]
    )
    return " eller ".join(name[0].lower() + name[1:] for name in names)
