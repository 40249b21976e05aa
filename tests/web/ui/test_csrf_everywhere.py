"""CSRF: every state-changing route of the web UI refuses a form without a valid token.

The routes are read from the app's URL map, so a route added later is covered without anyone
remembering to add it here. The JSON API needs no CSRF token because it never accepts the
session cookie: only a bearer token, which a browser does not add by itself.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from kflow.accounts import tokens as api_tokens
from kflow.db import Base
from kflow.org import users as org_users
from kflow.runtime import Runtime
from tests.support.ui_support import Ui, csrf_token
from tests.support.world import World

SAFE = {"GET", "HEAD", "OPTIONS"}


def snapshot(world: World) -> dict[str, int]:
    """The row count of every table: a refused form may change none of them."""
    session = world.session
    session.expire_all()
    return {
        table.name: session.scalar(sa.select(sa.func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def test_every_state_changing_ui_route_needs_the_csrf_token(runtime: Runtime, world: World) -> None:
    ks = world.ks_in("published")
    ra = world.adaptation_in("adopted", ks)
    li = world.implementation(world.adaptation_in("implementing"))
    admin = world.users["admin"]
    # The admin also holds the roles that make each form below one that would succeed.
    for role, unit in (("coordinator", "vgr"), ("chair", "npo-psykisk-halsa")):
        org_users.grant(world.session, admin, role, world.units[unit])
    token, _ = api_tokens.create_token(world.session, world.users["nobody"], "x")
    world.session.flush()
    membership = world.users["local2-lead"].memberships[0]
    paths = {
        "case_id": {
            "cases.fire": ra.id,
            "cases.report_measurement": li.id,
            "cases.correct_measurement": li.id,
            "create.define_indicator": ks.id,
            "basis.upload": ks.id,
            "basis.comment": ra.id,
        },
        "token_id": token.id,
        "membership_id": membership.id,
        "user_id": world.users["nobody"].id,
        "measurement_id": 1,
    }
    forms: dict[str, dict[str, Any]] = {
        "cases.fire": {"trigger": "start_adaptation", "lock_version": str(ra.lock_version)},
        "create.define_indicator": {"name": "Andel", "unit_of_measure": "procent"},
        "create.new": {"title": "Nytt", "kind": "rapport", "owner": "npo-psykisk-halsa"},
        "admin.create_unit": {"kind": "local_unit", "parent": "vgr", "code": "ny", "name": "Ny"},
        "admin.create_user": {"email": "ny@test.se", "name": "Ny", "password": "p" * 12},
        "admin.grant": {"email": "nobody@test.se", "unit": "vgr", "role": "viewer"},
        "admin.edit_user": {"name": "Nytt namn", "hsa_id": ""},
        "admin.deactivate_user": {"bekraftat": "ja"},
        "admin.set_password": {"password": "p" * 12},
        "basis.comment": {"comment": "Förfalskad kommentar"},
    }
    ui = Ui(runtime, world, csrf=True)
    ui.set_password("admin")
    login = {"email": "admin@test.se", "password": "correct-horse-battery"}
    token_field = csrf_token(ui.get("/login").html)
    assert ui.post("/login", {**login, "csrf_token": token_field}).status == 303
    before = snapshot(world)
    refused = []
    for rule in ui.app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/static/")):
            continue
        for method in sorted((rule.methods or set()) - SAFE):
            assert method == "POST", f"{rule.rule} takes {method}: only forms (POST) change state"

            def value(match: re.Match[str], endpoint: str = rule.endpoint) -> str:
                found = paths[match.group(1)]
                return str(found[endpoint] if isinstance(found, dict) else found)

            path = re.sub(r"<(?:\w+:)?(\w+)>", value, rule.rule)
            form = forms.get(rule.endpoint, {})
            for forged in ({}, {"csrf_token": "forged"}, {"csrf_token": token_field + "x"}):
                response = ui.client.open(path, method=method, data={**form, **forged})
                text = response.get_data(as_text=True)
                assert response.status_code == 400, (rule.endpoint, forged, response.status_code)
                assert "säkerhetskontrollen (CSRF)" in text, rule.endpoint
            refused.append(rule.endpoint)
    assert snapshot(world) == before, "a form without a valid CSRF token changed something"
    assert {"auth.login", "auth.logout", "cases.fire", "admin.revoke_token"} <= set(refused)
    assert len(refused) >= 12
    # The same form with the page's token goes through: the token is what was missing.
    page = ui.get(f"/arenden/{ra.id}")
    form = {**forms["cases.fire"], "csrf_token": csrf_token(page.html)}
    assert ui.post(f"/arenden/{ra.id}/handling", form).status == 303
    world.session.refresh(ra)
    assert ra.state == "adapting"


def test_the_api_ignores_the_session_cookie(runtime: Runtime, world: World) -> None:
    """A signed-in browser cannot be made to call the API: without a bearer token it is 401."""
    ui = Ui(runtime, world, csrf=True)
    ui.set_password("npo-chair")
    field = csrf_token(ui.get("/login").html)
    login = {"email": "npo-chair@test.se", "password": "correct-horse-battery"}
    assert ui.post("/login", {**login, "csrf_token": field}).status == 303
    ks = world.ks_in("need_identified")
    writes = [
        (
            "POST",
            "/api/v1/knowledge-supports",
            {"title": "X", "kind": "rapport", "owner": "npo-psykisk-halsa"},
        ),
        ("POST", f"/api/v1/knowledge-supports/{ks.id}/transitions", {"trigger": "commission"}),
        ("POST", "/api/v1/tokens", {}),
        ("DELETE", "/api/v1/tokens/1", None),
    ]
    for method, path, body in writes:
        response = ui.client.open(path, method=method, json=body)
        assert response.status_code == 401, (path, response.status_code)
    world.session.refresh(ks)
    assert ks.state == "need_identified"
