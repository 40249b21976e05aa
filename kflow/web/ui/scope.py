"""The *Min region* / *Min enhet* filter of Översikt and Försenade, remembered per user.

kflow has no table for user preferences and this change adds no migration, so the choice is
kept in the signed-in session (Flask's signed session cookie, which sign-in and sign-out clear):
chosen once, both pages keep it until the user signs out or chooses again.
"""

from __future__ import annotations

from flask import session as cookie
from werkzeug.datastructures import MultiDict

from kflow.queries import places
from kflow.web import boundary
from kflow.web.ui.base import authority

ALL, REGION, UNIT = "all", "region", "unit"
SCOPES = {ALL: "Alla", REGION: "Min region", UNIT: "Min enhet"}
KEY = "kflow_scope"


def chosen(args: MultiDict[str, str]) -> str:
    """The scope the request asks for (and from now on remembered), else the remembered one."""
    asked = args.get("scope", "")
    if asked in SCOPES:
        if cookie.get(KEY) != asked:
            cookie[KEY] = asked
        return asked
    remembered = cookie.get(KEY)
    return remembered if remembered in SCOPES else ALL


def places_of_user() -> places.Places:
    """The signed-in user's regions and units."""
    return places.of_units(boundary.session(), authority().member_unit_ids)
