"""Users and their memberships (roles in units)."""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from kflow.errors import NotFound, ValidationError
from kflow.org.models import Membership, Unit, User
from kflow.org.roles import Role

# No spaces, control characters or the specials of RFC 5322 (<, >, comma, quotes, ...): an
# address is written into mail headers as it is, so it must be a plain addr-spec.
_ADDR = r"[^@\s\x00-\x1f\x7f<>()\[\],;:\"\\]+"


EMAIL_RE = re.compile(rf"^{_ADDR}@{_ADDR}\.{_ADDR}$")


# The lengths of the columns (users.email, users.name, units.name).
MAX_EMAIL = 320


MAX_NAME = 200


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


def remember_overview_scope(session: Session, user_id: int, scope: str) -> None:
    """Keep the user's *Min region* / *Min enhet* choice for their next visit."""
    session.execute(update(User).where(User.id == user_id).values(overview_scope=scope))
