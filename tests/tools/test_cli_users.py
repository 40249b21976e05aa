"""``kflow user deactivate|activate|rename|reset-password|revoke|show``, and every change the
command line makes to an account written to its history by "cli"."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support.cli_support import Cli, environment
from tests.support.ui_support import csrf_token


@pytest.fixture
def cli(database, tmp_path) -> Cli:
    """The CLI on a fresh database, migrated and seeded, with one user holding one role."""
    cli = Cli(environment(database.new_database("users"), tmp_path))
    cli.ok("db", "upgrade")
    cli.ok("seed")
    cli.ok("user", "create", "anna@region.se", "--name", "Anna Lind", "--password", "first-pw-ok")
    cli.ok("user", "grant", "anna@region.se", "coordinator", "vgr")
    return cli


def events(cli: Cli, email: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(cli.env["KFLOW_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT e.kind, e.actor FROM account_events e JOIN users u ON u.id = e.user_id"
                    " WHERE u.email = :email ORDER BY e.id"
                ),
                {"email": email},
            )
            return [(kind, actor) for kind, actor in rows]
    finally:
        engine.dispose()


def login(cli: Cli, password: str) -> int:
    """Sign in as Anna with ``password``: 303 when it works, 200 (the form again) when not."""
    with cli.api() as client:
        field = csrf_token(client.get("/login").get_data(as_text=True))  # type: ignore[attr-defined]
        form = {"email": "anna@region.se", "password": password, "csrf_token": field}
        return int(client.post("/login", data=form).status_code)  # type: ignore[attr-defined]


def test_every_change_is_an_account_event_by_cli(cli: Cli) -> None:
    assert events(cli, "anna@region.se") == [("created", "cli"), ("role_granted", "cli")]
    out = cli.ok("user", "rename", "anna@region.se", "--name", "Anna Lind-Ek").stdout
    assert out.strip() == "anna@region.se is now called Anna Lind-Ek."
    same = cli.ok("user", "rename", "anna@region.se", "--name", "Anna Lind-Ek").stdout
    assert "already had" in same
    cli.ok("user", "revoke", "anna@region.se", "coordinator", "vgr")
    cli.fails("user", "revoke", "anna@region.se", "coordinator", "vgr", code="not_found")
    assert events(cli, "anna@region.se")[2:] == [("renamed", "cli"), ("role_revoked", "cli")]


def test_deactivate_and_activate(cli: Cli) -> None:
    token = cli.token("anna@region.se")
    with cli.api() as client:
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/me", headers=bearer).status_code == 200  # type: ignore[attr-defined]
        assert cli.ok("user", "deactivate", "anna@region.se").stdout.strip() == (
            "anna@region.se is deactivated."
        )
        assert client.get("/api/v1/me", headers=bearer).status_code == 401  # type: ignore[attr-defined]
    cli.fails("user", "deactivate", "anna@region.se", code="validation_error")
    cli.fails("user", "deactivate", "ingen@region.se", code="not_found")
    assert login(cli, "first-pw-ok") == 200  # refused: the form again
    shown = cli.ok("user", "show", "anna@region.se").stdout
    assert "status:     deactivated" in shown
    assert "Kontot inaktiverades" in shown and "1 API-nyckel återkallades" in shown
    cli.ok("user", "activate", "anna@region.se")
    cli.fails("user", "activate", "anna@region.se", code="validation_error")
    assert login(cli, "first-pw-ok") == 303
    kinds = [kind for kind, _ in events(cli, "anna@region.se")]
    assert kinds[-2:] == ["deactivated", "activated"]


def test_reset_password(cli: Cli) -> None:
    given = cli.ok("user", "reset-password", "anna@region.se", "--password", "second-pw-ok")
    assert given.stdout.strip() == "New password set for anna@region.se; 0 session(s) ended."
    assert login(cli, "first-pw-ok") == 200
    assert login(cli, "second-pw-ok") == 303
    made = cli.ok("user", "reset-password", "anna@region.se")
    lines = made.stdout.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) >= 16  # the password alone on stdout
    assert "shown once" in made.stderr
    assert login(cli, lines[0]) == 303
    cli.fails(
        "user", "reset-password", "anna@region.se", "--password", "kort", code="validation_error"
    )
    kinds = [kind for kind, _ in events(cli, "anna@region.se")]
    assert kinds[-2:] == ["password_set", "password_set"]


def test_show(cli: Cli) -> None:
    cli.ok("user", "rename", "anna@region.se", "--name", "Anna Ek")
    lines = cli.ok("user", "show", "anna@region.se").stdout.splitlines()
    assert lines[0] == "anna@region.se  Anna Ek"
    assert "status:     active" in lines
    assert "last login: never" in lines
    assert "role:       Samordnare i Västra Götalandsregionen" in lines
    history = lines[lines.index("history:") + 1 :]
    assert len(history) == 3
    assert "Namnet ändrades (Från Anna Lind till Anna Ek)" in history[0]
    assert history[2].endswith(
        "Kontot skapades (Anna Lind (anna@region.se))  av En driftansvarig (kommandoraden)"
    )
    cli.fails("user", "show", "ingen@region.se", code="not_found")
