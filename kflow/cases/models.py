"""The case types, stored in one table (single-table inheritance).

One table gives the history one foreign key, the inbox one indexed query across tiers, and lets
partial unique indexes make duplicate fan-out impossible at the database level.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kflow.db import Base, utcnow
from kflow.org.models import Unit
from kflow.states import MACHINES
from kflow.states import knowledge_support as ks_states
from kflow.states.base import CaseType


def _quoted(values: Any) -> str:
    return ", ".join(f"'{v}'" for v in values)


_STATE_CHECK = " OR ".join(
    f"(type = '{name}' AND state IN ({_quoted(m.states)}))" for name, m in MACHINES.items()
)
_LI_FINAL = _quoted(sorted(MACHINES[CaseType.LOCAL_IMPLEMENTATION].final))
# The tiers below a knowledge support: each of their cases belongs to one.
_SUPPORT_TIERS = (
    CaseType.CONSULTATION_RESPONSE,
    CaseType.REGIONAL_ADAPTATION,
    CaseType.LOCAL_IMPLEMENTATION,
)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_STATE_CHECK, name="state"),
        CheckConstraint(f"kind IS NULL OR kind IN ({_quoted(ks_states.KINDS)})", name="kind"),
        CheckConstraint(
            f"type NOT IN ({_quoted(_SUPPORT_TIERS)}) OR knowledge_support_id IS NOT NULL",
            name="parent",
        ),
        Index("ix_cases_type_state", "type", "state", "due"),
        # The overview's knowledge supports, newest first, a page read from the index in order.
        Index("ix_cases_type_id", "type", "id"),
        # Lists reach cases through the units a person works in, then by type and state (the
        # inbox, visibility); with the due date in the index they count without reading rows,
        # and a region's (with the id) list its cases of a state without reading them either.
        Index("ix_cases_owner", "owner_id", "type", "state", "due"),
        Index("ix_cases_region", "region_id", "type", "state", "due", "id"),
        # The overview counts implementations per knowledge support, region and state.
        Index("ix_cases_knowledge_support", "knowledge_support_id", "type", "region_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    lock_version: Mapped[int] = mapped_column(default=1)
    owner_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # The region a regional or local case belongs to (its owner for regional cases).
    region_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    knowledge_support_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    # The unit the case reports to (a follow-up report's next unit up): roles held there, or
    # above it, count for the triggers granted to the recipient (Scope.RECIPIENT).
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # The case that created this one: the adaptation of a local implementation.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    due: Mapped[dt.date | None]
    # The day the next reminder rung for ``due`` falls due (NULL: none left). Lets a sweep read
    # only the cases with something to send, through a partial index.
    next_reminder_on: Mapped[dt.date | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    owner: Mapped[Unit] = relationship(foreign_keys=[owner_id])
    assignee: Mapped[Unit | None] = relationship(foreign_keys=[assignee_id])
    region: Mapped[Unit | None] = relationship(foreign_keys=[region_id])
    recipient: Mapped[Unit | None] = relationship(foreign_keys=[recipient_id])

    # with_polymorphic "*": every query on Case loads the subclass columns too (they live in
    # this one table), so reading one during a trigger never lazy-loads and flushes early.
    __mapper_args__ = {
        "polymorphic_on": type,
        "version_id_col": lock_version,
        "with_polymorphic": "*",
    }

    @property
    def machine(self) -> Any:
        return MACHINES[self.type]

    @property
    def state_label(self) -> str:
        return str(MACHINES[self.type].state_label(self.state))

    @property
    def is_open(self) -> bool:
        return self.state not in MACHINES[self.type].final

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.state}>"


class KnowledgeSupport(Case):
    __mapper_args__ = {"polymorphic_identity": CaseType.KNOWLEDGE_SUPPORT.value}

    title: Mapped[str] = mapped_column(String(300), nullable=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=True)
    description: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(nullable=True)
    published_version: Mapped[int | None]
    published_at: Mapped[dt.datetime | None]
    next_review_due: Mapped[dt.date | None]
    # The current (or last) consultation round.
    consultation_round: Mapped[int | None]
    consultation_channel: Mapped[str | None] = mapped_column(String(32))
    consultation_deadline: Mapped[dt.date | None]
    # The published document (an http(s) URL), set at creation or when publishing.
    document_url: Mapped[str | None] = mapped_column(String(2000))

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("state", ks_states.State.NEED_IDENTIFIED.value)
        kwargs.setdefault("version", 1)
        super().__init__(**kwargs)


class ConsultationResponse(Case):
    __mapper_args__ = {"polymorphic_identity": CaseType.CONSULTATION_RESPONSE.value}

    round: Mapped[int] = mapped_column(nullable=True)
    position: Mapped[str | None] = mapped_column(String(32))

    knowledge_support: Mapped[KnowledgeSupport] = relationship(
        foreign_keys=[Case.knowledge_support_id], remote_side=[Case.id]
    )


class RegionalAdaptation(Case):
    __mapper_args__ = {"polymorphic_identity": CaseType.REGIONAL_ADAPTATION.value}

    adapted_version: Mapped[int] = mapped_column(nullable=True)
    decision_ref: Mapped[str | None] = mapped_column(String(200))

    knowledge_support: Mapped[KnowledgeSupport] = relationship(
        foreign_keys=[Case.knowledge_support_id], remote_side=[Case.id], viewonly=True
    )


class LocalImplementation(Case):
    __mapper_args__ = {"polymorphic_identity": CaseType.LOCAL_IMPLEMENTATION.value}

    # "Infört senast" given at hand-off: when implementation should be done.
    target_date: Mapped[dt.date | None]

    knowledge_support: Mapped[KnowledgeSupport] = relationship(
        foreign_keys=[Case.knowledge_support_id], remote_side=[Case.id], viewonly=True
    )
    adaptation: Mapped[RegionalAdaptation] = relationship(
        foreign_keys=[Case.parent_id], remote_side=[Case.id], viewonly=True
    )

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("state", MACHINES[CaseType.LOCAL_IMPLEMENTATION].initial)
        super().__init__(**kwargs)


class IndicatorList(Case):
    """An indikatorlista of a region or healthcare region (kflow.states.indicator_list)."""

    __mapper_args__ = {"polymorphic_identity": CaseType.INDICATOR_LIST.value}

    title: Mapped[str] = mapped_column(String(300), nullable=True, use_existing_column=True)
    year: Mapped[int | None]
    scope: Mapped[str | None] = mapped_column(String(16))
    decision_ref: Mapped[str | None] = mapped_column(String(200), use_existing_column=True)
    # The day after which the system closes an approved list (31 January of the next year).
    closes_on: Mapped[dt.date | None]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("state", MACHINES[CaseType.INDICATOR_LIST].initial)
        super().__init__(**kwargs)


class FollowUpReport(Case):
    """A rapport om måluppfyllelse och avvikelser (kflow.states.follow_up_report)."""

    __mapper_args__ = {"polymorphic_identity": CaseType.FOLLOW_UP_REPORT.value}

    period: Mapped[str | None] = mapped_column(String(16))
    # Frozen at submit: goal attainment, open deviations below, accepted reports from below.
    snapshot: Mapped[dict[str, Any] | None]
    analysis: Mapped[str | None] = mapped_column(Text)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("state", MACHINES[CaseType.FOLLOW_UP_REPORT].initial)
        super().__init__(**kwargs)


CASE_CLASSES: dict[str, type[Case]] = {
    CaseType.KNOWLEDGE_SUPPORT: KnowledgeSupport,
    CaseType.CONSULTATION_RESPONSE: ConsultationResponse,
    CaseType.REGIONAL_ADAPTATION: RegionalAdaptation,
    CaseType.LOCAL_IMPLEMENTATION: LocalImplementation,
    CaseType.INDICATOR_LIST: IndicatorList,
    CaseType.FOLLOW_UP_REPORT: FollowUpReport,
}


# Partial unique indexes that make duplicate fan-out impossible. Declared here because they
# name columns the subclasses add to the shared table.
_t = Case.__table__
_WHERE_RESPONSE = text("type = 'consultation_response'")
_WHERE_ADAPTATION = text("type = 'regional_adaptation'")
_WHERE_REPORT = text("type = 'follow_up_report'")
_WHERE_LIVE_LIST = text("type = 'indicator_list' AND state <> 'cancelled'")
_WHERE_OPEN_LI = text(f"type = 'local_implementation' AND state NOT IN ({_LI_FINAL})")
# Few cases have an assignee (a regional group working on an adaptation).
Index(
    "ix_cases_assignee",
    _t.c.assignee_id,
    _t.c.type,
    _t.c.state,
    _t.c.due,
    sqlite_where=_t.c.assignee_id.is_not(None),
    postgresql_where=_t.c.assignee_id.is_not(None),
)
# Försenade, a page at a time: a region's open cases of a type in due order, so that each
# part of the list reads only the first page's worth (kflow.queries.overdue).
Index(
    "ix_cases_region_due",
    _t.c.region_id,
    _t.c.type,
    _t.c.due,
    _t.c.id,
    sqlite_where=_t.c.due.is_not(None),
    postgresql_where=_t.c.due.is_not(None),
)
# Översikt: the knowledge supports published at least once, and those never published, each
# newest first and counted from an index of their own (a few thousand among millions of cases).
_WHERE_PUBLISHED = text("type = 'knowledge_support' AND published_version IS NOT NULL")
_WHERE_UNPUBLISHED = text("type = 'knowledge_support' AND published_version IS NULL")
Index(
    "ix_cases_ks_published",
    _t.c.id,
    sqlite_where=_WHERE_PUBLISHED,
    postgresql_where=_WHERE_PUBLISHED,
)
Index(
    "ix_cases_ks_unpublished",
    _t.c.id,
    sqlite_where=_WHERE_UNPUBLISHED,
    postgresql_where=_WHERE_UNPUBLISHED,
)
# The knowledge supports owned by a person's units (visibility's their_supports): a few
# thousand rows among millions, found by owner without reading the other cases of the type.
_WHERE_SUPPORT = text("type = 'knowledge_support'")
Index(
    "ix_cases_ks_owner",
    _t.c.owner_id,
    _t.c.id,
    sqlite_where=_WHERE_SUPPORT,
    postgresql_where=_WHERE_SUPPORT,
)
# Reports reach their recipient's inbox through it.
Index(
    "ix_cases_recipient",
    _t.c.recipient_id,
    _t.c.type,
    _t.c.state,
    _t.c.due,
    sqlite_where=_t.c.recipient_id.is_not(None),
    postgresql_where=_t.c.recipient_id.is_not(None),
)
# One indikatorlista per owner, year and scope (a cancelled one makes way for a new one).
Index(
    "ux_cases_list_year_scope",
    _t.c.owner_id,
    _t.c.year,
    _t.c.scope,
    unique=True,
    sqlite_where=_WHERE_LIVE_LIST,
    postgresql_where=_WHERE_LIVE_LIST,
)
# One follow-up report per unit and period.
Index(
    "ux_cases_report_period",
    _t.c.owner_id,
    _t.c.period,
    unique=True,
    sqlite_where=_WHERE_REPORT,
    postgresql_where=_WHERE_REPORT,
)
Index(
    "ix_cases_next_reminder_on",
    _t.c.next_reminder_on,
    sqlite_where=_t.c.next_reminder_on.is_not(None),
    postgresql_where=_t.c.next_reminder_on.is_not(None),
)
# One consultation response per round and region.
Index(
    "ux_cases_response_round_region",
    _t.c.knowledge_support_id,
    _t.c.round,
    _t.c.owner_id,
    unique=True,
    sqlite_where=_WHERE_RESPONSE,
    postgresql_where=_WHERE_RESPONSE,
)
# One regional adaptation per knowledge support and region.
Index(
    "ux_cases_adaptation_region",
    _t.c.knowledge_support_id,
    _t.c.owner_id,
    unique=True,
    sqlite_where=_WHERE_ADAPTATION,
    postgresql_where=_WHERE_ADAPTATION,
)
# One open local implementation per adaptation and unit.
Index(
    "ux_cases_open_implementation",
    _t.c.parent_id,
    _t.c.owner_id,
    unique=True,
    sqlite_where=_WHERE_OPEN_LI,
    postgresql_where=_WHERE_OPEN_LI,
)
