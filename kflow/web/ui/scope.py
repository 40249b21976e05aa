"""The *Min region* / *Min enhet* filter of Översikt and Försenade, remembered per user.

The choice is kept with the user (``users.overview_scope``): chosen once, both pages keep it,
across sign-ins and devices, until the user chooses again. A page view only reads; the new
choice is written after the request, in a transaction of its own (``boundary.afterwards``).
"""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from kflow.org import users
from kflow.queries import places
from kflow.web import boundary
from kflow.web.ui.base import authority

ALL, REGION, UNIT = "all", "region", "unit"
SCOPES = {ALL: "Alla", REGION: "Min region", UNIT: "Min enhet"}


def chosen(args: MultiDict[str, str]) -> str:
    """The scope the request asks for (and from now on remembered), else the remembered one."""
    actor = authority().actor
    remembered = actor.user.overview_scope if actor.user is not None else None
    asked = args.get("scope", "")
    if asked in SCOPES:
        if actor.user is not None and remembered != asked:
            user_id = actor.user.id
            boundary.afterwards(
                "the overview scope",
                lambda session: users.remember_overview_scope(session, user_id, asked),
            )
        return asked
    return remembered if remembered in SCOPES else ALL


def places_of_user() -> places.Places:
    """The signed-in user's regions and units."""
    return places.of_units(boundary.session(), authority().member_unit_ids)
