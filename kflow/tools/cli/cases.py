"""``kflow fire`` and ``kflow diagram``: cases and their machines."""

from __future__ import annotations

from typing import Any

import click

from kflow.states import CASE_TYPES, MACHINES
from kflow.tools.cli.base import friendly, runtime


@click.command()
@click.argument("case_type", type=click.Choice(CASE_TYPES))
@click.argument("case_id", type=int)
@click.argument("trigger")
@click.option("--as", "as_email", required=True, help="E-mail of the acting user, or 'system'.")
@click.option("--comment", default=None)
@click.option("--param", "params", multiple=True, help="k=v; repeat for more. units=a,b for lists.")
@click.option("--lock-version", type=int, default=None)
@click.option("--override", is_flag=True, help="Admin override, recorded as such.")
@friendly
def fire(
    case_type: str,
    case_id: int,
    trigger: str,
    as_email: str,
    comment: str | None,
    params: tuple[str, ...],
    lock_version: int | None,
    override: bool,
) -> None:
    """Fire TRIGGER on a case as a user."""
    from kflow.engine.authority import SYSTEM, Actor, Authority
    from kflow.engine.fire import fire
    from kflow.engine.read import readable_case
    from kflow.followup import snapshot  # noqa: F401 (the reads a report's submit asks)
    from kflow.org import users as org_users

    parsed = _parse_params(params)
    rt = runtime()
    with rt.transaction() as session:
        actor = (
            SYSTEM if as_email == "system" else Actor(org_users.user_by_email(session, as_email))
        )
        authority = Authority(session, actor)
        case = readable_case(session, authority, case_id, case_type)
        fired = fire(
            session,
            authority,
            case,
            trigger,
            settings=rt.settings,
            comment=comment,
            params=parsed,
            lock_version=lock_version,
            override=override,
        )
        state, label = fired.case.state, fired.case.state_label
    extra = f" {fired.outcome}" if fired.outcome else ""
    click.echo(f"{case_type} {case_id}: {trigger} -> {state} ({label}){extra}")


def _parse_params(params: tuple[str, ...]) -> dict[str, Any]:
    """The --param k=v pairs as a dict."""
    from kflow.errors import ValidationError

    parsed: dict[str, Any] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationError(f"--param must be k=v, not {item!r}.")
        parsed[key] = value
    return parsed


@click.command()
@click.argument("case_type", type=click.Choice(CASE_TYPES))
@click.option("--state", default=None, help="Highlight this state.")
@friendly
def diagram(case_type: str, state: str | None) -> None:
    """Print the machine of CASE_TYPE as a Mermaid state diagram."""
    machine = MACHINES[case_type]
    if state is not None and state not in machine.state_names:
        raise click.ClickException(f"'{state}' is not a state of {case_type}.")
    click.echo(machine.diagram(state))


COMMANDS = (fire, diagram)
