"""The remissammanställning: a knowledge support's consultation round on one page.

Every region's consultation response of the round with its position (``submit``), the comment
it was given with (``submit`` or ``decline``), who answered and when; the counts per position;
and the regions that have not answered. Read by the owner of the knowledge support and those
above it (``may_read``), who may read every response of it (``Authority.can_read``); others are
told the page does not exist.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.cases.events import CaseEvent
from kflow.cases.models import ConsultationResponse, KnowledgeSupport
from kflow.engine.authority import Authority
from kflow.org.models import Unit, User
from kflow.states import consultation_response as cr

POSITION_LABELS = dict(cr.POSITIONS)
ANSWERED = (cr.State.SUBMITTED, cr.State.DECLINED)  # the region has said its word
OPEN = tuple(str(s) for s in cr.OPEN)


@dataclasses.dataclass
class Answer:
    """One region's answer (or its absence)."""

    region: str
    case_id: int | None = None
    state: str | None = None
    state_label: str = "Ingen remiss"
    position: str | None = None
    comment: str = ""
    by: str = ""
    at: dt.datetime | None = None

    @property
    def position_label(self) -> str:
        if self.position:
            return POSITION_LABELS.get(self.position, self.position)
        return "Avstår" if self.state == cr.State.DECLINED else ""

    @property
    def answered(self) -> bool:
        return self.state in {str(s) for s in ANSWERED}


@dataclasses.dataclass
class Summary:
    round: int | None
    channel: str | None
    deadline: dt.date | None
    answers: list[Answer]
    counts: list[tuple[str, int]]  # (label, count): each position, then declined, then none

    @property
    def unanswered(self) -> list[Answer]:
        return [a for a in self.answers if not a.answered]

    @property
    def working(self) -> list[Answer]:
        return [a for a in self.answers if a.state == cr.State.DRAFTING]


def may_read(authority: Authority, ks: KnowledgeSupport) -> bool:
    """The owner of the knowledge support, and anyone above it, reads every answer."""
    return bool(authority.roles_at(ks.owner_id))


def summary(
    session: Session, ks: KnowledgeSupport, regions: Sequence[Unit], round_: int | None = None
) -> Summary:
    """The answers of round ``round_`` (default: the current one), a row per region in the
    order given; three reads."""
    number = round_ or ks.consultation_round
    responses = {
        r.region_id: r
        for r in session.scalars(
            select(ConsultationResponse).where(
                ConsultationResponse.knowledge_support_id == ks.id,
                ConsultationResponse.round == number,
            )
        )
    }
    said = _last_words(session, [r.id for r in responses.values()])
    answers = []
    for region in regions:
        response = responses.get(region.id)
        answer = Answer(region.name)
        if response is not None:
            answer.case_id = response.id
            answer.state = response.state
            answer.state_label = response.state_label
            answer.position = response.position
            if response.id in said:
                answer.comment, answer.by, answer.at = said[response.id]
        answers.append(answer)
    counts = [
        (label, sum(1 for a in answers if a.position == key and a.answered))
        for key, label in cr.POSITIONS
    ]
    counts.append(("Avstår", sum(1 for a in answers if a.state == cr.State.DECLINED)))
    counts.append(("Inte besvarat", sum(1 for a in answers if not a.answered)))
    return Summary(number, ks.consultation_channel, ks.consultation_deadline, answers, counts)


def _last_words(
    session: Session, response_ids: list[int]
) -> dict[int, tuple[str, str, dt.datetime]]:
    """response id -> (comment, who, when) of its answer (``submit`` or ``decline``)."""
    if not response_ids:
        return {}
    rows = session.execute(
        select(CaseEvent.case_id, CaseEvent.comment, User.name, CaseEvent.actor, CaseEvent.at)
        .outerjoin(User, User.id == CaseEvent.actor_id)
        .where(
            CaseEvent.case_id.in_(response_ids),
            CaseEvent.trigger.in_(("submit", "decline")),
        )
        .order_by(CaseEvent.id)
    )
    return {
        case_id: (comment or "", name or actor, at) for case_id, comment, name, actor, at in rows
    }


HEADER = ("Region", "Läge", "Ställningstagande", "Kommentar", "Besvarat av", "Besvarat")


def table(answers: Sequence[Answer], timezone: str) -> list[list[str]]:
    """The answers as rows of a download (HEADER), times in local time."""
    zone = ZoneInfo(timezone)
    return [
        [
            a.region,
            a.state_label,
            a.position_label,
            a.comment,
            a.by,
            a.at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if a.at else "",
        ]
        for a in answers
    ]
