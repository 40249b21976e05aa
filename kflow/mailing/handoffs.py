"""The hand-off mail: new cases (a Spawn's, a Cascade's that tells, a report's recipient) mailed
at once to the people who can act on them (lifecycle.md §4), one mail per person.

The mail names what each due date asks ("kvittera senast", from the case type's ``due_says``)
and a later target ("infört senast"), who handed the cases over and what they wrote. A case
nobody can act on (a local unit with no ``local_lead`` or ``member`` yet) is not lost in
silence: the region's coordinators are told, so they can staff the unit or act themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.orm import Session

from kflow.config import Settings
from kflow.mailing import notify
from kflow.mailing.outbox import Mail, enqueue
from kflow.org.roles import Role
from kflow.states import MACHINES


def handoff(
    session: Session,
    settings: Settings,
    case_ids: Sequence[int],
    cause_key: str,
    *,
    sender: str = "",
    comment: str = "",
) -> int:
    """Mail the people who can act on newly created cases, one mail per person; tell the
    region's coordinators of those nobody can act on. Returns the mails queued."""
    facts = notify.load_facts(session, case_ids)
    if not facts:
        return 0
    by_user: dict[int, list[notify.CaseFacts]] = defaultdict(list)
    unreached: list[notify.CaseFacts] = []
    for case_id, people in notify.actors(session, list(facts.values())).items():
        for user_id in people:
            by_user[user_id].append(facts[case_id])
        if not people:
            unreached.append(facts[case_id])
    users = notify.users_by_id(session, by_user)
    said = {"sender": sender, "comment": comment}
    mails = []
    for user_id, items in sorted(by_user.items()):
        items.sort(key=lambda f: f.id)
        user = users[user_id]
        mails.append(
            Mail(
                key=f"handoff:{cause_key}:{user_id}",
                to_addr=user.email,
                template="handoff",
                context={
                    "name": user.name,
                    "items": [f.item(settings) for f in items],
                    "reason": MACHINES[items[0].type].handoff_reason,
                    **said,
                },
            )
        )
    mails += _unreached(session, settings, unreached, cause_key, said)
    return enqueue(session, settings, mails)


def _unreached(
    session: Session,
    settings: Settings,
    unreached: list[notify.CaseFacts],
    cause_key: str,
    said: dict[str, str],
) -> list[Mail]:
    """One mail per coordinator of a region holding cases nobody can act on."""
    by_region: dict[int, list[notify.CaseFacts]] = defaultdict(list)
    for f in unreached:
        # A region's own case (a consultation response, say) with nobody: its coordinator
        # would be among those who act, so there is no one further to tell.
        if f.region_id is not None and f.owner_id != f.region_id:
            by_region[f.region_id].append(f)
    if not by_region:
        return []
    coordinators = notify.holders(session, by_region, Role.COORDINATOR)
    people = notify.users_by_id(session, {u for ids in coordinators.values() for u in ids})
    mails = []
    for region_id, items in sorted(by_region.items()):
        items.sort(key=lambda f: f.id)
        for user_id in sorted(coordinators.get(region_id, ())):
            user = people[user_id]
            mails.append(
                Mail(
                    key=f"unreached:{cause_key}:{user_id}",
                    to_addr=user.email,
                    template="unreached",
                    context={
                        "name": user.name,
                        "items": [f.item(settings) for f in items],
                        **said,
                    },
                )
            )
    return mails
