"""Hostile input: oversized, malformed and script-laden values in every form and API body.

Whatever is sent, kflow answers with a 4xx that says what was wrong (in Swedish; as JSON in the
API), never a 500, and a refused request leaves the database as it was: every test compares the
row counts of the tables a request could touch before and after. The limits themselves live in
kflow.web.limits (sizes, ids, NUL characters, strict JSON) and in the services (text lengths).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from kflow import paging
from kflow.accounts.models import ApiToken
from kflow.cases.events import CaseEvent
from kflow.cases.models import Case
from kflow.followup import indicators
from kflow.followup.models import Indicator, Measurement
from kflow.mailing.models import OutboxMail
from kflow.org.models import Membership, Unit, User
from kflow.web import limits
from kflow.web.api.openapi import openapi_document
from tests.support.api_support import Api
from tests.support.ui_support import Page

KS = "knowledge-supports"
RA = "regional-adaptations"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
MB = 1024 * 1024
TABLES = (Case, CaseEvent, OutboxMail, Unit, User, Membership, ApiToken, Indicator, Measurement)


def counts(session) -> dict[str, int]:
    """Rows per table: what a refused request must leave exactly as it was."""
    session.expire_all()
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model))
        for model in TABLES
    }


def case_state(session, case) -> tuple:
    session.expire_all()
    return case.state, case.lock_version, case.due


@pytest.fixture
def primed_api(runtime, world):
    """The ``api`` with its users' tokens made up front."""
    api = Api(runtime, world)
    for who in ("npo-chair", "vgr-coordinator"):
        api.token(who)  # made now, so that the row counts below stay put
    return api


def raw(api: Api, method: str, path: str, who: str | None, body: bytes, **headers: str):
    """A request with exactly these bytes as its body (checked against the OpenAPI document)."""
    headers = {"Content-Type": "application/json", **headers}
    return api.request(method, path, who=who, data=body, headers=headers)


def assert_swedish_error(page: Page, status: int, *fragments: str) -> None:
    assert page.status == status, page.html[:2000]
    assert page.response.mimetype == "text/html"
    text = page.doc.find("main").text
    for fragment in fragments:
        assert fragment in text, text


def assert_escaped(page: Page) -> None:
    """No markup from the input made it into the page as markup."""
    html = page.html
    assert "<script>alert" not in html and "<img src=x" not in html
    for element in page.doc.find_all():
        assert element.tag != "script"
        assert not [name for name in element.attrs if name.startswith("on")], element.attrs


# --- The JSON API ----------------------------------------------------------------------------


def test_api_body_over_two_megabytes_is_413_in_json(primed_api, world):
    ks = world.ks_in("review")
    before, state = counts(world.session), case_state(world.session, ks)
    huge = json.dumps({"trigger": "request_changes", "comment": "x" * (3 * MB)}).encode()
    for path in (f"/api/v1/{KS}/{ks.id}/transitions", f"/api/v1/{KS}", "/api/v1/tokens"):
        reply = raw(primed_api, "POST", path, "npo-chair", huge)
        assert (reply.status, reply.code) == (413, "bad_request"), (path, reply.json)
        assert "högst 2 MB" in reply.json["error"]["message"]
    assert counts(world.session) == before
    assert case_state(world.session, ks) == state


def test_api_texts_longer_than_their_limit_are_422(primed_api, world):
    ks = world.ks_in("review")
    awaiting = world.ks_in("awaiting_approval")
    before, state = counts(world.session), case_state(world.session, ks)
    transitions = f"/api/v1/{KS}/{ks.id}/transitions"
    for body, limit in [
        ({"trigger": "request_changes", "comment": "x" * MB}, "10000"),
        ({"trigger": "request_changes", "comment": "x" * 10_001}, "10000"),
        ({"trigger": "cancel", "comment": "å" * 10_001}, "10000"),
    ]:
        reply = primed_api.error(
            "POST", transitions, "npo-chair", 422, "validation_error", json=body
        )
        assert limit in reply.json["error"]["message"]
    good = {"title": "Ångest", "kind": "vardprogram", "owner": "npo-psykisk-halsa"}
    for body in [
        {**good, "title": "x" * 301},
        {**good, "title": "x" * MB},
        {**good, "description": "x" * 20_001},
    ]:
        primed_api.error("POST", f"/api/v1/{KS}", "npo-chair", 422, "validation_error", json=body)
    # A text parameter (decision_ref) is bounded too.
    primed_api.fire_error(
        KS, awaiting.id, "publish", "npo-chair", 422, "validation_error",
        params={"decision_ref": "x" * 201},
    )  # fmt: skip
    assert counts(world.session) == before
    assert case_state(world.session, ks) == state


MALFORMED_JSON = [
    b'{"trigger": NaN}',
    b'{"trigger": "cancel", "lock_version": Infinity}',
    b'{"trigger": "cancel", "lock_version": -Infinity}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"params": ' * 100_000 + b"{}" + b"}" * 100_000,
    b'{"trigger": "cancel", "comment": "\xff\xfe\xfa"}',
    b'{"trigger": "cancel", "comment": "ok"} trailing',
    b'{"trigger": "cancel",}',
    b"",
    b"null",
    b'"cancel"',
    b"[]",
    b"17",
]


def test_malformed_json_is_400_bad_request(primed_api, world):
    ks = world.ks_in("review")
    before, state = counts(world.session), case_state(world.session, ks)
    for body in MALFORMED_JSON:
        reply = raw(primed_api, "POST", f"/api/v1/{KS}/{ks.id}/transitions", "npo-chair", body)
        assert (reply.status, reply.code) == (400, "bad_request"), (body[:40], reply.json)
    assert counts(world.session) == before
    assert case_state(world.session, ks) == state


def test_json_nested_deeper_than_the_limit_is_400(primed_api, world):
    ks = world.ks_in("review")
    nested: dict = {"channel": "remiss"}
    for _ in range(40):
        nested = {"x": nested}
    reply = primed_api.request(
        "POST", f"/api/v1/{KS}/{ks.id}/transitions", who="npo-chair",
        json={"trigger": "open_consultation", "params": nested},
    )  # fmt: skip
    assert (reply.status, reply.code) == (400, "bad_request")
    assert "nästlad" in reply.json["error"]["message"]
    # The same move with its parameters at an ordinary depth goes through.
    assert primed_api.fire(
        KS, ks.id, "open_consultation", "npo-chair", params={"channel": "remiss"}
    )


WRONG_BODIES = [
    {"trigger": "request_changes", "comment": "Rätta\x00 detta"},
    {"trigger": "request\x00_changes", "comment": "x"},
    {"trigger": "open_consultation", "params": {"channel\x00": "remiss"}},
    {"trigger": "open_consultation", "params": {"channel": "remiss", "deadline": "\x00"}},
    {"trigger": ["request_changes"], "comment": "x"},
    {"trigger": {"name": "cancel"}, "comment": "x"},
    {"trigger": 1.5},
    {"trigger": True},
    {"trigger": "request_changes", "comment": ["x"]},
    {"trigger": "request_changes", "comment": {"text": "x"}},
    {"trigger": "request_changes", "comment": 10**30},
    {"trigger": "request_changes", "comment": "x", "lock_version": 10**30},
    {"trigger": "request_changes", "comment": "x", "lock_version": -(10**30)},
    {"trigger": "request_changes", "comment": "x", "lock_version": 1.5},
    {"trigger": "request_changes", "comment": "x", "lock_version": True},
    {"trigger": "request_changes", "comment": "x", "lock_version": [1]},
    {"trigger": "request_changes", "comment": "x", "override": "true"},
    {"trigger": "request_changes", "comment": "x", "override": 1},
    {"trigger": "open_consultation", "params": {"channel": ["remiss"]}},
    {"trigger": "open_consultation", "params": {"channel": {"$ne": "x"}}},
    {"trigger": "open_consultation", "params": {"channel": SCRIPT}},
]


def test_wrong_types_nul_and_huge_numbers_are_422(primed_api, world):
    ks = world.ks_in("review")
    before, state = counts(world.session), case_state(world.session, ks)
    path = f"/api/v1/{KS}/{ks.id}/transitions"
    for body in WRONG_BODIES:
        reply = primed_api.error("POST", path, "npo-chair", 422, "validation_error", json=body)
        assert reply.headers["Content-Type"].startswith("application/json")
    assert counts(world.session) == before
    assert case_state(world.session, ks) == state


def test_lone_surrogates_are_422(primed_api, world):
    """``"\\ud800"`` is valid JSON but not Unicode: no database can store it."""
    ks = world.ks_in("review")
    before = counts(world.session)
    path = f"/api/v1/{KS}/{ks.id}/transitions"
    for body in [
        b'{"trigger": "request_changes", "comment": "Halv \\ud800 emoji"}',
        b'{"trigger": "request_changes", "comment": "\\udfff"}',
        b'{"title": "\\ud83d", "kind": "vardprogram", "owner": "npo-psykisk-halsa"}',
    ]:
        target = f"/api/v1/{KS}" if b"title" in body else path
        reply = raw(primed_api, "POST", target, "npo-chair", body)
        assert (reply.status, reply.code) == (422, "validation_error"), reply.json
    # A real (paired) emoji is fine.
    good = b'{"trigger": "request_changes", "comment": "Bra \\ud83d\\ude00"}'
    reply = raw(primed_api, "POST", path, "npo-chair", good)
    assert reply.status == 200, reply.json
    assert primed_api.history(KS, ks.id, "npo-chair")["items"][-1]["comment"] == "Bra \U0001f600"
    assert counts(world.session)["case_events"] == before["case_events"] + 1


BAD_DATES = [
    "2099-02-30",
    "2099-13-01",
    "2099-00-10",
    "99999-01-01",
    "2099-1-1",
    " 2099-01-01",
    "2099-01-01T00:00",
    "2099/01/01",
    "01-01-2099",
    "0000-01-01",
    "-2099-01-01",
    "\u0662\u0660\u0669\u0669-01-01",
    "2020-01-01",
    20990101,
    True,
    ["2099-01-01"],
]


def test_bad_dates_are_422(primed_api, world):
    ks = world.ks_in("review")
    before, state = counts(world.session), case_state(world.session, ks)
    for deadline in BAD_DATES:
        reply = primed_api.fire_error(
            KS, ks.id, "open_consultation", "npo-chair", 422, "validation_error",
            params={"channel": "remiss", "deadline": deadline},
        )  # fmt: skip
        assert "deadline" in reply.json["error"]["message"], deadline
    assert counts(world.session) == before
    assert case_state(world.session, ks) == state


def test_bad_unit_lists_are_422(primed_api, world):
    ra = world.adaptation_in("adopted")
    before, state = counts(world.session), case_state(world.session, ra)
    for units in [
        [f"enhet-{n}" for n in range(1001)],
        [["vgr-psyk-1"]],
        [SCRIPT],
        "vgr-psyk-1,<script>",
        [None],
        {"vgr-psyk-1": True},
        42,
    ]:
        primed_api.fire_error(
            RA, ra.id, "hand_off", "vgr-coordinator", 422, "validation_error",
            params={"units": units},
        )  # fmt: skip
    assert counts(world.session) == before
    assert case_state(world.session, ra) == state


def test_hostile_query_and_path_values_are_4xx(primed_api, world):
    ks = world.ks_in("review")
    cases = f"/api/v1/{KS}"
    for query in [
        {"offset": str(10**20)},
        {"offset": "-1"},
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "1e3"},
        {"limit": str(10**40)},
        {"limit": "9" * 3900},  # longer is a URL over 4000 characters: 414
        {"offset": "²"},
        {"offset": "\u0663"},
        {"knowledge_support": str(10**12)},
        {"knowledge_support": "abc"},
        {"region": "vgr\x00"},
        {"unit": "\x00"},
        {"owner": SCRIPT},
        {"state": SCRIPT},
    ]:
        reply = primed_api.error("GET", cases, "npo-chair", 422, "validation_error", query=query)
        assert reply.headers["Content-Type"].startswith("application/json")
    for path in [
        f"{cases}/{10**20}",
        f"{cases}/{2**31}",
        f"{cases}/-1",
        f"{cases}/{ks.id}%00",
        f"{cases}/{ks.id}/history/x",
        f"/api/v1/{SCRIPT}",
        "/api/v1/tokens/99999999999999999999",
    ]:
        primed_api.error(
            "GET" if "tokens" not in path else "DELETE", path, "npo-chair", 404, "not_found"
        )
    # Inbox, overview and history page the same way.
    for path in ["/api/v1/inbox", "/api/v1/overview", f"{cases}/{ks.id}/history"]:
        primed_api.error("GET", path, "npo-chair", 422, "validation_error", query={"offset": 2**70})


def test_empty_query_parameters_are_422(primed_api, world):
    """A parameter the document declares, given empty (``?state=``), is refused, not ignored:
    on every operation and for every query parameter it declares."""
    ks = world.ks_in("review")
    document = openapi_document()
    tried = set()
    for template, item in document["paths"].items():
        for method, operation in item.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            path = template.replace("{case_id}", str(ks.id)).replace("{collection}", KS)
            path = path.replace("{indicator_id}", "1").replace("{measurement_id}", "1")
            for name in names:
                for empty in ("", " "):
                    reply = primed_api.error(
                        method.upper(), path, "npo-chair", 422, "validation_error",
                        query={name: empty},
                    )  # fmt: skip
                    assert reply.json["error"]["message"] == (
                        f"{name} är tomt: ange ett värde eller utelämna parametern."
                    )
                tried.add(name)
    assert tried == {
        "limit", "offset", "knowledge_support", "region", "unit", "state", "owner", "kind",
        "parent", "owner_unit", "indicator", "period", "history", "level",
    }  # fmt: skip
    # Given a value, each works (a paging value as before).
    primed_api.get(f"/api/v1/{KS}", "npo-chair", state="review", limit="1", offset="0")


def test_offset_bounds_are_the_documented_ones(primed_api, world):
    schema = {
        p["name"]: p["schema"]
        for p in openapi_document()["paths"]["/api/v1/inbox"]["get"]["parameters"]
    }
    assert schema["offset"]["maximum"] == paging.MAX_OFFSET == limits.MAX_DB_INT
    assert (schema["limit"]["minimum"], schema["limit"]["maximum"]) == (1, paging.MAX_LIMIT)
    for path in (f"/api/v1/{KS}", "/api/v1/inbox", "/api/v1/overview", "/api/v1/org-units"):
        assert primed_api.get(path, "npo-chair", offset=str(paging.MAX_OFFSET))["items"] == []
        assert primed_api.get(path, "npo-chair", limit=str(paging.MAX_LIMIT))["total"] >= 0
        primed_api.error(
            "GET", path, "npo-chair", 422, "validation_error",
            query={"offset": str(paging.MAX_OFFSET + 1)},
        )  # fmt: skip


def test_an_over_long_url_is_414_in_json_before_anything_else(primed_api, world):
    limit = limits.MAX_URL_LENGTH
    base = f"/api/v1/{KS}?owner="
    at_limit = base + "x" * (limit - len(base))
    assert len(at_limit) == limit
    # At the limit the request is read (and the unknown owner refused).
    primed_api.error("GET", at_limit, "npo-chair", 422, "validation_error")
    for who in ("npo-chair", None):  # before authentication: a 414 tells nothing
        reply = primed_api.error("GET", at_limit + "x", who, 414, "bad_request")
        assert reply.json["error"]["message"] == limits.TOO_LONG_URL
        assert "4000 tecken" in reply.json["error"]["message"]
    # Percent-encoded characters count as sent: 'å' is six characters.
    reply = primed_api.error("GET", base + "%C3%A5" * (limit // 6), "npo-chair", 414, "bad_request")
    # A POST (which changes nothing) and /healthz alike.
    ks = world.ks_in("review")
    for method, path in [
        ("POST", f"/api/v1/{KS}/{ks.id}/transitions?x=" + "1" * limit),
        ("GET", "/healthz?" + "x" * limit),
    ]:
        primed_api.error(method, path, "npo-chair", 414, "bad_request", json={"trigger": "cancel"})
    assert case_state(world.session, ks)[0] == "review"
    # A path too long for any route (no operation of the document: not through the checker).
    response = primed_api.client.get("/api/v1/" + "a" * limit)
    assert (response.status_code, response.get_json()["error"]["code"]) == (414, "bad_request")


def test_without_a_token_hostile_input_is_still_401(primed_api, world):
    ks = world.ks_in("review")
    for query in [{"offset": str(10**20)}, {"region": "\x00"}]:
        primed_api.error("GET", f"/api/v1/{KS}", None, 401, "unauthenticated", query=query)
    reply = raw(primed_api, "POST", f"/api/v1/{KS}/{ks.id}/transitions", None, b"[" * 100_000)
    assert (reply.status, reply.code) == (401, "unauthenticated")
    primed_api.error(
        "POST", f"/api/v1/{KS}/{ks.id}/transitions", None, 401, "unauthenticated",
        json={"trigger": "cancel", "comment": "\x00"},
    )  # fmt: skip


def test_markup_in_api_text_is_kept_as_data(primed_api, world):
    title = f"{SCRIPT}{IMG} javascript:alert(1)"
    body = {"title": title, "kind": "vardprogram", "owner": "npo-psykisk-halsa"}
    reply = primed_api.request("POST", f"/api/v1/{KS}", who="npo-chair", json=body, expect=201)
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.json["title"] == title
    case_id = reply.json["id"]
    primed_api.fire(KS, case_id, "cancel", "npo-chair", comment=SCRIPT)
    assert primed_api.history(KS, case_id, "npo-chair")["items"][-1]["comment"] == SCRIPT


# --- The web pages and forms -----------------------------------------------------------------


def test_page_addresses(cheap_ui, world):
    cheap_ui.login("npo-chair")
    for path, query, status, message in [
        ("/", {"offset": str(10**20)}, 422, "Sidans startrad (offset) är ett för stort tal."),
        ("/oversikt", {"offset": "-1"}, 422, "offset får inte vara negativt"),
        ("/oversikt", {"owner": "npo\x00"}, 422, "NUL"),
        ("/oversikt.csv", {"kind": "\x00"}, 422, "NUL"),
        ("/arenden/abc", {}, 404, "Sidan finns inte"),
        (f"/arenden/{2**31}", {}, 404, "Sidan finns inte"),
        ("/oversikt", {"owner": "x" * 4000}, 414, "Adressen är för lång"),
        ("/" + "a" * 4000, {}, 414, "högst 4000 tecken"),
    ]:
        page = cheap_ui.get(path, expect=None, **query)
        assert_swedish_error(page, status, message)
    # Empty filters in the pages are the forms' "Alla": no filter, as before.
    page = cheap_ui.get("/oversikt", owner="", kind="", state="")
    assert page.doc.has_id("matris") or "Inga publicerade kunskapsstöd matchar" in page.text


def test_login_form(cheap_ui, world):
    before = counts(world.session)
    page = cheap_ui.post("/login", {"email": "x" * 3 * MB, "password": "p"})
    assert_swedish_error(page, 413, "för stort")
    page = cheap_ui.post("/login", {"email": "x" * MB, "password": "p" * 100_000})
    assert_swedish_error(page, 200, "Fel e-postadress eller lösenord.")
    page = cheap_ui.post("/login", {"email": "npo-chair@test.se\x00", "password": "p"})
    assert_swedish_error(page, 422, "NUL")
    page = cheap_ui.post("/login", {"email": f"{IMG}{SCRIPT}@test.se", "password": "p"})
    assert_swedish_error(page, 200, "Fel e-postadress eller lösenord.")
    assert_escaped(page)
    assert page.doc.by_id("email").attrs["value"] == f"{IMG}{SCRIPT}@test.se".lower()
    # Bytes that are not UTF-8, and a multipart body that is cut short.
    response = cheap_ui.client.post(
        "/login",
        data=b"email=%FF%FE%FA&password=%C3",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    response = cheap_ui.client.post(
        "/login", data=b"--x\r\nContent-Disposition: form-data; name=", content_type=(
            "multipart/form-data; boundary=x"
        ),
    )  # fmt: skip
    assert response.status_code in (200, 400)
    # A javascript: address to go to after signing in is ignored.
    page = cheap_ui.post(
        "/login?next=javascript:alert(1)",
        {"email": "npo-chair@test.se", "password": "correct-horse-battery"},
    )
    assert page.status == 303 and page.response.location == "/"
    assert counts(world.session) == before


def test_new_knowledge_support_form(cheap_ui, world):
    cheap_ui.login("npo-chair")
    before = counts(world.session)
    good = {"title": "Ångest", "kind": "vardprogram", "owner": "npo-psykisk-halsa"}
    for form, status, message in [
        ({**good, "title": "x" * 301}, 422, "Titel får vara högst 300 tecken."),
        ({**good, "title": "Ån\x00gest"}, 422, "NUL"),
        ({**good, "description": "x" * 20_001}, 422, "Beskrivning måste vara text på högst"),
        ({**good, "description": "x" * MB}, 422, "Beskrivning måste vara text på högst"),
        ({**good, "description": "x" * 3 * MB}, 413, "för stort"),
        ({**good, "kind": SCRIPT}, 422, "Typ måste vara en av"),
        ({**good, "owner": SCRIPT}, 422, f"Ägare: det finns ingen enhet med koden '{SCRIPT}'"),
        ({**good, "owner": "x" * 100_000}, 422, "Ägare: det finns ingen enhet"),
    ]:
        page = cheap_ui.post("/kunskapsstod/nytt", form)
        assert_swedish_error(page, status, message)
        assert_escaped(page)
    assert counts(world.session) == before


def test_trigger_forms(cheap_ui, world):
    ks = world.ks_in("review")
    cheap_ui.login("npo-chair")
    before, state = counts(world.session), case_state(world.session, ks)
    version = str(ks.lock_version)
    for form, status, message in [
        ({"trigger": "request_changes", "comment": "x" * 10_001}, 422, "högst 10000 tecken"),
        ({"trigger": "request_changes", "comment": "x" * MB}, 422, "högst 10000 tecken"),
        ({"trigger": "request_changes", "comment": "x" * 3 * MB}, 413, "för stort"),
        ({"trigger": "request_changes", "comment": "Nej\x00"}, 422, "NUL"),
        ({"trigger": "open_consultation", "channel": "remiss", "deadline": "2099-02-30"}, 422,
         "Ange ett datum som ÅÅÅÅ-MM-DD"),
        ({"trigger": "open_consultation", "channel": "remiss", "deadline": SCRIPT}, 422,
         "Ange ett datum som ÅÅÅÅ-MM-DD"),
        ({"trigger": "open_consultation", "channel": SCRIPT}, 422, "måste vara en av"),
        ({"trigger": SCRIPT}, 422, SCRIPT),
        ({"trigger": "request_changes", "comment": "x", "lock_version": "9" * 30}, 422,
         "för stort tal"),
        ({"trigger": "request_changes", "comment": "x", "lock_version": "9" * 5000}, 422,
         "för stort tal"),
        ({"trigger": "request_changes", "comment": "x", "lock_version": "²"}, 422,
         "siffrorna 0-9"),
        ({"trigger": "request_changes", "comment": "x", "lock_version": "-1"}, 422,
         "saknar ärendets version"),
        ({"trigger": "request_changes", "comment": "x", "lock_version": SCRIPT}, 422,
         "saknar ärendets version"),
    ]:  # fmt: skip
        page = cheap_ui.post(f"/arenden/{ks.id}/handling", {"lock_version": version, **form})
        assert_swedish_error(page, status, message)
        assert_escaped(page)
    assert counts(world.session) == before
    assert case_state(world.session, ks) == state
    # Ids in the address that fit no database column are simply not found.
    assert_swedish_error(cheap_ui.get(f"/arenden/{10**20}", expect=None), 404, "Sidan finns inte")
    assert_swedish_error(cheap_ui.post(f"/arenden/{2**31}/handling", {}), 404, "Sidan finns inte")


def test_hand_off_form_with_unknown_units(cheap_ui, world):
    ra = world.adaptation_in("adopted")
    cheap_ui.login("vgr-coordinator")
    before, state = counts(world.session), case_state(world.session, ra)
    form = {"trigger": "hand_off", "lock_version": str(ra.lock_version)}
    page = cheap_ui.post(f"/arenden/{ra.id}/handling", {**form, "units": [SCRIPT, IMG]})
    assert_swedish_error(page, 422, "är ingen lokal enhet i ärendets region")
    assert_escaped(page)
    page = cheap_ui.post(f"/arenden/{ra.id}/handling", {**form, "units": ["x"] * 1001})
    assert_swedish_error(page, 422, "")
    assert counts(world.session) == before
    assert case_state(world.session, ra) == state


def test_deviation_and_measurement_forms(cheap_ui, world):
    ks = world.ks_in("published")
    indicators.define_indicator(
        world.session, world.authority("npo-chair"), ks, name="Andel", unit_of_measure="procent"
    )
    ra = world.adaptation_in("implementing", ks)
    li = world.implementation_in("implemented", ra)
    cheap_ui.login("local-lead")
    before, state = counts(world.session), case_state(world.session, li)
    page = cheap_ui.post(
        f"/arenden/{li.id}/handling",
        {
            "trigger": "report_deviation",
            "lock_version": str(li.lock_version),
            "comment": "x" * 3 * MB,
        },
    )
    assert_swedish_error(page, 413, "för stort")
    indicator = str(world.session.scalar(select(Indicator.id)))
    good = {"indicator": indicator, "period": "2026", "value": "12,5"}
    for form, message in [
        ({**good, "indicator": "9" * 30}, "för stort tal"),
        ({**good, "indicator": str(2**40)}, "Indikatorn är ett för stort tal."),
        ({**good, "indicator": str(2**30)}, "indikator för det här kunskapsstödet"),
        ({**good, "indicator": SCRIPT}, "indikator för det här kunskapsstödet"),
        ({**good, "indicator": "²"}, "Indikatorn måste skrivas med siffrorna 0-9."),
        ({**good, "indicator": "9" * 5000}, "för stort tal"),
        ({**good, "value": "NaN"}, "ändligt tal"),
        ({**good, "value": "1e999"}, "ändligt tal"),
        ({**good, "value": "-inf"}, "ändligt tal"),
        ({**good, "value": SCRIPT}, "måste vara ett tal"),
        ({**good, "period": "2026-13"}, "Period måste vara"),
        ({**good, "period": "2026\x00"}, "NUL"),
        ({**good, "period": SCRIPT}, "Period måste vara"),
    ]:
        page = cheap_ui.post(f"/arenden/{li.id}/matvarde", form)
        assert_swedish_error(page, 422, message)
        assert_escaped(page)
    page = cheap_ui.post(f"/arenden/{li.id}/matvarde", {**good, "value": "x" * 3 * MB})
    assert_swedish_error(page, 413, "för stort")
    assert counts(world.session) == before
    assert case_state(world.session, li) == state


def test_admin_forms(cheap_ui, world):
    cheap_ui.login("admin")
    before = counts(world.session)
    unit = {"kind": "local_unit", "parent": "vgr", "code": "vgr-ny", "name": "Ny enhet"}
    user = {"email": "ny@test.se", "name": "Ny", "password": "lösenord-123"}
    for path, form, message in [
        ("/admin/enheter", {**unit, "name": "x" * 201}, "högst 200 tecken"),
        ("/admin/enheter", {**unit, "name": "Ny\x00"}, "NUL"),
        ("/admin/enheter", {**unit, "code": SCRIPT}, "Enhetskoden får bara innehålla"),
        ("/admin/enheter", {**unit, "code": "x" * 81}, "Enhetskoden får bara innehålla"),
        ("/admin/enheter", {**unit, "kind": SCRIPT}, "Välj en enhetstyp"),
        ("/admin/enheter", {**unit, "parent": SCRIPT}, f"ingen enhet med koden '{SCRIPT}'"),
        ("/admin/anvandare", {**user, "email": "x" * 400 + "@test.se"}, "högst 320 tecken"),
        ("/admin/anvandare", {**user, "email": f"{SCRIPT}@test.se"}, "ingen giltig e-postadress"),
        ("/admin/anvandare", {**user, "name": "x" * 201}, "högst 200 tecken"),
        ("/admin/anvandare", {**user, "password": "kort"}, "minst 8 tecken"),
        ("/admin/behorigheter", {"email": SCRIPT, "unit": "vgr", "role": "chair"},
         f"ingen användare med e-postadressen '{SCRIPT}'"),
        ("/admin/behorigheter", {"email": "nobody@test.se", "unit": "vgr", "role": SCRIPT},
         f"Okänd roll '{SCRIPT}'"),
        ("/admin/api-nycklar", {"email": IMG, "name": "n"}, "ingen användare"),
        ("/admin/api-nycklar", {"email": "nobody@test.se", "name": "x" * 3 * MB}, "för stort"),
    ]:  # fmt: skip
        page = cheap_ui.post(path, form)
        status = 413 if "för stort" in message else 422
        assert_swedish_error(page, status, message)
        assert_escaped(page)
    assert counts(world.session) == before
