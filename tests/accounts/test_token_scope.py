"""No API token acts beyond the reach of whoever made it.

The rule (kflow.accounts.tokens.token_acts): a token an administrator made for another user (in
Administration, API-nycklar) records its minter, and acts only while the minter is active,
holds ``admin``, and administers every unit the user holds a role in. A token the user made
themself (signed in, or with a token of their own) and one an operator made at the command line
have no minter and act for the user wherever the user's roles reach. A token made with a
minted token inherits its minter.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kflow.accounts import tokens as api_tokens
from kflow.accounts.models import ApiToken
from kflow.org import users as org_users
from kflow.org.models import Membership
from tests.support.ui_support import Ui
from tests.support.world import World


def mint(ui: Ui, admin: str, email: str) -> str:
    """A token for ``email``, made by ``admin`` in the admin pages."""
    ui.login(admin)
    page = ui.post("/admin/api-nycklar", {"email": email, "name": "Integration"}, expect=200)
    plain = page.doc.by_id("token-value").attrs["value"]
    ui.post("/logout", {}, expect=303)
    return plain


def me(ui: Ui, token: str) -> int:
    return ui.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def new_user(world: World, name: str) -> None:
    user = org_users.create_user(world.session, f"{name}@test.se", name.title())
    world.session.flush()
    world.users[name] = user


def grant(world: World, who: str, role: str, unit: str) -> None:
    org_users.grant(world.session, world.users[who], role, world.units[unit])
    world.session.flush()


def revoke(world: World, who: str, role: str, unit: str) -> None:
    org_users.revoke(world.session, world.users[who], role, world.units[unit])
    world.session.flush()


def test_regional_admins_token_stops_when_the_user_becomes_an_npo_chair(
    ui: Ui, world: World
) -> None:
    new_user(world, "integration")
    token = mint(ui, "vgr-admin", "integration@test.se")
    minted = world.session.scalar(select(ApiToken).where(ApiToken.prefix == token[:10]))
    assert minted is not None and minted.minted_by_id == world.users["vgr-admin"].id
    assert me(ui, token) == 200
    grant(world, "integration", "chair", "npo-psykisk-halsa")
    assert me(ui, token) == 401
    assert api_tokens.user_for_token(world.session, token) is None
    # Nor can it act as the chair on a case of the NPO.
    ks = world.ks_in("need_identified")
    answer = ui.client.post(
        f"/api/v1/knowledge-supports/{ks.id}/transitions",
        json={"trigger": "commission"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 401
    assert ks.state == "need_identified"
    # Back within the minter's reach, it acts again.
    revoke(world, "integration", "chair", "npo-psykisk-halsa")
    assert me(ui, token) == 200


def test_regional_admins_token_acts_while_every_role_lies_in_the_region(
    ui: Ui, world: World
) -> None:
    new_user(world, "integration")
    grant(world, "integration", "member", "vgr-psyk-1")
    token = mint(ui, "vgr-admin", "integration@test.se")
    assert me(ui, token) == 200
    grant(world, "integration", "local_lead", "vgr-psyk-2")
    grant(world, "integration", "viewer", "vgr")
    assert me(ui, token) == 200
    grant(world, "integration", "viewer", "skane")
    assert me(ui, token) == 401


def test_root_admins_token_follows_the_user_everywhere(ui: Ui, world: World) -> None:
    new_user(world, "integration")
    token = mint(ui, "admin", "integration@test.se")
    grant(world, "integration", "chair", "npo-psykisk-halsa")
    grant(world, "integration", "coordinator", "skane")
    assert me(ui, token) == 200


def test_own_and_operator_tokens_have_no_minter(ui: Ui, world: World) -> None:
    new_user(world, "integration")
    operator_token = api_tokens.create_token(world.session, world.users["integration"], "cli")[1]
    world.session.flush()
    answer = ui.client.post(
        "/api/v1/tokens",
        json={"name": "egen"},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert answer.status_code == 201
    own = answer.get_json()["token"]
    grant(world, "integration", "chair", "npo-psykisk-halsa")
    assert me(ui, operator_token) == 200
    assert me(ui, own) == 200
    assert (
        world.session.scalar(select(ApiToken.minted_by_id).where(ApiToken.prefix == own[:10]))
        is None
    )


def test_a_token_made_with_a_minted_token_inherits_its_minter(ui: Ui, world: World) -> None:
    new_user(world, "integration")
    minted = mint(ui, "vgr-admin", "integration@test.se")
    answer = ui.client.post(
        "/api/v1/tokens", json={"name": "syskon"}, headers={"Authorization": f"Bearer {minted}"}
    )
    assert answer.status_code == 201
    sibling = answer.get_json()["token"]
    assert me(ui, sibling) == 200
    grant(world, "integration", "chair", "npo-psykisk-halsa")
    assert me(ui, minted) == 401
    assert me(ui, sibling) == 401


@pytest.mark.parametrize("change", ["deactivated", "no_longer_admin"])
def test_a_token_stops_when_its_minter_no_longer_administers(
    ui: Ui, world: World, change: str
) -> None:
    new_user(world, "integration")
    grant(world, "integration", "member", "vgr-psyk-1")
    token = mint(ui, "vgr-admin", "integration@test.se")
    assert me(ui, token) == 200
    minter = world.users["vgr-admin"]
    if change == "deactivated":
        minter.is_active = False
    else:
        membership = world.session.scalar(
            select(Membership).where(Membership.user_id == minter.id, Membership.role == "admin")
        )
        assert membership is not None
        world.session.delete(membership)
    world.session.flush()
    assert me(ui, token) == 401
