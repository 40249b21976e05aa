"""Single sign-on: who an OpenID Connect provider's verified claims name in kflow.

The web layer (kflow.web.ui.oidc) runs the protocol and hands over the claims of a verified ID
token (with the userinfo claims of the same subject). Here they are matched to a user: by
HSA-id first, when a claim for it is configured and present, then by e-mail. Someone matched by
e-mail whose account has no HSA-id yet gets the token's, so a later change of e-mail address
does not lose them. An unknown person gets an account (with no roles) only when ``auto_create``
is on. Roles come from the token only through ``role_mappings``: a group in the groups claim
mapped to a role in a unit. Mapped roles are granted, never revoked (an administrator takes a
role away in kflow), and each grant is in the account's history.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.accounts.events import SYSTEM, AccountEventKind, record
from kflow.accounts.lifecycle import HSA_ID_RE
from kflow.config import ConfigError, OidcSettings
from kflow.errors import KflowError, ValidationError
from kflow.org import users as org_users
from kflow.org.models import Membership, Unit, User
from kflow.org.roles import Role

log = logging.getLogger(__name__)


class SignInRefused(KflowError):
    """The claims name no one who may sign in; the message is for the person (Swedish)."""

    code, status = "sso_refused", 403


NO_ACCOUNT = (
    "Du har inget konto i kflow. Inloggningen hos {provider} lyckades, men ingen användare i "
    "kflow har din e-postadress{hsa}. Be kflows administratör i din region att lägga upp dig."
)
OTHER_HSA_ID = (
    "E-postadressen hör till ett konto i kflow med ett annat HSA-id än det du loggade in med. "
    "Kontakta kflows administratör i din region."
)
INACTIVE = "Ditt konto i kflow är inaktiverat. Kontakta kflows administratör i din region."
NO_EMAIL = (
    "Inloggningstjänsten lämnade ingen e-postadress (uppgiften {claim}), så kflow vet inte vem "
    "du är. Kontakta kflows administratör."
)


@dataclasses.dataclass(frozen=True)
class RoleMapping:
    """One ``<group>=<role>@<unit code>`` of ``oidc.role_mappings``."""

    group: str
    role: str
    unit_code: str


def parse_mappings(raw: Iterable[str]) -> tuple[RoleMapping, ...]:
    """The configured role mappings, or a ConfigError naming the one that is malformed."""
    mappings: list[RoleMapping] = []
    for entry in raw:
        group, _, target = entry.partition("=")
        role, _, unit_code = target.partition("@")
        group, role, unit_code = group.strip(), role.strip(), unit_code.strip()
        if not (group and role and unit_code):
            raise ConfigError(
                f"Setting 'oidc.role_mappings': {entry!r} is not '<group>=<role>@<unit code>'."
            )
        if role not in set(Role):
            raise ConfigError(
                f"Setting 'oidc.role_mappings': unknown role {role!r} in {entry!r} "
                f"(roles: {', '.join(Role)})."
            )
        mappings.append(RoleMapping(group, role, unit_code))
    return tuple(mappings)


@dataclasses.dataclass(frozen=True)
class Identity:
    """What a provider vouches for: the subject and the claims kflow reads."""

    subject: str
    email: str
    name: str
    hsa_id: str | None
    groups: tuple[str, ...]


def identity(claims: Mapping[str, Any], oidc: OidcSettings) -> Identity:
    """The identity in verified ``claims``, read with the configured claim names."""
    hsa_id = _text(claims.get(oidc.hsa_id_claim)).upper() if oidc.hsa_id_claim else ""
    if hsa_id and not HSA_ID_RE.match(hsa_id):
        log.warning("Single sign-on: the claim %r holds no valid HSA-id", oidc.hsa_id_claim)
        hsa_id = ""
    raw_groups = claims.get(oidc.groups_claim) if oidc.groups_claim else None
    if isinstance(raw_groups, str):
        groups: tuple[str, ...] = (raw_groups,)
    elif isinstance(raw_groups, list | tuple):
        groups = tuple(g for g in raw_groups if isinstance(g, str))
    else:
        groups = ()
    email = _text(claims.get(oidc.email_claim)).lower()
    if claims.get("email_verified") is False:  # the provider says it has not checked it
        email = ""
    return Identity(
        subject=_text(claims.get("sub")),
        email=email,
        name=_text(claims.get("name")) or email,
        hsa_id=hsa_id or None,
        groups=groups,
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def sign_in(
    session: Session,
    who: Identity,
    oidc: OidcSettings,
    mappings: tuple[RoleMapping, ...],
    issuer: str,
) -> User:
    """The user ``who`` is, found or (with ``auto_create``) created, with the mapped roles
    granted; SignInRefused if no one may sign in as ``who``."""
    user = _find(session, who, oidc)
    if user is None:
        user = _create(session, who, oidc, issuer)
    if not user.is_active:
        raise SignInRefused(INACTIVE)
    grant_mapped_roles(session, user, who.groups, mappings)
    return user


def _find(session: Session, who: Identity, oidc: OidcSettings) -> User | None:
    if who.hsa_id:
        user = session.scalar(select(User).where(User.hsa_id == who.hsa_id))
        if user is not None:
            return user
    if not who.email:
        if who.hsa_id:  # known by neither: the page says what is missing
            raise SignInRefused(_no_account(who, oidc))
        raise SignInRefused(NO_EMAIL.format(claim=oidc.email_claim))
    user = session.scalar(select(User).where(User.email == who.email))
    if user is not None and who.hsa_id and user.hsa_id not in (None, who.hsa_id):
        # An address given to someone else since: the account is not theirs.
        raise SignInRefused(OTHER_HSA_ID)
    if user is not None and who.hsa_id and user.hsa_id is None:
        user.hsa_id = who.hsa_id
        detail = {"old": None, "new": who.hsa_id}
        record(session, user, AccountEventKind.HSA_ID_SET, SYSTEM, detail)
    return user


def _create(session: Session, who: Identity, oidc: OidcSettings, issuer: str) -> User:
    if not oidc.auto_create or not who.email:
        raise SignInRefused(_no_account(who, oidc))
    try:
        user = org_users.create_user(session, who.email, who.name)
    except ValidationError as exc:
        log.warning("Single sign-on could not create a user: %s", exc.message)
        raise SignInRefused(_no_account(who, oidc)) from None
    user.hsa_id = who.hsa_id
    detail = {"issuer": issuer, "subject": who.subject, "hsa_id": who.hsa_id}
    record(session, user, AccountEventKind.CREATED_BY_SSO, SYSTEM, detail)
    return user


def _no_account(who: Identity, oidc: OidcSettings) -> str:
    hsa = f" eller ditt HSA-id ({who.hsa_id})" if who.hsa_id else ""
    return NO_ACCOUNT.format(provider=oidc.provider_name, hsa=hsa)


def grant_mapped_roles(
    session: Session, user: User, groups: Iterable[str], mappings: tuple[RoleMapping, ...]
) -> list[Membership]:
    """Grant the roles ``mappings`` give ``groups`` (those the user lacks; never revokes);
    the memberships granted now. A mapping to a unit kflow does not have is skipped and
    logged: an administrator's typo must not stop everyone signing in."""
    held = set(groups)
    granted: list[Membership] = []
    for mapping in mappings:
        if mapping.group not in held:
            continue
        unit = session.scalar(select(Unit).where(Unit.code == mapping.unit_code))
        if unit is None:
            log.warning(
                "oidc.role_mappings: no unit with code %r (group %r); mapping ignored",
                mapping.unit_code,
                mapping.group,
            )
            continue
        membership = org_users.grant(session, user, mapping.role, unit)
        if membership.id is None:  # new: not flushed yet
            detail = {"role": mapping.role, "unit": unit.code, "group": mapping.group}
            record(session, user, AccountEventKind.ROLE_GRANTED, SYSTEM, detail)
            granted.append(membership)
    return granted
