"""/api/v1/tokens: one's own API tokens, hashed at rest, listed, made and revoked (issue 6)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa

from kflow.accounts import tokens as api_tokens
from kflow.accounts.models import ApiToken
from kflow.db import utcnow
from tests.support.api_support import Api
from tests.support.world import World

FIELDS = {"id", "name", "prefix", "created_at", "last_used_at", "revoked_at"}


def stored(world: World, token_id: int) -> ApiToken:
    world.session.expire_all()
    token = world.session.get(ApiToken, token_id)
    assert token is not None
    return token


def test_create_returns_the_secret_once_and_stores_only_its_hash(api: Api, world: World) -> None:
    reply = api.request(
        "POST", "/api/v1/tokens", who="vgr-lead", json={"name": " mitt skript "}, expect=201
    )
    made = reply.json
    assert set(made) == FIELDS | {"token"}
    assert made["token"].startswith("kf_") and len(made["token"]) > 40
    assert (made["name"], made["last_used_at"], made["revoked_at"]) == ("mitt skript", None, None)
    assert made["token"].startswith(made["prefix"])
    assert reply.headers["Cache-Control"] == "no-store"
    row = stored(world, made["id"])
    assert row.token_hash == hashlib.sha256(made["token"].encode()).hexdigest()
    columns = world.session.execute(
        sa.select(ApiToken.__table__).where(ApiToken.id == made["id"])
    ).one()
    assert made["token"] not in [str(value) for value in columns]
    # The new token works, as its owner; the list never shows a hash or the secret again.
    me = api.request(
        "GET", "/api/v1/me", headers={"Authorization": f"Bearer {made['token']}"}, expect=200
    )
    assert me.json["email"] == "vgr-lead@test.se"
    listed = api.request("GET", "/api/v1/tokens", who="vgr-lead", expect=200)
    assert listed.headers["Cache-Control"] == "no-store"
    for item in listed.json["items"]:
        assert set(item) == FIELDS
    assert made["token"] not in str(listed.json) and row.token_hash not in str(listed.json)


def test_the_list_holds_ones_own_tokens_newest_first_revoked_ones_too(
    api: Api, world: World
) -> None:
    api.token("vgr-lead")  # the token the requests below use
    mine = [api.post("/api/v1/tokens", "vgr-lead", {"name": f"n{i}"}, expect=201) for i in range(3)]
    theirs = api.post("/api/v1/tokens", "skane-lead", {}, expect=201)
    api.request("DELETE", f"/api/v1/tokens/{mine[0]['id']}", who="vgr-lead", expect=204)
    listed = api.get("/api/v1/tokens", "vgr-lead")
    ids = [item["id"] for item in listed["items"]]
    assert listed["total"] == 4 and len(ids) == 4
    assert ids[:3] == [mine[2]["id"], mine[1]["id"], mine[0]["id"]]
    assert theirs["id"] not in ids
    revoked = next(item for item in listed["items"] if item["id"] == mine[0]["id"])
    assert revoked["revoked_at"] is not None
    page = api.get("/api/v1/tokens", "vgr-lead", limit=2, offset=1)
    assert [item["id"] for item in page["items"]] == ids[1:3] and page["total"] == 4
    api.error("GET", "/api/v1/tokens?limit=0", "vgr-lead", 422, "validation_error")


def test_revoking_is_immediate_and_repeatable(api: Api, world: World) -> None:
    made = api.post("/api/v1/tokens", "local-lead", {"name": "engång"}, expect=201)
    headers = {"Authorization": f"Bearer {made['token']}"}
    api.request("GET", "/api/v1/me", headers=headers, expect=200)
    # A token may revoke itself; the very next request with it is refused.
    api.request("DELETE", f"/api/v1/tokens/{made['id']}", headers=headers, expect=204)
    refused = api.error("GET", "/api/v1/me", None, 401, "unauthenticated", headers=headers)
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="kflow"'
    first = stored(world, made["id"]).revoked_at
    assert first is not None
    api.request("DELETE", f"/api/v1/tokens/{made['id']}", who="local-lead", expect=204)
    assert stored(world, made["id"]).revoked_at == first
    api.error("POST", "/api/v1/tokens", None, 401, "unauthenticated", headers=headers, json={})


@pytest.mark.parametrize("who", ["vgr-lead", "admin", "vgr-admin"])
def test_another_users_token_is_not_found_even_for_admins(api: Api, world: World, who: str) -> None:
    """Through the API everyone manages only their own tokens; administrators revoke others' in
    the web UI, within the units they administer. Another's id looks like no id at all."""
    victim = api.post("/api/v1/tokens", "vgr-coordinator", {"name": "hemlig"}, expect=201)
    other = api.error("DELETE", f"/api/v1/tokens/{victim['id']}", who, 404, "not_found")
    missing_id = victim["id"] + 10_000
    missing = api.error("DELETE", f"/api/v1/tokens/{missing_id}", who, 404, "not_found")
    assert other.json["error"]["message"].replace(str(victim["id"]), "#") == missing.json["error"][
        "message"
    ].replace(str(missing_id), "#")
    assert stored(world, victim["id"]).revoked_at is None
    api.request(
        "GET", "/api/v1/me", headers={"Authorization": f"Bearer {victim['token']}"}, expect=200
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": 5}, 422, "validation_error"),
        ({"name": "x" * 201}, 422, "validation_error"),
        ([], 400, "bad_request"),
    ],
)
def test_bad_requests_make_no_token(
    api: Api, world: World, body: object, status: int, code: str
) -> None:
    api.token("npo-lead")
    before = world.session.scalar(sa.select(sa.func.count()).select_from(ApiToken))
    api.error("POST", "/api/v1/tokens", "npo-lead", status, code, json=body)
    assert world.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == before


def test_a_user_has_at_most_fifty_live_tokens(api: Api, world: World) -> None:
    api.token("npo-member")
    user = world.users["npo-member"]
    for _ in range(api_tokens.MAX_ACTIVE - 2):
        api_tokens.create_token(world.session, user, "batch")
    world.session.flush()
    last = api.post("/api/v1/tokens", "npo-member", {}, expect=201)
    api.error("POST", "/api/v1/tokens", "npo-member", 422, "validation_error", json={})
    api.request("DELETE", f"/api/v1/tokens/{last['id']}", who="npo-member", expect=204)
    api.post("/api/v1/tokens", "npo-member", {}, expect=201)


def test_last_used_is_recorded_at_most_every_few_minutes(api: Api, world: World) -> None:
    token, plain = api_tokens.create_token(world.session, world.users["vgr-viewer"], "mätare")
    world.session.flush()
    headers = {"Authorization": f"Bearer {plain}"}
    assert token.last_used_at is None
    before = utcnow()
    api.request("GET", "/api/v1/me", headers=headers, expect=200)  # a read records the use
    first = stored(world, token.id).last_used_at
    assert first is not None and first >= before - dt.timedelta(seconds=1)
    api.request("GET", "/api/v1/inbox", headers=headers, expect=200)
    assert stored(world, token.id).last_used_at == first  # not again within five minutes

    stale = utcnow() - api_tokens.LAST_USED_RESOLUTION - dt.timedelta(seconds=5)
    world.session.execute(
        sa.update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=stale)
    )
    world.session.flush()
    # A refused write is a use too.
    api.error(
        "POST",
        "/api/v1/knowledge-supports",
        None,
        422,
        "validation_error",
        headers=headers,
        json={},
    )
    later = stored(world, token.id).last_used_at
    assert later is not None and later > stale + dt.timedelta(seconds=4)
    listed = api.get("/api/v1/tokens", "vgr-viewer")
    shown = next(item for item in listed["items"] if item["id"] == token.id)
    assert dt.datetime.fromisoformat(shown["last_used_at"]) == later


def test_an_inactive_users_tokens_stop_working(api: Api, world: World) -> None:
    api.get("/api/v1/me", "rpo-lead")
    world.users["rpo-lead"].is_active = False
    world.session.flush()
    api.error("GET", "/api/v1/me", "rpo-lead", 401, "unauthenticated")
    api.error("GET", "/api/v1/tokens", "rpo-lead", 401, "unauthenticated")
