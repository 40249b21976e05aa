"""A case on one printable page (/arenden/<id>/sammanfattning): its facts, what the user may
do next and its history, newest first, without the page's forms and diagram."""

from __future__ import annotations

from typing import Any

from flask import render_template

from kflow.engine.read import readable_case
from kflow.queries import casepage as page_queries
from kflow.queries import units as unit_queries
from kflow.states import MACHINES
from kflow.web import boundary
from kflow.web.ui import casepage
from kflow.web.ui.base import authority
from kflow.web.ui.cases import bp
from kflow.web.ui.labels import today


@bp.get("/arenden/<int:case_id>/sammanfattning")
def summary(case_id: int) -> Any:
    session = boundary.session()
    auth = authority()
    case = readable_case(session, auth, case_id)
    ks = page_queries.knowledge_support_of(session, case)
    units = unit_queries.by_id(
        session, (case.owner_id, case.assignee_id, case.region_id, case.recipient_id)
    )
    auth.prefetch_cases([case], [ks.owner_id] if ks else [])
    timeline, total = casepage.timeline(session, case, newest_first=True)
    settings = boundary.runtime().settings
    return render_template(
        "ui/case_summary.html",
        case=case,
        machine=MACHINES[case.type],
        heading=casepage.heading(case, units),
        facts=casepage.facts(case, units, ks, today(), settings.timezone),
        next_steps=[
            MACHINES[case.type].triggers[name].label for name in auth.allowed_triggers(case)
        ],
        timeline=timeline,
        history_total=total,
    )
