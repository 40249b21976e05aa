"""The ``kflow`` command against databases of its own, on SQLite and PostgreSQL.

The CLI is driven through click's CliRunner with the settings in the environment, as an operator
would set them (the Runtime is built lazily from load_settings()). The installed entry point and
``kflow serve`` run as real processes in tests/tools/test_cli_processes.py.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kflow.states import MACHINES
from tests.support.cli_support import ROOT, TOKEN_RE, Cli, environment, reference_unit_count


@pytest.fixture
def cli(database, tmp_path) -> Cli:
    """The CLI on a fresh, empty database of the test's backend."""
    return Cli(environment(database.new_database("cli"), tmp_path))


@pytest.fixture
def ready(cli) -> Cli:
    """The CLI on a fresh database, migrated and seeded by the CLI itself."""
    cli.ok("db", "upgrade")
    cli.ok("seed")
    return cli


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


# --- Schema and reference data ---------------------------------------------------------------


def test_upgrade_seed_twice_and_downgrade_to_base(cli):
    url = cli.env["KFLOW_DATABASE_URL"]
    assert cli.ok("db", "upgrade").stdout.strip() == "Database at head."
    assert {"units", "users", "cases", "case_events", "api_tokens"} <= table_names(url)

    first = cli.ok("seed").stdout.strip()
    assert (
        first == f"Reference data loaded: {reference_unit_count(cli.env)} units created, 0 renamed."
    )
    again = cli.ok("seed").stdout.strip()
    assert again == "Reference data loaded: 0 units created, 0 renamed."
    with cli.api() as client:
        app_units = client.get("/api/v1/org-units", headers={"Authorization": "Bearer x"})
        assert app_units.status_code == 401  # the app answers on this database

    assert cli.ok("db", "downgrade", "base").stdout.strip() == "Database at base."
    assert table_names(url) <= {"alembic_version"}
    cli.fails("seed")  # no tables any more: one sentence, not a traceback
    assert cli.ok("db", "upgrade").stdout.strip() == "Database at head."
    assert cli.ok("seed").stdout.startswith(
        f"Reference data loaded: {reference_unit_count(cli.env)} "
    )


def test_commands_on_an_unmigrated_database_say_so(cli):
    sentence = cli.fails("seed")
    assert "kflow db upgrade" in sentence
    sentence = cli.fails("user", "create", "a@b.se", "--name", "A")
    assert "kflow db upgrade" in sentence


def test_unusable_database_is_one_sentence(tmp_path):
    refused = Cli(environment("postgresql+psycopg://postgres@127.0.0.1:1/kflow", tmp_path))
    assert "Connection refused" in refused.fails("db", "upgrade")
    (tmp_path / "a-file").write_text("not a directory")
    blocked = Cli(environment(f"sqlite:///{tmp_path / 'a-file' / 'kflow.db'}", tmp_path))
    assert "a-file" in blocked.fails("seed")


def test_bad_configuration_is_one_sentence(cli, tmp_path):
    cli.env["KFLOW_CONFIG"] = str(tmp_path / "missing.toml")
    assert "missing.toml" in cli.fails("db", "upgrade")
    cli.env["KFLOW_CONFIG"] = str(ROOT / "config" / "development.toml")
    cli.env["KFLOW_DEADLINES__REVIEW_MONTHS"] = "two years"
    assert "deadlines.review_months" in cli.fails("seed")


# --- Units, users, roles and tokens ----------------------------------------------------------


def test_units_users_grants_and_a_token_that_works(ready):
    cli = ready
    assert (
        cli.ok(
            "unit", "create", "vgr-rpo-psyk", "--name", "RPO Psykisk hälsa", "--kind",
            "regional_group", "--parent", "vgr",
        ).stdout.strip()
        == "Unit vgr-rpo-psyk created under vgr."
    )  # fmt: skip
    cli.ok(
        "unit", "create", "vgr-psyk-gbg", "--name", "Psykiatri Göteborg", "--kind", "local_unit",
        "--parent", "vgr-rpo-psyk",
    )  # fmt: skip
    cli.fails(
        "unit", "create", "vgr-psyk-gbg", "--name", "Igen", "--kind", "local_unit", "--parent",
        "vgr", code="validation_error",
    )  # fmt: skip
    cli.fails(
        "unit", "create", "x-1", "--name", "X", "--kind", "local_unit", "--parent", "atlantis",
        code="not_found",
    )  # fmt: skip
    cli.fails(
        "unit", "create", "x-2", "--name", "X", "--kind", "kommun", "--parent", "vgr",
        code="validation_error",
    )  # fmt: skip
    cli.fails(
        "unit", "create", "x-3", "--name", "X", "--kind", "npo", "--parent", "vgr",
        code="validation_error",
    )  # fmt: skip
    cli.fails("unit", "create", "x-4", "--kind", "local_unit", "--parent", "vgr", exit_code=2)

    out = cli.ok("user", "create", "Anna.Lind@Region.se", "--name", "Anna Lind").stdout
    assert out.strip() == "User anna.lind@region.se created."
    cli.ok("user", "create", "bo@region.se", "--name", "Bo Ek", "--password", "long-enough-pw")
    cli.fails("user", "create", "anna.lind@region.se", "--name", "Igen", code="validation_error")
    cli.fails("user", "create", "not-an-address", "--name", "X", code="validation_error")
    cli.fails(
        "user",
        "create",
        "c@region.se",
        "--name",
        "C",
        "--password",
        "kort",
        code="validation_error",
    )

    grant = cli.ok("user", "grant", "anna.lind@region.se", "coordinator", "vgr").stdout.strip()
    assert grant == "anna.lind@region.se is coordinator in vgr."
    cli.ok("user", "grant", "anna.lind@region.se", "process_lead", "vgr-rpo-psyk")
    cli.ok("user", "grant", "anna.lind@region.se", "coordinator", "vgr")  # again: no duplicate
    cli.fails("user", "grant", "anna.lind@region.se", "boss", "vgr", code="validation_error")
    cli.fails("user", "grant", "nobody@region.se", "chair", "vgr", code="not_found")
    cli.fails("user", "grant", "anna.lind@region.se", "chair", "atlantis", code="not_found")

    result = cli.ok("token", "create", "anna.lind@region.se")
    lines = result.stdout.strip().splitlines()
    token = lines[-1]
    assert lines == [token] and TOKEN_RE.match(token)
    assert "shown once" in result.stderr
    second = cli.token("anna.lind@region.se")
    assert second != token
    cli.fails("token", "create", "nobody@region.se", code="not_found")

    with cli.api() as client:
        for plain in (token, second):
            me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
            assert me.status_code == 200
            assert me.get_json()["email"] == "anna.lind@region.se"
            assert sorted((m["unit"], m["role"]) for m in me.get_json()["memberships"]) == [
                ("vgr", "coordinator"),
                ("vgr-rpo-psyk", "process_lead"),
            ]
        units = client.get(
            "/api/v1/org-units",
            query_string={"parent": "vgr-rpo-psyk"},
            headers={"Authorization": f"Bearer {token}"},
        ).get_json()
        assert units["items"] == [
            {
                "code": "vgr-psyk-gbg",
                "name": "Psykiatri Göteborg",
                "kind": "local_unit",
                "parent": "vgr-rpo-psyk",
                "subkind": None,
                "subkind_label": None,
                "mirrors": None,
            }
        ]
        bad = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}x"})
        assert bad.status_code == 401


# --- Firing triggers -------------------------------------------------------------------------


def people(cli: Cli) -> None:
    for email, name, grants in [
        ("ordf@npo.se", "Ordförande NPO", [("chair", "npo-psykisk-halsa")]),
        ("pl@npo.se", "Processledare NPO", [("process_lead", "npo-psykisk-halsa")]),
        ("ledamot@npo.se", "Ledamot NPO", [("member", "npo-psykisk-halsa")]),
        ("samordnare@vgr.se", "Samordnare VGR", [("coordinator", "vgr")]),
    ]:
        cli.ok("user", "create", email, "--name", name)
        for role, unit in grants:
            cli.ok("user", "grant", email, role, unit)
    cli.ok(
        "unit", "create", "vgr-psyk-1", "--name", "P1", "--kind", "local_unit", "--parent", "vgr"
    )
    cli.ok(
        "unit", "create", "vgr-psyk-2", "--name", "P2", "--kind", "local_unit", "--parent", "vgr"
    )


def create_knowledge_support(cli: Cli, kind: str = "kliniskt_kunskapsstod") -> int:
    token = cli.token("ordf@npo.se")
    with cli.api() as client:
        reply = client.post(
            "/api/v1/knowledge-supports",
            json={"title": "Ätstörningar", "kind": kind, "owner": "npo-psykisk-halsa"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert reply.status_code == 201, reply.get_json()
        return int(reply.get_json()["id"])


def api_case(cli: Cli, path: str) -> dict:
    token = cli.token("samordnare@vgr.se")
    with cli.api() as client:
        reply = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 200, reply.get_json()
        return reply.get_json()


def test_fire_walks_a_knowledge_support_to_publication_and_hand_off(ready):
    cli = ready
    people(cli)
    ks = create_knowledge_support(cli)
    ks_arg = ("knowledge_support", str(ks))
    out = cli.ok("fire", *ks_arg, "commission", "--as", "ordf@npo.se").stdout.strip()
    assert out == f"knowledge_support {ks}: commission -> commissioned (Uppdrag beslutat)"
    cli.ok("fire", *ks_arg, "start_drafting", "--as", "pl@npo.se")
    cli.ok("fire", *ks_arg, "approve_for_review", "--as", "ordf@npo.se")
    out = cli.ok(
        "fire", *ks_arg, "open_consultation", "--as", "ordf@npo.se", "--param", "channel=remiss",
        "--comment", "Skickas på remiss.",
    ).stdout  # fmt: skip
    assert "-> consultation (Remiss)" in out
    cli.ok("fire", *ks_arg, "close_consultation", "--as", "system")  # an automatic trigger
    cli.ok("fire", *ks_arg, "submit_for_approval", "--as", "pl@npo.se")
    out = cli.ok(
        "fire", *ks_arg, "publish", "--as", "ordf@npo.se", "--param", "decision_ref=NPO-2026-5"
    ).stdout
    assert "-> published (Publicerad)" in out

    case = api_case(cli, f"/api/v1/knowledge-supports/{ks}")
    assert (case["state"], case["published_version"]) == ("published", 1)
    history = api_case(cli, f"/api/v1/knowledge-supports/{ks}/history")["items"]
    assert [(h["trigger"], h["actor"]) for h in history][-4:] == [
        ("open_consultation", "ordf@npo.se"),
        ("close_consultation", "system"),
        ("submit_for_approval", "pl@npo.se"),
        ("publish", "ordf@npo.se"),
    ]
    assert history[-4]["comment"] == "Skickas på remiss."
    assert history[-1]["params"] == {"decision_ref": "NPO-2026-5"}

    adaptations = api_case(cli, f"/api/v1/regional-adaptations?knowledge_support={ks}")
    assert adaptations["total"] == 1  # the coordinator sees vgr's of the 21
    ra = str(adaptations["items"][0]["id"])
    for trigger, extra in [
        ("start_assessment", ()),
        ("submit_for_decision", ("--comment", "Klart.")),
    ]:
        cli.ok("fire", "regional_adaptation", ra, trigger, "--as", "samordnare@vgr.se", *extra)
    cli.ok("user", "create", "ordf@vgr.se", "--name", "Ordförande VGR")
    cli.ok("user", "grant", "ordf@vgr.se", "chair", "vgr")
    cli.ok(
        "fire",
        "regional_adaptation",
        ra,
        "adopt",
        "--as",
        "ordf@vgr.se",
        "--param",
        "decision_ref=RS-1",
    )
    out = cli.ok(
        "fire", "regional_adaptation", ra, "hand_off", "--as", "samordnare@vgr.se",
        "--param", "units=vgr-psyk-1,vgr-psyk-2",
    ).stdout  # fmt: skip
    assert "-> implementing" in out and "'created': 2" in out and "'skipped': 0" in out
    local = api_case(cli, f"/api/v1/local-implementations?knowledge_support={ks}")
    assert sorted(li["unit"] for li in local["items"]) == ["vgr-psyk-1", "vgr-psyk-2"]


def test_fire_errors_are_one_sentence_and_change_nothing(ready):
    cli = ready
    people(cli)
    ks = str(create_knowledge_support(cli, kind="vardforlopp"))
    fire = ("fire", "knowledge_support", ks)
    # A vårdförlopp needs the SKS decision reference.
    cli.fails(*fire, "commission", "--as", "ordf@npo.se", code="validation_error")
    cli.fails(*fire, "commission", "--as", "ledamot@npo.se", code="forbidden")
    cli.fails(*fire, "commission", "--as", "pl@npo.se", code="forbidden")
    cli.fails(*fire, "commission", "--as", "system", code="forbidden")
    cli.fails(
        *fire,
        "publish",
        "--as",
        "ordf@npo.se",
        "--param",
        "decision_ref=X",
        code="invalid_transition",
    )
    cli.fails(*fire, "commision", "--as", "ordf@npo.se", code="validation_error")
    cli.fails(
        *fire,
        "commission",
        "--as",
        "ordf@npo.se",
        "--param",
        "decision_ref",
        code="validation_error",
    )
    cli.fails(
        *fire, "commission", "--as", "ordf@npo.se", "--param", "=SKS-1", code="validation_error"
    )
    cli.fails(
        *fire, "commission", "--as", "ordf@npo.se", "--param", "ref=SKS-1", code="validation_error"
    )
    cli.fails(*fire, "commission", "--as", "okand@npo.se", code="not_found")
    cli.fails(
        *fire, "commission", "--as", "ordf@npo.se", "--param", "decision_ref=SKS-1",
        "--lock-version", "7", code="conflict",
    )  # fmt: skip
    cli.fails(
        "fire", "knowledge_support", "99999", "commission", "--as", "ordf@npo.se", code="not_found"
    )
    cli.fails(
        "fire",
        "regional_adaptation",
        ks,
        "start_assessment",
        "--as",
        "samordnare@vgr.se",
        code="not_found",
    )
    # Usage errors are click's (exit 2): an unknown case type, a non-numeric id, no --as.
    cli.fails("fire", "remissvar", ks, "commission", "--as", "ordf@npo.se", exit_code=2)
    cli.fails("fire", "knowledge_support", "ett", "commission", "--as", "ordf@npo.se", exit_code=2)
    cli.fails(*fire, "commission", exit_code=2)

    history = api_case(cli, f"/api/v1/knowledge-supports/{ks}/history")
    assert [h["trigger"] for h in history["items"]] == ["create"]  # nothing was half-done
    case = api_case(cli, f"/api/v1/knowledge-supports/{ks}")
    out = cli.ok(
        *fire, "commission", "--as", "ordf@npo.se", "--param", "decision_ref=SKS-2026-1",
        "--lock-version", str(case["lock_version"]),
    ).stdout  # fmt: skip
    assert "-> commissioned" in out


# --- Diagram ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case_type", list(MACHINES))
def test_diagram_prints_every_state_and_trigger(case_type, tmp_path):
    cli = Cli(environment(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path))
    out = cli.ok("diagram", case_type).stdout
    assert out.lstrip().startswith(("---", "stateDiagram")) and "stateDiagram-v2" in out
    machine = MACHINES[case_type]
    for state in machine.state_names:
        assert state in out, state
    for trigger in machine.triggers:
        assert trigger in out, trigger
    highlighted = cli.ok("diagram", case_type, "--state", machine.initial).stdout
    assert highlighted != out and machine.initial in highlighted
    assert "no-such-state" in cli.fails("diagram", case_type, "--state", "no-such-state")
    assert not (tmp_path / "unused.db").exists()  # a diagram needs no database


def test_diagram_of_an_unknown_case_type_is_a_usage_error(tmp_path):
    cli = Cli(environment(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path))
    assert "remissvar" in cli.fails("diagram", "remissvar", exit_code=2)


def test_an_operator_lists_and_revokes_tokens(ready):
    cli = ready
    cli.ok("user", "create", "anna.lind@region.se", "--name", "Anna Lind")
    cli.ok("user", "create", "bo@region.se", "--name", "Bo Ek")
    first = cli.token("anna.lind@region.se")
    second = cli.token("anna.lind@region.se")
    theirs = cli.token("bo@region.se")
    listed = cli.ok("token", "list", "anna.lind@region.se").stdout.strip().splitlines()
    assert len(listed) == 2 and all(" live " in line for line in listed)
    assert first not in "\n".join(listed) and second not in "\n".join(listed)  # no secrets
    token_id = listed[-1].split()[0]

    def works(plain):
        with cli.api() as client:
            reply = client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
            return reply.status_code == 200

    assert cli.ok("token", "revoke", "anna.lind@region.se", token_id).stdout.strip() == (
        f"Token {token_id} of anna.lind@region.se is revoked."
    )
    assert [works(p) for p in (first, second, theirs)] == [False, True, True]
    cli.fails("token", "revoke", "bo@region.se", token_id, code="not_found")  # not bo's
    cli.fails("token", "revoke", "anna.lind@region.se", exit_code=2)  # neither id nor --all
    out = cli.ok("token", "revoke", "anna.lind@region.se", "--all").stdout.strip()
    assert out == "Revoked 1 token(s) of anna.lind@region.se."
    assert [works(p) for p in (first, second, theirs)] == [False, False, True]
    assert "revoked" in cli.ok("token", "list", "anna.lind@region.se").stdout
    assert cli.ok("token", "list", "bo@region.se").stdout.count(" live ") == 1


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+psycopg://kflow:s3cret-pw@db.region.se:notaport/kflow", "notaport"),
        ("nosuchdb://kflow:s3cret-pw@host/kflow", "nosuchdb"),
        ("mysql+pymysql://kflow:s3cret-pw@host/kflow", "SQLite or PostgreSQL"),
    ],
)
def test_a_database_url_kflow_cannot_use_is_one_sentence_without_its_password(cli, url, says):
    cli.env["KFLOW_DATABASE_URL"] = url
    message = cli.fails("outbox", "list")
    assert "database_url" in message and says in message
    assert "s3cret-pw" not in message
