"""``kflow unit``, ``kflow user`` and ``kflow token``: the organisation, its people and their
API tokens."""

from __future__ import annotations

import click

from kflow.tools.cli.base import friendly, runtime


@click.group()
def unit() -> None:
    """Organisation units."""


@unit.command("create")
@click.argument("code")
@click.option("--name", required=True)
@click.option(
    "--kind",
    default=None,
    help="nag, regional_group or local_unit (or another kind); implied by --subkind.",
)
@click.option("--parent", "parent_code", required=True, help="Code of the parent unit.")
@click.option("--subkind", default=None, help="rpo, rsg, rag, lpo, forvaltning, ... (§5.1).")
@click.option("--mirrors", default=None, help="A programme unit's NPO code, or primarvardsradet.")
@friendly
def unit_create(
    code: str,
    name: str,
    kind: str | None,
    parent_code: str,
    subkind: str | None,
    mirrors: str | None,
) -> None:
    """Create a unit under --parent."""
    from kflow.org import units as org_units
    from kflow.org.subkinds import SUBKIND_KINDS, Subkind

    if kind is None:
        if subkind not in set(Subkind):
            raise click.UsageError("Give --kind, or a --subkind that implies it.")
        kind = SUBKIND_KINDS[Subkind(subkind)]
    with runtime().transaction() as session:
        parent = org_units.unit_by_code(session, parent_code)
        org_units.create_unit(session, code, name, kind, parent, subkind=subkind, mirrors=mirrors)
    click.echo(f"Unit {code} created under {parent_code}.")


@click.group()
def user() -> None:
    """Users and their roles."""


@user.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--password", default=None, help="Lets the user log in to the web UI.")
@friendly
def user_create(email: str, name: str, password: str | None) -> None:
    """Create a user."""
    from kflow.accounts import events, lifecycle

    with runtime().transaction() as session:
        created = lifecycle.create(session, email, name, password, events.CLI)
    click.echo(f"User {created.email} created.")


@user.command("grant")
@click.argument("email")
@click.argument("role")
@click.argument("unit_code", metavar="UNIT")
@friendly
def user_grant(email: str, role: str, unit_code: str) -> None:
    """Give EMAIL the ROLE in UNIT (and so in every unit below it)."""
    from kflow.accounts import events, lifecycle
    from kflow.org import units as org_units
    from kflow.org import users as org_users

    with runtime().transaction() as session:
        lifecycle.grant(
            session,
            org_users.user_by_email(session, email),
            role,
            org_units.unit_by_code(session, unit_code),
            events.CLI,
        )
    click.echo(f"{email} is {role} in {unit_code}.")


@click.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for.")
@friendly
def token_create(email: str, name: str) -> None:
    """Create an API token for EMAIL; the token alone is printed on the last line."""
    from kflow.accounts import tokens as api_tokens
    from kflow.accounts.events import CLI
    from kflow.org import users as org_users

    with runtime().transaction() as session:
        user = org_users.user_by_email(session, email)
        _, plain = api_tokens.create_token(session, user, name, actor=CLI)
    click.echo(f"Token for {email} (shown once; store it safely):", err=True)
    click.echo(plain)


@token.command("list")
@click.argument("email")
@friendly
def token_list(email: str) -> None:
    """List EMAIL's API tokens (id, prefix, name, created, last used, revoked); never a secret."""
    from kflow.accounts import tokens as api_tokens
    from kflow.org import users as org_users

    with runtime().transaction(write=False) as session:
        page = api_tokens.own_tokens(session, org_users.user_by_email(session, email), limit=500)
        for t in page.items:
            used = t.last_used_at.isoformat(timespec="minutes") if t.last_used_at else "-"
            revoked = (
                f"revoked {t.revoked_at.isoformat(timespec='minutes')}" if t.revoked_at else "live"
            )
            click.echo(
                f"{t.id:>6} {t.prefix:<12} {t.created_at.isoformat(timespec='minutes')} "
                f"used {used:<16} {revoked:<26} {t.name}"
            )
        if not page.items:
            click.echo(f"{email} has no API tokens.")


@token.command("revoke")
@click.argument("email")
@click.argument("token_id", type=int, required=False)
@click.option("--all", "revoke_all", is_flag=True, help="Revoke every live token of EMAIL.")
@friendly
def token_revoke(email: str, token_id: int | None, revoke_all: bool) -> None:
    """Revoke EMAIL's token TOKEN_ID, or all of them with --all (say, after a theft)."""
    from kflow.accounts import tokens as api_tokens
    from kflow.accounts.events import CLI
    from kflow.org import users as org_users

    if (token_id is None) == (not revoke_all):
        raise click.UsageError("Give a TOKEN_ID or --all, not both.")
    with runtime().transaction() as session:
        user = org_users.user_by_email(session, email)
        if revoke_all:
            count = api_tokens.revoke_all(session, user, actor=CLI)
            click.echo(f"Revoked {count} token(s) of {email}.")
        else:
            assert token_id is not None
            api_tokens.revoke_own(session, user, token_id, actor=CLI)
            click.echo(f"Token {token_id} of {email} is revoked.")


COMMANDS = (unit, user, token)
