"""Every endpoint × every role × where the role is held, against the contract
(tests/support/contract.py).

The users: each of the seven roles of lifecycle.md §1 held in each of ten places, plus a user
with no role at all. Seen from the cases, the places are: the whole country (the root), the
knowledge support's own NPO and another NPO, the sjukvårdsregion above the region and the region
itself, the regional group the adaptation is assigned to, the local unit that owns the local
implementation and its sibling in the same region, another region and a local unit there.

The cases: a published knowledge support with its 21 consultation responses and 21 regional
adaptations (VGR's assigned to its RPO and handed off to two local units, Skåne's handed off to
one), a second one out on consultation with 21 responses in 'requested'. Lists, the inbox and
chain history are checked over every one of them; single-case endpoints over one case of each
tier in VGR (the other places are the other side of "own region / other region").

How far each check goes, to stay fast (a request costs milliseconds, and there are 71 users):
reading one case, the inbox and acting on a regional case are checked for every user; every
trigger of a case type is fired by every role in the places where the case lives (its unit,
its region); everyone else fires, per case, one trigger their role would allow if held in the
right place. What one may see does not depend on the role (api.md), so the costlier views (lists
for all roles in two places, chain history, history, the web pages) use one user per place.

Expected answers come from the oracle, never from kflow's own authority code. Every trigger is
sent with a parameter no trigger has, so nothing is ever changed: 404 (may not see it), 403 (may
not do it), 409 (not from this state) or 422 (allowed, but the parameter is refused). The world
is built once per database backend; requests that would write run inside a savepoint that is
rolled back. Every route of the app must have a rule here (test_every_route_has_a_rule), so a new
route cannot escape the matrix.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from kflow.accounts import tokens as api_tokens
from kflow.accounts.models import ApiToken
from kflow.cases.models import FollowUpReport
from kflow.followup.lists import create_indicator_list
from kflow.followup.models import Indicator
from kflow.org import users as org_users
from kflow.org.models import Membership, User
from kflow.runtime import Runtime
from kflow.web import create_app
from tests.conftest import Database, make_settings
from tests.support.contract import ROLES, TRIGGERS, CaseFacts, Contract, Organisation, Person
from tests.support.world import World

PLACES = (
    "sverige",
    "npo-psykisk-halsa",
    "npo-cancersjukdomar",
    "vastra",
    "vgr",
    "vgr-rpo-psyk",
    "vgr-psyk-1",
    "vgr-psyk-2",
    "skane",
    "skane-psyk-1",
)
NOBODY = "nobody"
PASSWORD = "matrix-password-1"
# api.md: the collections and the case types they hold.
COLLECTIONS = {
    "knowledge_support": "knowledge-supports",
    "consultation_response": "consultation-responses",
    "regional_adaptation": "regional-adaptations",
    "local_implementation": "local-implementations",
    "indicator_list": "indicator-lists",
    "follow_up_report": "follow-up-reports",
}
CODES = {404: "not_found", 403: "forbidden", 409: "invalid_transition", 422: "validation_error"}
NATIONAL = ("npo-psykisk-halsa", "npo-cancersjukdomar")
PROBE = {"__probe__": "ingen trigger har den här parametern"}
# Where each focus case's full trigger sweep is made (every role there × every trigger).
HOME = {
    "ks": ("npo-psykisk-halsa",),
    "cr": ("vgr",),
    "ra": ("vgr",),
    "li": ("vgr-psyk-1", "vgr"),
    "il": ("vgr",),
    "fr": ("vgr-psyk-1", "vgr-rpo-psyk"),  # the report's unit and the unit it goes to
}
REGIONAL = ("cr", "ra", "li", "il", "fr")  # the focus cases not everyone may see
# One user in each place: what one may see does not depend on the role (api.md), which the
# checks over every user (single cases, lists) show; the costlier pages use these.
READERS = [f"viewer@{place}" for place in PLACES] + [NOBODY]


def person_name(role: str, place: str) -> str:
    return f"{role}@{place}"


def email(name: str) -> str:
    return "m." + name.replace("@", ".") + "@test.se"


@dataclasses.dataclass
class Matrix:
    connection: sa.Connection
    runtime: Runtime
    app: Flask
    client: FlaskClient
    org: Organisation
    contract: Contract
    people: dict[str, Person]
    user_ids: dict[str, int]
    tokens: dict[str, str]
    focus: dict[str, int]
    spare_token: dict[str, int]  # a revoked token of each user: its id...
    revoked_token: dict[str, str]  # ...and the token itself

    def session(self) -> Session:
        return self.runtime.sessions()

    def cases(self) -> dict[int, CaseFacts]:
        with self.session() as session:
            return self.org.cases(session)

    def api(
        self, method: str, path: str, who: str | None, body: Any = None, **query: Any
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        response = self.client.open(
            path, method=method, headers=headers, json=body, query_string=query or None
        )
        return response.status_code, response.get_json(silent=True) if response.data else None

    @property
    def everyone(self) -> list[str]:
        return list(self.people)


class Tally:
    """Collects every disagreement with the oracle, to report them all at once."""

    def __init__(self) -> None:
        self.checked = 0
        self.wrong: list[str] = []

    def expect(self, what: str, expected: Any, actual: Any) -> None:
        self.checked += 1
        if expected != actual:
            self.wrong.append(f"{what}: contract says {expected!r}, got {actual!r}")

    def status(self, what: str, expected: int, status: int, body: Any) -> None:
        """The status, and for errors the §3 code that goes with it."""
        code = body.get("error", {}).get("code") if isinstance(body, dict) else None
        self.expect(
            what, (expected, CODES.get(expected)), (status, code if status >= 400 else None)
        )

    def done(self, at_least: int) -> None:
        assert not self.wrong, (
            f"{len(self.wrong)} of {self.checked} checks disagree:\n" + "\n".join(self.wrong[:40])
        )
        assert self.checked >= at_least, self.checked


def _build(session: Session, settings: Any) -> tuple[World, dict[str, int]]:
    world = World.build(session, settings)
    ks = world.ks_in("published")
    consulting = world.ks_in("consultation")
    ra = world.adaptation(ks, "vgr")
    world.fire(ra, "assign", "vgr-coordinator", params={"unit": "vgr-rpo-psyk"})
    world.adaptation_in("implementing", ks)
    world.fire(world.implementation(ra, "vgr-psyk-2"), "acknowledge", "local2-lead")
    skane = world.adaptation(ks, "skane")
    world.fire(skane, "start_assessment", "skane-coordinator")
    world.fire(skane, "submit_for_decision", "skane-lead", comment="Analys klar")
    world.fire(skane, "adopt", "skane-chair", params={"decision_ref": "RS-2026-9"})
    world.fire(skane, "hand_off", "skane-coordinator", params={"units": ["skane-psyk-1"]})
    indicator = Indicator(knowledge_support_id=ks.id, name="Andel", unit_of_measure="procent")
    session.add(indicator)
    session.flush()
    il = create_indicator_list(
        session,
        world.authority("vgr-coordinator"),
        owner="vgr",
        year=2027,
        scope="alla",
        title="VGR",
    )
    target = {"indicator": indicator.id, "unit": "vgr-psyk-1", "target_value": 90}
    world.fire(il, "set_target", "vgr-coordinator", params=target)
    report = FollowUpReport(
        owner_id=world.units["vgr-psyk-1"].id,
        recipient_id=world.units["vgr-rpo-psyk"].id,
        region_id=world.units["vgr"].id,
        period="2026-T2",
        due=dt.date(2026, 9, 29),
    )
    session.add(report)
    session.flush()
    focus = {
        "fr": report.id,
        "il": il.id,
        "ks": ks.id,
        "ks_consultation": consulting.id,
        "cr": world.case_of("consultation_response", consulting, "vgr").id,
        "ra": ra.id,
        "li": world.implementation(ra, "vgr-psyk-1").id,
    }
    return world, focus


@pytest.fixture(scope="module")
def matrix(database: Database) -> Iterator[Matrix]:
    with database.engine.connect() as connection:
        outer = connection.begin()
        sessions = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        settings = make_settings(database_url=database.url)
        runtime = Runtime(settings, database.engine, sessions)
        cheap = generate_password_hash(PASSWORD, "pbkdf2:sha256:1")  # fast sign-ins
        with sessions() as session:
            world, focus = _build(session, settings)
            names = [person_name(r, p) for p in PLACES for r in ROLES] + [NOBODY]
            users: dict[str, User] = {}
            for name in names:
                user = org_users.create_user(session, email(name), name)
                user.password_hash = cheap
                session.flush()
                if name != NOBODY:
                    role, place = name.split("@")
                    org_users.grant(session, user, role, world.units[place])
                users[name] = user
            tokens, spare, revoked_tokens = {}, {}, {}
            for name, user in users.items():
                tokens[name] = api_tokens.create_token(session, user, "matrix")[1]
                revoked, revoked_tokens[name] = api_tokens.create_token(session, user, "revoked")
                session.flush()
                api_tokens.revoke_token(session, revoked.id, "cli")
                spare[name] = revoked.id
            session.commit()
            organisation = Organisation(session)
            people = {
                name: Person(
                    name,
                    frozenset(
                        session.execute(
                            sa.select(Membership.unit_id, Membership.role).where(
                                Membership.user_id == user.id
                            )
                        )
                    ),
                )
                for name, user in users.items()
            }
            user_ids = {name: user.id for name, user in users.items()}
        app = create_app(runtime, config_override={"WTF_CSRF_ENABLED": False})
        yield Matrix(
            connection,
            runtime,
            app,
            app.test_client(),
            organisation,
            Contract(organisation),
            people,
            user_ids,
            tokens,
            focus,
            spare,
            revoked_tokens,
        )
        outer.rollback()


@pytest.fixture
def rolled_back(matrix: Matrix) -> Iterator[None]:
    """Whatever the test writes is undone afterwards (the world stays as built)."""
    savepoint = matrix.connection.begin_nested()
    yield
    savepoint.rollback()


# --- every route has a rule -----------------------------------------------------------------

API_RULES = {
    "api.openapi",
    "api.me",
    "api.org_units",
    "api.inbox",
    "api.overdue",
    "api.overview",
    "api.create_knowledge_support",
    "api.create_indicator_list",
    "api.list_cases",
    "api.get_case",
    "api.case_history",
    "api.chain_history",
    "api.fire",
    "api.list_tokens",
    "api.create_token",
    "api.revoke_token",
    "api.list_indicators",
    "api.get_indicator",
    "api.indicator_results",
    "api.create_indicator",
    "api.list_measurements",
    "api.create_measurement",
    "api.correct_measurement",
    "api.import_measurements",
    "api.knowledge_support_attachments",
    "api.adaptation_attachments",
    "api.download_attachment",
    "api.case_comments",
}
UI_RULES = {
    "inbox.index",
    "inbox.confirm_acknowledge",
    "inbox.acknowledge",
    "inbox.create_feed",
    "inbox.revoke_feed",
    "overview.index",
    "overview.export",
    "uppfoljning.index",
    "uppfoljning.export_csv",
    "uppfoljning.export_xlsx",
    "overdue.index",
    "overdue.export",
    "cases.show",
    "cases.summary",
    "cases.history_export",
    "cases.consultation_summary",
    "cases.consultation_summary_csv",
    "cases.consultation_summary_xlsx",
    "cases.fire",
    "cases.report_measurement",
    "cases.correct_measurement",
    "create.new",
    "create.define_indicator",
    "admin.index",
    "admin.units",
    "admin.create_unit",
    "admin.users",
    "admin.create_user",
    "admin.memberships",
    "admin.grant",
    "admin.revoke",
    "admin.tokens",
    "admin.create_token",
    "admin.revoke_token",
    "admin.user",
    "admin.edit_user",
    "admin.deactivate_user",
    "admin.activate_user",
    "admin.set_password",
    "basis.upload",
    "basis.download",
    "basis.comment",
    "account.index",
    "account.create_token",
    "account.revoke_token",
    "account.change_password",
    "account.sign_out_everywhere",
}
# calendar.feed: the secret in its URL is the key (a calendar cannot sign in); tested in
# tests/web/ui/test_ui_calendar_feed.py.
# passwords.*: "Glömt lösenord?" is for someone who cannot sign in; its link's secret is the key
# (tests/accounts/test_password_reset.py).
PUBLIC = {
    "healthz",
    "static",
    "auth.login",
    "auth.logout",
    "api.openapi",
    "calendar.feed",
    "passwords.ask",
    "passwords.send",
    "passwords.choose",
    "passwords.reset",
}


def test_every_route_has_a_rule(matrix: Matrix) -> None:
    endpoints = {rule.endpoint for rule in matrix.app.url_map.iter_rules()}
    assert endpoints - API_RULES - UI_RULES - PUBLIC == set(), (
        "routes without an access rule in tests/system/test_access_matrix.py: "
        "add them to the matrix"
    )
    assert (API_RULES | UI_RULES) - endpoints == set(), "rules for routes that no longer exist"


def concrete_paths(matrix: Matrix, rule: Any) -> list[str]:
    """Real paths for a URL rule: each collection, and ids of real cases, tokens, memberships."""
    values = {
        "case_id": str(matrix.focus["ra"]),
        "token_id": str(matrix.spare_token[NOBODY]),
        "membership_id": "1",
        "user_id": str(matrix.user_ids[NOBODY]),
        "indicator_id": "1",
        "measurement_id": "1",
        "attachment_id": "1",
        "filename": "kflow.css",
    }
    paths = [rule.rule]
    if "<collection>" in rule.rule:
        paths = [rule.rule.replace("<collection>", c) for c in COLLECTIONS.values()]

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"tests/system/test_access_matrix.py has no value for <{name}>"
        return values[name]

    return [re.sub(r"<(?:\w+:)?(\w+)>", fill, path) for path in paths]


def test_every_api_route_needs_a_valid_token(matrix: Matrix) -> None:
    tally = Tally()
    for rule in matrix.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in PUBLIC:
            continue
        for path in concrete_paths(matrix, rule):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                for header in ({}, {"Authorization": "Bearer kf_" + "x" * 43}):
                    response = matrix.client.open(path, method=method, headers=header, json={})
                    body = response.get_json(silent=True)
                    tally.expect(
                        f"{method} {path} {'bad token' if header else 'no token'}",
                        (401, "unauthenticated", 'Bearer realm="kflow"'),
                        (
                            response.status_code,
                            (body or {}).get("error", {}).get("code"),
                            response.headers.get("WWW-Authenticate"),
                        ),
                    )
    # A revoked token is refused; the same user's live one is not.
    for name in ("viewer@vgr", "admin@sverige", NOBODY):
        for token, expected in ((matrix.revoked_token[name], 401), (matrix.tokens[name], 200)):
            response = matrix.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            tally.expect(
                f"{name} /me with a {'live' if expected == 200 else 'revoked'} token",
                expected,
                response.status_code,
            )
    tally.done(at_least=40)


# --- reading ------------------------------------------------------------------------------


def test_reading_one_case_and_its_history(matrix: Matrix) -> None:
    """GET /{collection}/{id} for every user and focus case; allowed_triggers as the contract
    says for the state; history for the regional and local tiers; the wrong collection is 404."""
    cases = matrix.cases()
    contract = matrix.contract
    tally = Tally()
    national = ("sverige", *NATIONAL)
    for who, person in matrix.people.items():
        for label, case_id in matrix.focus.items():
            if label == "ks_consultation" or (
                label not in REGIONAL and who.split("@")[-1] not in national
            ):
                continue  # everyone sees a knowledge support; only national roles act on one
            case = cases[case_id]
            path = f"/api/v1/{COLLECTIONS[case.type]}/{case.id}"
            status, body = matrix.api("GET", path, who)
            readable = contract.can_read(person, case)
            tally.status(f"{who} GET {label}", 200 if readable else 404, status, body)
            if status == 200:
                tally.expect(
                    f"{who} allowed_triggers on {label} ({case.state})",
                    contract.allowed_now(person, case),
                    set(body["allowed_triggers"]),
                )
            if label in REGIONAL and who in READERS:
                status, body = matrix.api("GET", path + "/history", who)
                tally.status(f"{who} GET {label} history", 200 if readable else 404, status, body)
    for label, case_id in matrix.focus.items():
        wrong = next(c for t, c in COLLECTIONS.items() if t != cases[case_id].type)
        status, body = matrix.api("GET", f"/api/v1/{wrong}/{case_id}", "admin@sverige")
        tally.status(f"{label} under /{wrong}", 404, status, body)
    tally.done(at_least=len(matrix.people) * 4)


def test_comments_are_read_by_exactly_those_who_may_read_the_case(matrix: Matrix) -> None:
    """GET /{collection}/{id}/comments follows the read rule (404 otherwise), as do the
    attachments of an adaptation."""
    cases = matrix.cases()
    tally = Tally()
    for who, person in matrix.people.items():
        for label, case_id in matrix.focus.items():
            case = cases[case_id]
            path = f"/api/v1/{COLLECTIONS[case.type]}/{case.id}"
            readable = contract_readable = matrix.contract.can_read(person, case)
            status, body = matrix.api("GET", path + "/comments", who)
            tally.status(f"{who} GET {label} comments", 200 if readable else 404, status, body)
            if case.type == "regional_adaptation":
                status, body = matrix.api("GET", path + "/attachments", who)
                expected = 200 if contract_readable else 404
                tally.status(f"{who} GET {label} attachments", expected, status, body)
    tally.done(at_least=len(matrix.people) * 4)


def test_lists_show_exactly_the_cases_the_contract_lets_one_see(matrix: Matrix) -> None:
    cases = matrix.cases()
    tally = Tally()
    listers = READERS + [f"{role}@{place}" for place in ("vgr", "vgr-psyk-1") for role in ROLES]
    for who in dict.fromkeys(listers):
        person = matrix.people[who]
        for case_type, collection in COLLECTIONS.items():
            if case_type == "knowledge_support" and who not in READERS:
                continue
            status, body = matrix.api("GET", f"/api/v1/{collection}", who, limit=500)
            expected = {
                c.id
                for c in cases.values()
                if c.type == case_type and matrix.contract.can_read(person, c)
            }
            tally.status(f"{who} GET /{collection}", 200, status, body)
            got = {item["id"] for item in body["items"]}
            tally.expect(f"{who} GET /{collection} ids", sorted(expected), sorted(got))
            tally.expect(f"{who} GET /{collection} total", len(expected), body["total"])
    tally.done(at_least=len(READERS) * 12)
    # The matrix is not trivial: someone sees everything and someone sees no regional case.
    assert len({c for c in cases.values() if c.type == "consultation_response"}) == 42


def test_inbox_holds_exactly_what_waits_for_one_now(matrix: Matrix) -> None:
    cases = matrix.cases()
    tally = Tally()
    busy = 0
    for who, person in matrix.people.items():
        status, body = matrix.api("GET", "/api/v1/inbox", who, limit=500)
        tally.status(f"{who} inbox", 200, status, body)
        expected = {c.id for c in cases.values() if matrix.contract.waits_for(person, c)}
        busy += bool(expected)
        tally.expect(f"{who} inbox ids", sorted(expected), sorted(i["id"] for i in body["items"]))
    tally.done(at_least=len(matrix.people) * 2)
    assert busy >= 15, "too few users with work to make the inbox check mean something"


def test_chain_history_shows_only_readable_cases(matrix: Matrix) -> None:
    cases = matrix.cases()
    ks = matrix.focus["ks"]
    tally = Tally()
    for who in READERS:
        person = matrix.people[who]
        status, body = matrix.api(
            "GET", f"/api/v1/knowledge-supports/{ks}/chain-history", who, limit=500
        )
        tally.status(f"{who} chain-history", 200, status, body)
        assert body["total"] <= 500
        in_chain = {c.id for c in cases.values() if ks in (c.id, c.ks)}
        expected = {c for c in in_chain if matrix.contract.can_read(person, cases[c])}
        tally.expect(
            f"{who} chain cases", sorted(expected), sorted({r["case"] for r in body["items"]})
        )
    tally.done(at_least=len(READERS) * 2)


# --- acting ------------------------------------------------------------------------------


def _fire(matrix: Matrix, who: str, case: CaseFacts, trigger: str, **extra: Any) -> Any:
    path = f"/api/v1/{COLLECTIONS[case.type]}/{case.id}/transitions"
    return matrix.api("POST", path, who, {"trigger": trigger, "params": PROBE, **extra})


def test_every_trigger_by_every_role_where_the_case_lives(matrix: Matrix) -> None:
    """The full sweep: each role held in a focus case's own unit, assignee or region, firing
    every trigger of its type (auto-only ones included)."""
    cases = matrix.cases()
    tally = Tally()
    for label, places in HOME.items():
        case = cases[matrix.focus[label]]
        for place in places:
            for role in ROLES:
                who = person_name(role, place)
                for trigger in TRIGGERS[case.type]:
                    expected = matrix.contract.fire(matrix.people[who], case, trigger)
                    status, body = _fire(matrix, who, case, trigger)
                    tally.status(
                        f"{who} {trigger} on {label} ({case.state})", expected, status, body
                    )
    tally.done(at_least=250)
    assert cases == matrix.cases(), "a probe changed a case"


def test_every_user_acting_on_every_focus_case(matrix: Matrix) -> None:
    """Everyone else, once per case, with a trigger their role would allow if held in the
    right place (so a 403 here is about where, not what): 404 where they may not even look."""
    cases = matrix.cases()
    tally = Tally()
    for index, (who, person) in enumerate(matrix.people.items()):
        roles = {role for _, role in person.memberships}
        for label in REGIONAL:
            case = cases[matrix.focus[label]]
            if who.split("@")[-1] in HOME[label]:
                continue  # swept in full above
            triggers = list(TRIGGERS[case.type])
            theirs = [t for t in triggers if {r for r, _ in TRIGGERS[case.type][t][0]} & roles]
            candidates = theirs or triggers
            trigger = candidates[index % len(candidates)]
            expected = matrix.contract.fire(person, case, trigger)
            status, body = _fire(matrix, who, case, trigger)
            tally.status(f"{who} {trigger} on {label}", expected, status, body)
    tally.done(at_least=len(matrix.people) * 2)
    assert cases == matrix.cases(), "a probe changed a case"


def test_admin_override_reaches_only_the_admins_own_cases(matrix: Matrix) -> None:
    cases = matrix.cases()
    tally = Tally()
    overriders = [person_name("admin", p) for p in PLACES] + [
        "chair@vgr",
        "coordinator@vgr-rpo-psyk",
    ]
    for who in overriders:
        for label, case_id in matrix.focus.items():
            case = cases[case_id]
            trigger = "cancel" if "cancel" in TRIGGERS[case.type] else "waive"  # a report
            expected = matrix.contract.fire(matrix.people[who], case, trigger, override=True)
            status, body = _fire(matrix, who, case, trigger, override=True)
            tally.status(f"{who} override {trigger} on {label}", expected, status, body)
    tally.done(at_least=60)
    assert cases == matrix.cases(), "a probe changed a case"


def test_creating_a_knowledge_support(matrix: Matrix, rolled_back: None) -> None:
    tally = Tally()
    owner = matrix.org.id["npo-psykisk-halsa"]
    for who, person in matrix.people.items():
        body = {"title": f"Nytt av {who}", "kind": "rapport", "owner": "npo-psykisk-halsa"}
        status, answer = matrix.api("POST", "/api/v1/knowledge-supports", who, body)
        expected = 201 if matrix.contract.may_create_in(person, owner) else 403
        tally.status(f"{who} creates in npo-psykisk-halsa", expected, status, answer)
    tally.done(at_least=len(matrix.people))


def test_creating_an_indicator_list(matrix: Matrix, rolled_back: None) -> None:
    tally = Tally()
    owner = matrix.org.id["vgr"]
    for year, (who, person) in enumerate(matrix.people.items(), start=2030):
        # A year each: one list per owner, year and scope (a second is 409 conflict).
        body = {"owner": "vgr", "year": year, "scope": "sjukhus", "title": f"Lista av {who}"}
        status, answer = matrix.api("POST", "/api/v1/indicator-lists", who, body)
        expected = 201 if matrix.contract.may_create_list_in(person, owner) else 403
        tally.status(f"{who} creates a list for vgr", expected, status, answer)
    tally.done(at_least=len(matrix.people))


def test_caller_scoped_endpoints(matrix: Matrix) -> None:
    """/me, /tokens (one's own only; another's token is 404), /org-units, /overview."""
    tally = Tally()
    victim = person_name("chair", "vgr")
    for who in READERS + [person_name("admin", p) for p in PLACES]:
        person = matrix.people[who]
        status, me = matrix.api("GET", "/api/v1/me", who)
        tally.status(f"{who} /me", 200, status, me)
        tally.expect(
            f"{who} /me memberships",
            sorted((matrix.org.code[u], r) for u, r in person.memberships),
            sorted((m["unit"], m["role"]) for m in me["memberships"]),
        )
        status, listed = matrix.api("GET", "/api/v1/tokens", who)
        tally.status(f"{who} /tokens", 200, status, listed)
        with matrix.session() as session:
            own = set(
                session.scalars(
                    sa.select(ApiToken.id).where(ApiToken.user_id == matrix.user_ids[who])
                )
            )
        tally.expect(f"{who} /tokens ids", sorted(own), sorted(t["id"] for t in listed["items"]))
        if who != victim:
            token_id = matrix.spare_token[victim]
            status, body = matrix.api("DELETE", f"/api/v1/tokens/{token_id}", who)
            tally.status(f"{who} revokes {victim}'s token", 404, status, body)
    for who in [person_name(r, "skane-psyk-1") for r in ROLES] + [NOBODY]:
        for path in ("/api/v1/org-units", "/api/v1/overview"):
            status, body = matrix.api("GET", path, who)
            tally.status(f"{who} {path}", 200, status, body)
    tally.done(at_least=len(READERS) * 8)


# --- the web UI --------------------------------------------------------------------------


def sign_in(matrix: Matrix, who: str) -> FlaskClient:
    client = matrix.app.test_client()
    response = client.post("/login", data={"email": email(who), "password": PASSWORD})
    assert response.status_code == 303, (who, response.status_code)
    return client


def test_ui_signed_out_sees_only_the_login(matrix: Matrix) -> None:
    client = matrix.app.test_client()
    tally = Tally()
    for rule in matrix.app.url_map.iter_rules():
        if rule.endpoint not in UI_RULES:
            continue
        for path in concrete_paths(matrix, rule):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                response = client.open(path, method=method, data={})
                location = response.headers.get("Location", "")
                tally.expect(
                    f"{method} {path} signed out",
                    (302, True),
                    (response.status_code, location.startswith("/login")),
                )
    tally.done(at_least=len(UI_RULES))


def test_ui_case_pages_and_actions(matrix: Matrix) -> None:
    """A viewer in each place (and a user with no role) opens each focus case and tries to act
    on it; someone allowed tries a move not possible from the state (409). Nothing changes."""
    cases = matrix.cases()
    with matrix.session() as session:
        versions: dict[int, int] = dict(
            session.execute(sa.text("SELECT id, lock_version FROM cases")).all()
        )
    tally = Tally()
    readers = READERS
    allowed = {
        "ks": ("chair@npo-psykisk-halsa", "commission"),
        "ks_consultation": ("chair@npo-psykisk-halsa", "publish"),
        "cr": ("coordinator@vgr", "submit"),
        "ra": ("coordinator@vgr-rpo-psyk", "start_assessment"),
        "li": ("local_lead@vgr-psyk-1", "start_implementation"),
        "il": ("coordinator@vgr", "set_target"),  # without its parameters: 422, no change
        "fr": ("chair@vgr-rpo-psyk", "accept"),  # the recipient, but the report is open: 409
    }
    attempts = [(who, label) for who in readers for label in REGIONAL]
    attempts += [(who, label) for label, (who, _) in allowed.items()]
    clients: dict[str, FlaskClient] = {}
    for who, label in attempts:
        client = clients.setdefault(who, sign_in(matrix, who))
        person = matrix.people[who]
        case = cases[matrix.focus[label]]
        readable = matrix.contract.can_read(person, case)
        if who in readers:
            page = client.get(f"/arenden/{case.id}")
            tally.expect(f"{who} opens {label}", 200 if readable else 404, page.status_code)
            summary = client.get(f"/arenden/{case.id}/sammanfattning")
            tally.expect(
                f"{who} opens {label}'s summary", 200 if readable else 404, summary.status_code
            )
            download = client.get(f"/arenden/{case.id}/historik.csv")
            tally.expect(
                f"{who} downloads {label}'s history", 200 if readable else 404, download.status_code
            )
            if readable and case.type == "knowledge_support":
                in_chain = {c.id for c in cases.values() if case.id in (c.id, c.ks)}
                expected = {c for c in in_chain if matrix.contract.can_read(person, cases[c])}
                text = download.get_data(as_text=True).removeprefix("\ufeff")
                named = {int(line.split(";")[1]) for line in text.splitlines()[1:]}
                tally.expect(f"{who} {label} chain cases", sorted(expected), sorted(named))
        trigger = allowed[label][1] if allowed[label][0] == who else next(iter(TRIGGERS[case.type]))
        expected = matrix.contract.fire(person, case, trigger)
        form = {"trigger": trigger, "lock_version": str(versions[case.id])}
        response = client.post(f"/arenden/{case.id}/handling", data=form)
        tally.expect(f"{who} {trigger} on {label}", expected, response.status_code)
    tally.done(at_least=len(readers) * 6)
    assert cases == matrix.cases()


def test_ui_overdue_export_lists_only_readable_cases(matrix: Matrix) -> None:
    """Försenade as CSV: every reader gets it, and it names only cases they may read."""
    cases = {c.id: c for c in matrix.cases().values()}
    tally = Tally()
    listed = 0
    for who in READERS:
        client = sign_in(matrix, who)
        response = client.get("/forsenade.csv")
        tally.expect(f"{who} downloads Försenade", 200, response.status_code)
        text = response.get_data(as_text=True).removeprefix("\ufeff")
        named = [int(row[1]) for row in list(csv.reader(io.StringIO(text), delimiter=";"))[1:]]
        person = matrix.people[who]
        unreadable = [i for i in named if not matrix.contract.can_read(person, cases[i])]
        tally.expect(f"{who} Försenade names only readable cases", [], unreadable)
        listed += len(named)
    assert listed, "no overdue case in the matrix: the check above checked nothing"
    tally.done(at_least=len(READERS))


def test_ui_indicators_measurements_and_new_knowledge_supports(
    matrix: Matrix, rolled_back: None
) -> None:
    cases = matrix.cases()
    ks, li = cases[matrix.focus["ks"]], cases[matrix.focus["li"]]
    contract = matrix.contract
    national = [matrix.org.id[c] for c in NATIONAL]
    tally = Tally()
    measurers = [person_name(r, "vgr-psyk-1") for r in ROLES]
    measurers += ["local_lead@vgr", "member@vgr", "viewer@vgr", "local_lead@vgr-psyk-2"]
    measurers += ["member@skane-psyk-1", NOBODY]
    for who in measurers:
        client = sign_in(matrix, who)
        person = matrix.people[who]
        # The implementation is in 'assigned': a report is refused for its state (409), after
        # the checks of who may see it (404) and who may report (403).
        response = client.post(
            f"/arenden/{li.id}/matvarde", data={"indicator": "", "period": "2026", "value": "1"}
        )
        expected = (
            404
            if not contract.can_read(person, li)
            else 409
            if contract.may_report_measurements(person, li)
            else 403
        )
        tally.expect(f"{who} reports a measurement", expected, response.status_code)
    creators = [person_name(r, "npo-psykisk-halsa") for r in ROLES]
    creators += ["chair@sverige", "process_lead@sverige", "viewer@sverige"]
    creators += ["chair@npo-cancersjukdomar", "chair@vgr", "process_lead@vgr", NOBODY]
    for who in creators:
        client = sign_in(matrix, who)
        person = matrix.people[who]
        # An indicator without a name: 422 for those who may define one, else 403.
        response = client.post(f"/arenden/{ks.id}/indikatorer", data={"name": ""})
        expected = 422 if contract.may_define_indicators(person, ks) else 403
        tally.expect(f"{who} defines an indicator", expected, response.status_code)
        may_create = any(contract.may_create_in(person, unit) for unit in national)
        page = client.get("/kunskapsstod/nytt")
        tally.expect(
            f"{who} opens 'Nytt kunskapsstöd'", 200 if may_create else 403, page.status_code
        )
        form = {"title": f"Nytt av {who}", "kind": "rapport", "owner": "npo-psykisk-halsa"}
        response = client.post("/kunskapsstod/nytt", data=form)
        expected = 303 if contract.may_create_in(person, national[0]) else 403
        tally.expect(f"{who} creates in npo-psykisk-halsa", expected, response.status_code)
    tally.done(at_least=len(measurers) + 3 * len(creators))


ADMIN_PLACES = ("sverige", "npo-psykisk-halsa", "vastra", "vgr", "vgr-psyk-1", "skane")
ADMIN_PAGES = (
    "/admin/",
    "/admin/enheter",
    "/admin/anvandare",
    "/admin/behorigheter",
    "/admin/api-nycklar",
)


def test_ui_administration_stays_within_the_admins_units(matrix: Matrix, rolled_back: None) -> None:
    contract = matrix.contract
    tally = Tally()
    for who in ("chair@vgr", "viewer@sverige", NOBODY):
        client = sign_in(matrix, who)
        for path in ADMIN_PAGES:
            tally.expect(f"{who} GET {path}", 403, client.get(path).status_code)
        response = client.post(
            "/admin/anvandare", data={"email": "x", "name": "x", "password": "x"}
        )
        tally.expect(f"{who} creates a user", 403, response.status_code)
    targets = ("vgr", "vgr-psyk-1", "skane")
    target_people = ["viewer@vgr-psyk-1", "viewer@skane", NOBODY]
    with matrix.session() as session:
        memberships = {
            name: session.execute(
                sa.select(Membership.id, Membership.unit_id).where(
                    Membership.user_id == matrix.user_ids[name]
                )
            ).one()
            for name in target_people
            if name != NOBODY
        }
    for place in ADMIN_PLACES:
        who = person_name("admin", place)
        admin = matrix.people[who]
        client = sign_in(matrix, who)
        for path in ADMIN_PAGES[:1]:
            tally.expect(f"{who} GET {path}", 200, client.get(path).status_code)
        # Invalid input after the scope check: 422 inside the admin's units, 403 outside.
        for target in targets:
            unit = matrix.org.id[target]
            expected = 422 if contract.admin_covers(admin, unit) else 403
            grant = {"email": email("viewer@vgr"), "unit": target, "role": "no-such-role"}
            response = client.post("/admin/behorigheter", data=grant)
            tally.expect(f"{who} grants in {target}", expected, response.status_code)
            new_unit = {"kind": "local_unit", "parent": target, "code": "!", "name": "x"}
            response = client.post("/admin/enheter", data=new_unit)
            tally.expect(f"{who} creates a unit under {target}", expected, response.status_code)
        for target in target_people:
            covered = contract.admin_covers_person(admin, matrix.people[target])
            user_page = f"/admin/anvandare/{matrix.user_ids[target]}"
            response = client.get(user_page)
            tally.expect(
                f"{who} opens {target}'s account", 200 if covered else 403, response.status_code
            )
            # An empty name is refused after the scope check: 422 within reach, 403 outside.
            response = client.post(f"{user_page}/uppgifter", data={"name": ""})
            expected = 422 if covered else 403
            tally.expect(f"{who} renames {target}", expected, response.status_code)
            token_id = matrix.spare_token[target]  # already revoked: revoking again changes nothing
            response = client.post(f"/admin/api-nycklar/{token_id}/aterkalla")
            tally.expect(
                f"{who} revokes {target}'s token", 303 if covered else 403, response.status_code
            )
            if target in memberships:
                membership_id, unit = memberships[target]
                savepoint = matrix.connection.begin_nested()
                response = client.post(
                    f"/admin/behorigheter/{membership_id}/ta-bort", data={"bekraftat": "ja"}
                )
                savepoint.rollback()
                expected = 303 if contract.admin_covers(admin, unit) else 403
                tally.expect(f"{who} removes {target}'s role", expected, response.status_code)
        response = client.post(
            "/admin/anvandare", data={"email": "x", "name": "x", "password": "x"}
        )
        tally.expect(f"{who} creates a user (bad e-mail)", 422, response.status_code)
    tally.done(at_least=len(ADMIN_PLACES) * 19)
