"""All mapped classes; importing this module registers every table on Base.metadata."""

from kflow.models.cases import (
    CASE_CLASSES,
    Case,
    CaseRow,
    ConsultationResponse,
    KnowledgeSupport,
    LocalImplementation,
    RegionalAdaptation,
)
from kflow.models.history import CREATE_TRIGGER, SYSTEM_ACTOR, CaseEvent
from kflow.models.indicators import Indicator, Measurement
from kflow.models.mail import RUNGS, Notification, OutboxMail, Reminder
from kflow.models.org import (
    NATIONAL_KINDS,
    ROLE_LABELS,
    UNIT_KIND_LABELS,
    ApiToken,
    HealthcareRegionMember,
    Membership,
    Role,
    Unit,
    UnitClosure,
    UnitKind,
    User,
)
from kflow.models.security import LoginFailure, SignInSession

__all__ = [
    "CASE_CLASSES",
    "CREATE_TRIGGER",
    "NATIONAL_KINDS",
    "ROLE_LABELS",
    "RUNGS",
    "SYSTEM_ACTOR",
    "UNIT_KIND_LABELS",
    "ApiToken",
    "Case",
    "CaseEvent",
    "CaseRow",
    "ConsultationResponse",
    "HealthcareRegionMember",
    "Indicator",
    "KnowledgeSupport",
    "LocalImplementation",
    "LoginFailure",
    "Measurement",
    "Membership",
    "Notification",
    "OutboxMail",
    "RegionalAdaptation",
    "Reminder",
    "Role",
    "SignInSession",
    "Unit",
    "UnitClosure",
    "UnitKind",
    "User",
]
