"""Kinds of unit and roles, with their Swedish labels (lifecycle.md §1)."""

from __future__ import annotations

from enum import StrEnum


class UnitKind(StrEnum):
    ROOT = "root"
    NATIONAL_COUNCIL = "national_council"
    NPO = "npo"
    NSG = "nsg"
    NAG = "nag"
    HEALTHCARE_REGION = "healthcare_region"
    REGION = "region"
    REGIONAL_GROUP = "regional_group"
    LOCAL_UNIT = "local_unit"


UNIT_KIND_LABELS = {
    UnitKind.ROOT: "Hela landet",
    UnitKind.NATIONAL_COUNCIL: "Nationellt råd",
    UnitKind.NPO: "Nationellt programområde",
    UnitKind.NSG: "Nationell samverkansgrupp",
    UnitKind.NAG: "Nationell arbetsgrupp",
    UnitKind.HEALTHCARE_REGION: "Sjukvårdsregion",
    UnitKind.REGION: "Region",
    UnitKind.REGIONAL_GROUP: "Regional grupp",
    UnitKind.LOCAL_UNIT: "Lokal enhet",
}


NATIONAL_KINDS = frozenset({UnitKind.NATIONAL_COUNCIL, UnitKind.NPO, UnitKind.NSG})


class Role(StrEnum):
    ADMIN = "admin"
    CHAIR = "chair"
    PROCESS_LEAD = "process_lead"
    COORDINATOR = "coordinator"
    LOCAL_LEAD = "local_lead"
    MEMBER = "member"
    VIEWER = "viewer"


ROLE_LABELS = {
    Role.ADMIN: "Administratör",
    Role.CHAIR: "Ordförande",
    Role.PROCESS_LEAD: "Processledare",
    Role.COORDINATOR: "Samordnare",
    Role.LOCAL_LEAD: "Lokalt ansvarig",
    Role.MEMBER: "Ledamot",
    Role.VIEWER: "Läsare",
}
