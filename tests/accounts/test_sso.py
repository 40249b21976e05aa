"""Single sign-on's domain rules (kflow.accounts.sso): matching verified claims to a user,
creating one, and the roles a mapped group grants. The protocol itself is tested end to end in
tests/web/ui/test_oidc_login.py."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.accounts import sso
from kflow.accounts.events import AccountEventKind, history
from kflow.config import ConfigError, OidcSettings, Settings, load_settings
from kflow.org.models import Membership, Unit, User
from kflow.runtime import Runtime
from kflow.web import create_app
from tests.conftest import make_settings
from tests.support.world import World

ISSUER = "https://idp.example.se"
OIDC = OidcSettings(issuer=ISSUER, client_id="kflow", hsa_id_claim="hsa_id")
MAPPINGS = sso.parse_mappings(["samordnare=coordinator@vgr", "okand=member@finns-inte"])


def who(**claims: Any) -> sso.Identity:
    return sso.identity({"sub": "s-1", **claims}, OIDC)


def roles(session: Session, user: User) -> set[tuple[str, str]]:
    rows = session.execute(
        select(Membership.role, Unit.code)
        .join(Unit, Unit.id == Membership.unit_id)
        .where(Membership.user_id == user.id)
    )
    return {(role, code) for role, code in rows}


def kinds(session: Session, user: User) -> list[str]:
    return [event.kind for event in reversed(history(session, user.id))]


def test_role_mappings_are_parsed_or_refused_with_the_entry_named() -> None:
    assert sso.parse_mappings([" grupp = chair @ vgr "]) == (
        sso.RoleMapping("grupp", "chair", "vgr"),
    )
    with pytest.raises(ConfigError, match="'grupp=chair' is not '<group>=<role>@<unit code>'"):
        sso.parse_mappings(["grupp=chair"])
    with pytest.raises(ConfigError, match="unknown role 'kung'"):
        sso.parse_mappings(["grupp=kung@vgr"])


def test_an_unknown_role_in_a_mapping_stops_the_app_from_starting(
    settings: Settings, tmp_path: Path
) -> None:
    # The settings check the form (kflow.config); the roles are kflow's to know.
    broken = settings.replace(
        oidc=dataclasses.replace(OIDC, role_mappings=("grupp=kung@vgr",)),
        database_url=f"sqlite:///{tmp_path / 'kflow.db'}",
    )
    with pytest.raises(ConfigError, match=r"oidc\.role_mappings.*unknown role 'kung'"):
        create_app(Runtime.create(broken))


def test_the_identity_is_read_with_the_configured_claim_names() -> None:
    oidc = dataclasses.replace(OIDC, email_claim="upn", groups_claim="roller")
    claims = {
        "sub": "x",
        "upn": " Anna@Region.SE ",
        "roller": "en-grupp",
        "hsa_id": "se2321000131-e000000000001",
    }
    assert sso.identity(claims, oidc) == sso.Identity(
        subject="x",
        email="anna@region.se",
        name="anna@region.se",
        hsa_id="SE2321000131-E000000000001",
        groups=("en-grupp",),
    )
    # Not an HSA-id: left out, never stored; an address the provider has not checked: unused.
    unchecked = {**claims, "hsa_id": "SE1", "email_verified": False}
    found_unchecked = sso.identity(unchecked, oidc)
    assert (found_unchecked.hsa_id, found_unchecked.email) == (None, "")
    no_hsa = dataclasses.replace(OIDC, hsa_id_claim="")
    found = sso.identity({"sub": "x", "hsa_id": "SE1", "groups": ["a", 3, "b"]}, no_hsa)
    assert found.hsa_id is None and found.email == "" and found.groups == ("a", "b")


def test_the_hsa_id_is_matched_before_the_e_mail(session: Session, world: World) -> None:
    by_hsa, by_email = world.users["vgr-lead"], world.users["vgr-chair"]
    by_hsa.hsa_id = "SE2321000131-E1"
    session.flush()
    found = sso.sign_in(
        session, who(email=by_email.email, hsa_id="SE2321000131-E1"), OIDC, (), ISSUER
    )
    assert found is by_hsa


def test_a_user_matched_by_e_mail_keeps_the_hsa_id(session: Session, world: World) -> None:
    nobody = world.users["nobody"]
    found = sso.sign_in(
        session, who(email="NOBODY@test.se", hsa_id="SE2321000131-E9"), OIDC, (), ISSUER
    )
    assert found is nobody and nobody.hsa_id == "SE2321000131-E9"
    assert kinds(session, nobody) == [AccountEventKind.HSA_ID_SET]
    sso.sign_in(session, who(email="nobody@test.se", hsa_id="SE2321000131-E9"), OIDC, (), ISSUER)
    assert kinds(session, nobody) == [AccountEventKind.HSA_ID_SET]  # once


def test_an_address_of_an_account_with_another_hsa_id_is_refused(
    session: Session, world: World
) -> None:
    owner = world.users["vgr-chair"]
    owner.hsa_id = "SE2321000131-E1"
    session.flush()
    with pytest.raises(sso.SignInRefused, match="ett annat HSA-id"):
        sso.sign_in(session, who(email=owner.email, hsa_id="SE2321000131-E2"), OIDC, (), ISSUER)
    assert owner.hsa_id == "SE2321000131-E1"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"email": "ny@region.se"}, "Du har inget konto i kflow."),
        (
            {"email": "ny@region.se", "hsa_id": "SE2321000131-E11"},
            "eller ditt HSA-id (SE2321000131-E11)",
        ),
        ({"hsa_id": "SE2321000131-E11"}, "Du har inget konto i kflow."),
        ({"name": "Utan Post"}, "lämnade ingen e-postadress (uppgiften email)"),
    ],
)
def test_someone_unknown_is_refused_without_auto_create(
    session: Session, world: World, claims: dict[str, str], message: str
) -> None:
    with pytest.raises(sso.SignInRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        sso.sign_in(session, who(**claims), OIDC, MAPPINGS, ISSUER)
    assert session.scalar(select(User).where(User.email == "ny@region.se")) is None


def test_auto_create_makes_a_user_without_roles_and_records_it(
    session: Session, world: World
) -> None:
    oidc = dataclasses.replace(OIDC, auto_create=True)
    claims = {
        "email": "Ny@Region.se",
        "name": "Nina Ny",
        "hsa_id": "SE2321000131-E12",
        "groups": ["annan"],
    }
    user = sso.sign_in(session, who(**claims), oidc, MAPPINGS, ISSUER)
    assert (user.email, user.name, user.hsa_id, user.password_hash) == (
        "ny@region.se",
        "Nina Ny",
        "SE2321000131-E12",
        None,
    )
    assert roles(session, user) == set()
    (event,) = history(session, user.id)
    assert event.kind == AccountEventKind.CREATED_BY_SSO and event.actor == "kflow"
    assert event.detail == {"issuer": ISSUER, "subject": "s-1", "hsa_id": "SE2321000131-E12"}


def test_auto_create_refuses_an_address_kflow_cannot_use(session: Session, world: World) -> None:
    oidc = dataclasses.replace(OIDC, auto_create=True)
    with pytest.raises(sso.SignInRefused, match="Du har inget konto"):
        sso.sign_in(session, who(email="inte en adress"), oidc, (), ISSUER)


def test_an_inactive_user_is_refused(session: Session, world: World) -> None:
    world.users["nobody"].is_active = False
    with pytest.raises(sso.SignInRefused, match="inaktiverat"):
        sso.sign_in(session, who(email="nobody@test.se"), OIDC, (), ISSUER)


def test_mapped_groups_grant_roles_once_and_never_revoke(
    session: Session, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    lead = world.users["local-lead"]
    before = roles(session, lead)
    claims = {"email": lead.email, "groups": ["samordnare", "okand", "annan"]}
    with caplog.at_level(logging.WARNING, logger="kflow.accounts.sso"):
        sso.sign_in(session, who(**claims), OIDC, MAPPINGS, ISSUER)
    assert "no unit with code 'finns-inte'" in caplog.text
    assert roles(session, lead) == before | {("coordinator", "vgr")}
    (granted,) = history(session, lead.id)
    assert granted.kind == AccountEventKind.ROLE_GRANTED
    assert granted.detail == {"role": "coordinator", "unit": "vgr", "group": "samordnare"}
    # Again, and then without the group: nothing granted twice, nothing taken away.
    sso.sign_in(session, who(**claims), OIDC, MAPPINGS, ISSUER)
    sso.sign_in(session, who(email=lead.email, groups=[]), OIDC, MAPPINGS, ISSUER)
    assert roles(session, lead) == before | {("coordinator", "vgr")}
    assert len(history(session, lead.id)) == 1


def test_no_roles_come_from_a_token_without_mappings(session: Session, world: World) -> None:
    nobody = world.users["nobody"]
    sso.sign_in(session, who(email=nobody.email, groups=["samordnare"]), OIDC, (), ISSUER)
    assert roles(session, nobody) == set()


def test_settings_from_the_environment() -> None:
    assert not make_settings().oidc.enabled
    loaded = load_settings(
        environ={
            "KFLOW_OIDC__ISSUER": ISSUER,
            "KFLOW_OIDC__CLIENT_ID": "kflow",
            "KFLOW_OIDC__AUTO_CREATE": "true",
            "KFLOW_OIDC__ROLE_MAPPINGS": "a=chair@vgr, b=member@skane",
        },
        overrides={"secret_key": "test", "environment": "development"},
    )
    assert loaded.oidc.enabled and loaded.oidc.auto_create
    assert sso.parse_mappings(loaded.oidc.role_mappings) == (
        sso.RoleMapping("a", "chair", "vgr"),
        sso.RoleMapping("b", "member", "skane"),
    )
