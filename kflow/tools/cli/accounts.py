"""``kflow user deactivate|activate|rename|reset-password|revoke|show``: a user's lifecycle from
the command line (kflow.accounts.lifecycle). Every change is an account event by "cli"."""

from __future__ import annotations

import datetime as dt

import click

from kflow.tools.cli.base import friendly, runtime
from kflow.tools.cli.org import user


def _when(moment: dt.datetime | None) -> str:
    return moment.isoformat(timespec="minutes") if moment else "never"


@user.command("deactivate")
@click.argument("email")
@friendly
def user_deactivate(email: str) -> None:
    """Deactivate EMAIL: signed out everywhere, API tokens revoked, no more mail."""
    from kflow.accounts import events, lifecycle
    from kflow.org import users as org_users

    with runtime().transaction() as session:
        lifecycle.deactivate(session, org_users.user_by_email(session, email), events.CLI)
    click.echo(f"{email} is deactivated.")


@user.command("activate")
@click.argument("email")
@friendly
def user_activate(email: str) -> None:
    """Let a deactivated EMAIL sign in again."""
    from kflow.accounts import events, lifecycle
    from kflow.org import users as org_users

    with runtime().transaction() as session:
        lifecycle.activate(session, org_users.user_by_email(session, email), events.CLI)
    click.echo(f"{email} is active.")


@user.command("rename")
@click.argument("email")
@click.option("--name", required=True, help="The new name.")
@friendly
def user_rename(email: str, name: str) -> None:
    """Give EMAIL a new name."""
    from kflow.accounts import events, lifecycle
    from kflow.org import users as org_users

    with runtime().transaction() as session:
        account = org_users.user_by_email(session, email)
        changed = lifecycle.rename(session, account, name, events.CLI)
        new_name = account.name
    click.echo(
        f"{email} is now called {new_name}." if changed else f"{email} already had the name."
    )


@user.command("reset-password")
@click.argument("email")
@click.option("--password", default=None, help="The new password (at least 8 characters).")
@friendly
def user_reset_password(email: str, password: str | None) -> None:
    """Set a new password for EMAIL and sign them out everywhere. Without --password one is
    made up and printed, alone, on the last line (shown once)."""
    from kflow.accounts import events, lifecycle
    from kflow.org import users as org_users

    generated = password is None
    new = lifecycle.generate_password() if password is None else password
    with runtime().transaction() as session:
        ended = lifecycle.set_password(
            session, org_users.user_by_email(session, email), new, events.CLI
        )
    click.echo(f"New password set for {email}; {ended} session(s) ended.", err=generated)
    if generated:
        click.echo("The new password (shown once; hand it over safely):", err=True)
        click.echo(new)


@user.command("revoke")
@click.argument("email")
@click.argument("role")
@click.argument("unit_code", metavar="UNIT")
@friendly
def user_revoke(email: str, role: str, unit_code: str) -> None:
    """Take ROLE in UNIT away from EMAIL."""
    from kflow.accounts import events, lifecycle
    from kflow.org import units as org_units
    from kflow.org import users as org_users

    with runtime().transaction() as session:
        lifecycle.revoke(
            session,
            org_users.user_by_email(session, email),
            role,
            org_units.unit_by_code(session, unit_code),
            events.CLI,
        )
    click.echo(f"{email} is no longer {role} in {unit_code}.")


@user.command("show")
@click.argument("email")
@friendly
def user_show(email: str) -> None:
    """EMAIL's account: status, last log-in, roles and account history (newest first; UTC)."""
    from kflow.org import users as org_users
    from kflow.queries import accounts as account_queries

    with runtime().transaction(write=False) as session:
        found = account_queries.account(session, org_users.user_by_email(session, email).id)
        assert found is not None
        u = found.user
        click.echo(f"{u.email}  {u.name}")
        click.echo(f"status:     {'active' if u.is_active else 'deactivated'}")
        click.echo(f"HSA-id:     {u.hsa_id or '-'}")
        click.echo(f"last login: {_when(u.last_login_at)}")
        click.echo(f"created:    {_when(u.created_at)}")
        for role, unit in found.roles:
            click.echo(f"role:       {role} i {unit}")
        click.echo("history:")
        for row in found.history:
            detail = f" ({row.detail})" if row.detail else ""
            click.echo(f"  {_when(row.at)}  {row.label}{detail}  av {row.actor}")
