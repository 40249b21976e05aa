"""Units, users, memberships and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import ColumnElement, and_, insert, or_, select
from sqlalchemy.orm import Session, aliased
from werkzeug.security import generate_password_hash

from kflow.db import utcnow
from kflow.errors import NotFound, ValidationError
from kflow.models import (
    ApiToken,
    HealthcareRegionMember,
    Membership,
    Role,
    Unit,
    UnitClosure,
    UnitKind,
    User,
)

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
# No spaces, control characters or the specials of RFC 5322 (<, >, comma, quotes, ...): an
# address is written into mail headers as it is, so it must be a plain addr-spec.
_ADDR = r"[^@\s\x00-\x1f\x7f<>()\[\],;:\"\\]+"
EMAIL_RE = re.compile(rf"^{_ADDR}@{_ADDR}\.{_ADDR}$")
# The lengths of the columns (users.email, users.name, units.name).
MAX_EMAIL = 320
MAX_NAME = 200
TOKEN_PREFIX = "kf_"  # noqa: S105 (a visible prefix, not a secret)

# Which kinds of unit may sit under which (None: top level, under the root).
ALLOWED_PARENTS: dict[str, set[str | None]] = {
    UnitKind.ROOT: {None},
    UnitKind.NATIONAL_COUNCIL: {UnitKind.ROOT},
    UnitKind.NPO: {UnitKind.ROOT},
    UnitKind.NSG: {UnitKind.ROOT},
    UnitKind.NAG: {UnitKind.NPO, UnitKind.NSG},
    UnitKind.HEALTHCARE_REGION: {UnitKind.ROOT},
    UnitKind.REGION: {UnitKind.ROOT},
    UnitKind.REGIONAL_GROUP: {UnitKind.REGION, UnitKind.REGIONAL_GROUP},
    UnitKind.LOCAL_UNIT: {UnitKind.REGION, UnitKind.REGIONAL_GROUP, UnitKind.LOCAL_UNIT},
}


def unit_by_code(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound(f"Det finns ingen enhet med koden '{code}'.")
    return unit


def create_unit(
    session: Session, code: str, name: str, kind: str, parent: Unit | None = None
) -> Unit:
    """Add a unit under ``parent`` and extend the closure table with its ancestors."""
    if not CODE_RE.match(code or ""):
        raise ValidationError(
            "Enhetskoden får bara innehålla a-z, 0-9 och bindestreck (2-80 tecken)."
        )
    if kind not in ALLOWED_PARENTS:
        raise ValidationError(f"Okänd enhetstyp '{kind}'.")
    if not (name or "").strip():
        raise ValidationError("Enheten måste ha ett namn.")
    if len(name.strip()) > MAX_NAME:
        raise ValidationError(f"Enhetens namn får vara högst {MAX_NAME} tecken.")
    parent_kind = parent.kind if parent else None
    if parent_kind not in ALLOWED_PARENTS[kind]:
        raise ValidationError(
            f"En enhet av typen {kind} kan inte ligga under {parent_kind or 'toppnivån'}."
        )
    if session.scalar(select(Unit.id).where(Unit.code == code)) is not None:
        raise ValidationError(f"Det finns redan en enhet med koden '{code}'.")
    unit = Unit(code=code, name=name.strip(), kind=kind, parent=parent)
    session.add(unit)
    session.flush()  # generate unit.id for the closure rows
    session.add(UnitClosure(ancestor_id=unit.id, descendant_id=unit.id, depth=0))
    if parent is not None:
        _link(session, parent.id, unit.id)
    return unit


def _link(session: Session, ancestor: int, descendant: int) -> None:
    """Make every ancestor-or-self of ``ancestor`` an ancestor of every descendant-or-self."""
    ups = session.execute(
        select(UnitClosure.ancestor_id, UnitClosure.depth).where(
            UnitClosure.descendant_id == ancestor
        )
    ).all()
    downs = session.execute(
        select(UnitClosure.descendant_id, UnitClosure.depth).where(
            UnitClosure.ancestor_id == descendant
        )
    ).all()
    existing = {
        (a, d)
        for a, d in session.execute(
            select(UnitClosure.ancestor_id, UnitClosure.descendant_id).where(
                UnitClosure.ancestor_id.in_([a for a, _ in ups]),
                UnitClosure.descendant_id.in_([d for d, _ in downs]),
            )
        )
    }
    rows = [
        {"ancestor_id": a, "descendant_id": d, "depth": da + dd + 1}
        for a, da in ups
        for d, dd in downs
        if (a, d) not in existing
    ]
    if rows:
        session.execute(insert(UnitClosure), rows)


def link_healthcare_region(session: Session, healthcare_region: Unit, region: Unit) -> None:
    """Record that ``region`` belongs to ``healthcare_region`` (a region may belong to two)."""
    if healthcare_region.kind != UnitKind.HEALTHCARE_REGION or region.kind != UnitKind.REGION:
        raise ValidationError("Bara regioner kan höra till en sjukvårdsregion.")
    found = session.get(HealthcareRegionMember, (healthcare_region.id, region.id))
    if found is None:
        session.add(
            HealthcareRegionMember(healthcare_region_id=healthcare_region.id, region_id=region.id)
        )
        _link(session, healthcare_region.id, region.id)


def is_below(session: Session, unit_id: int, ancestor_id: int) -> bool:
    return (
        session.get(UnitClosure, {"ancestor_id": ancestor_id, "descendant_id": unit_id}) is not None
    )


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"Det finns ingen användare med e-postadressen '{email}'.")
    return user


def create_user(session: Session, email: str, name: str, password: str | None = None) -> User:
    email = (email or "").strip().lower()
    if len(email) > MAX_EMAIL:
        raise ValidationError(f"E-postadressen får vara högst {MAX_EMAIL} tecken.")
    if not EMAIL_RE.match(email):
        raise ValidationError(f"'{email}' är ingen giltig e-postadress.")
    if not (name or "").strip():
        raise ValidationError("Användaren måste ha ett namn.")
    if len(name.strip()) > MAX_NAME:
        raise ValidationError(f"Namnet får vara högst {MAX_NAME} tecken.")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationError(f"Det finns redan en användare med e-postadressen '{email}'.")
    if password is not None and len(password) < 8:
        raise ValidationError("Lösenordet måste ha minst 8 tecken.")
    user = User(
        email=email,
        name=name.strip(),
        password_hash=generate_password_hash(password) if password else None,
    )
    session.add(user)
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < 8:
        raise ValidationError("Lösenordet måste ha minst 8 tecken.")
    user.password_hash = generate_password_hash(password)


def grant(session: Session, user: User, role: str, unit: Unit) -> Membership:
    if role not in set(Role):
        raise ValidationError(f"Okänd roll '{role}'. Roller: {', '.join(Role)}.")
    existing = session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.unit_id == unit.id, Membership.role == role
        )
    )
    if existing is not None:
        return existing
    membership = Membership(user=user, unit=unit, role=role)
    session.add(membership)
    return membership


def revoke(session: Session, user: User, role: str, unit: Unit) -> None:
    membership = session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.unit_id == unit.id, Membership.role == role
        )
    )
    if membership is None:
        raise NotFound("Användaren har inte den rollen i enheten.")
    session.delete(membership)


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 is enough to make the stored value useless.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, user: User, name: str = "", minted_by: User | int | None = None
) -> tuple[ApiToken, str]:
    """Create a token; the plain token is returned once and never stored.

    ``minted_by``: the administrator who makes it for ``user`` (the token then acts only while
    they administer the user, see kflow.services.tokens.authenticate); None when the user makes
    their own or an operator does at the command line.
    """
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    minter_id = minted_by.id if isinstance(minted_by, User) else minted_by
    token = ApiToken(
        user=user,
        token_hash=hash_token(plain),
        prefix=plain[:10],
        name=name,
        minted_by_id=None if minter_id == user.id else minter_id,
    )
    session.add(token)
    return token, plain


def token_acts() -> ColumnElement[bool]:
    """The token (joined with its user) may act: live, its user active and, when an
    administrator made it for the user, within that administrator's reach.

    A minted token acts only while its minter is active, holds ``admin`` somewhere, and every
    unit the user holds a role in lies at or below a unit where the minter holds ``admin``. So
    a regional administrator's token for a user who later becomes an NPO chair stops the moment
    the user gets that role, and starts again only if it is taken away. (A user with no roles
    lies within every administrator's reach.)
    """
    minter = aliased(User, name="minter")
    minter_admin = aliased(Membership, name="minter_admin")
    held = aliased(Membership, name="held")
    reach = aliased(UnitClosure, name="reach")
    minter_is_admin = (
        select(minter_admin.id)
        .where(minter_admin.user_id == ApiToken.minted_by_id, minter_admin.role == "admin")
        .exists()
    )
    minter_is_active = (
        select(minter.id).where(minter.id == ApiToken.minted_by_id, minter.is_active).exists()
    )
    role_beyond_reach = (
        select(held.id)
        .where(
            held.user_id == ApiToken.user_id,
            ~select(reach.ancestor_id)
            .join(minter_admin, minter_admin.unit_id == reach.ancestor_id)
            .where(
                reach.descendant_id == held.unit_id,
                minter_admin.user_id == ApiToken.minted_by_id,
                minter_admin.role == "admin",
            )
            .exists(),
        )
        .exists()
    )
    return and_(
        ApiToken.revoked_at.is_(None),
        User.is_active.is_(True),
        or_(
            ApiToken.minted_by_id.is_(None),
            and_(minter_is_active, minter_is_admin, ~role_beyond_reach),
        ),
    )


def user_for_token(session: Session, plain: str) -> User | None:
    # One query: the token's user, if the token may act (token_acts).
    user: User | None = session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(plain), token_acts())
    )
    return user


def revoke_token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("Token finns inte.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token
