"""Every error of lifecycle.md §3, reached by a realistic wrong move over HTTP.

Cases are put in place with the service helpers of tests/support/world.py; every wrong move is
then made through the API, and each failed move is checked to have changed nothing (state, lock
version, history, fan-out).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed

from kflow.accounts import tokens as api_tokens
from kflow.accounts.models import ApiToken
from kflow.web.api.openapi import openapi_document
from tests.support.api_support import Api

KS = "knowledge-supports"
CR = "consultation-responses"
RA = "regional-adaptations"
LI = "local-implementations"


def snapshot(api: Api, collection: str, case_id: int, who: str) -> tuple:
    case = api.case(collection, case_id, who)
    history = api.history(collection, case_id, who)
    return case["state"], case["lock_version"], case["due"], history["total"]


# --- 401 unauthenticated ---------------------------------------------------------------------


def test_public_endpoints_need_no_token(api):
    assert api.get("/healthz", None) == {"status": "ok"}
    document = api.get("/api/v1/openapi.json", None)
    assert document["openapi"].startswith("3.")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer    ",
        "Basic bnBvLWNoYWlyQHRlc3Quc2U6c2VjcmV0",
        "Bearer kf_not-a-real-token",
        "Token {token}",
    ],
    ids=["missing", "empty", "no-token", "blank-token", "basic", "unknown-token", "wrong-scheme"],
)
def test_missing_or_bad_credentials_are_unauthenticated(api, world, header):
    ks = world.ks_in("drafting")
    before = snapshot(api, KS, ks.id, "npo-chair")
    headers = (
        {} if header is None else {"Authorization": header.format(token=api.token("npo-chair"))}
    )
    for method, path, body in [
        ("GET", "/api/v1/inbox", None),
        ("GET", "/api/v1/me", None),
        ("GET", f"/api/v1/{KS}", None),
        ("GET", f"/api/v1/{KS}/{ks.id}", None),
        ("GET", f"/api/v1/{KS}/{ks.id}/history", None),
        ("GET", "/api/v1/overview", None),
        ("GET", "/api/v1/org-units", None),
        ("POST", f"/api/v1/{KS}/{ks.id}/transitions", {"trigger": "approve_for_review"}),
        ("POST", f"/api/v1/{KS}", {"title": "X", "kind": "rapport", "owner": "npo-psykisk-halsa"}),
    ]:
        reply = api.error(method, path, None, 401, "unauthenticated", headers=headers, json=body)
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert snapshot(api, KS, ks.id, "npo-chair") == before


def test_revoked_token_and_deactivated_user_are_unauthenticated(api, world):
    token = api.token("vgr-coordinator")
    assert api.get("/api/v1/me", "vgr-coordinator")["email"] == "vgr-coordinator@test.se"
    row = world.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == api_tokens.hash_token(token))
    )
    api_tokens.revoke_token(world.session, row.id, "cli")
    world.session.flush()
    api.error("GET", "/api/v1/me", "vgr-coordinator", 401, "unauthenticated")

    api.token("local-lead")
    world.users["local-lead"].is_active = False
    world.session.flush()
    api.error("GET", "/api/v1/inbox", "local-lead", 401, "unauthenticated")


# --- 400 bad_request -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"trigger": "approve_for_review"', "application/json"),  # truncated
        ("{'trigger': 'approve_for_review'}", "application/json"),  # not JSON quoting
        ('["approve_for_review"]', "application/json"),  # not an object
        ('"approve_for_review"', "application/json"),
        ("null", "application/json"),
        ("", "application/json"),
        ('{"trigger": "approve_for_review"}', "text/plain"),  # JSON, but not said so
        ("trigger=approve_for_review", "application/x-www-form-urlencoded"),
    ],
    ids=["truncated", "single-quotes", "array", "string", "null", "empty", "text", "form"],
)
def test_malformed_body_is_bad_request_and_changes_nothing(api, world, data, content_type):
    ks = world.ks_in("drafting")
    before = snapshot(api, KS, ks.id, "npo-chair")
    headers = {"Content-Type": content_type}
    path = f"/api/v1/{KS}/{ks.id}/transitions"
    api.error("POST", path, "npo-chair", 400, "bad_request", data=data, headers=headers)
    api.error("POST", f"/api/v1/{KS}", "npo-chair", 400, "bad_request", data=data, headers=headers)
    assert snapshot(api, KS, ks.id, "npo-chair") == before
    assert api.get(f"/api/v1/{KS}", "npo-chair")["total"] == 1


# --- 422 validation_error --------------------------------------------------------------------


def test_unknown_trigger_and_malformed_fields_are_validation_errors(api, world):
    ks = world.ks_in("review")
    before = snapshot(api, KS, ks.id, "npo-chair")
    path = f"/api/v1/{KS}/{ks.id}/transitions"
    for body in [
        {"trigger": "approve"},  # no such trigger
        {"trigger": "acknowledge"},  # a trigger of another case type
        {},  # no trigger at all
        {"trigger": None},
        {"trigger": 7},
        {"trigger": "request_changes"},  # comment required
        {"trigger": "request_changes", "comment": "   "},
        {"trigger": "request_changes", "comment": 42},
        {"trigger": "request_changes", "comment": "x" * 10_001},
        {"trigger": "open_consultation"},  # channel required
        {"trigger": "open_consultation", "params": {"channel": "fax"}},
        {"trigger": "open_consultation", "params": "remiss"},
        {"trigger": "open_consultation", "params": ["remiss"]},
        {"trigger": "open_consultation", "params": {"channel": "remiss", "deadline": "2020-01-01"}},
        {"trigger": "open_consultation", "params": {"channel": "remiss", "deadline": "snart"}},
        {"trigger": "open_consultation", "params": {"channel": "remiss", "deadline": 20301231}},
        {"trigger": "open_consultation", "params": {"channel": "remiss", "reviewers": 3}},
        {"trigger": "open_consultation", "params": {"channel": "remiss"}, "lock_version": "1"},
        {"trigger": "open_consultation", "params": {"channel": "remiss"}, "override": "yes"},
    ]:
        reply = api.error("POST", path, "npo-chair", 422, "validation_error", json=body)
        assert reply.json["error"]["message"], body
    assert snapshot(api, KS, ks.id, "npo-chair") == before
    # Nothing was fanned out by any of the attempts.
    assert api.get(f"/api/v1/{CR}", "npo-chair", knowledge_support=ks.id)["total"] == 0


def test_missing_decision_reference_blocks_publication_without_fan_out(api, world):
    ks = world.ks_in("awaiting_approval")
    before = snapshot(api, KS, ks.id, "npo-chair")
    api.fire_error(KS, ks.id, "publish", "npo-chair", 422, "validation_error")
    api.fire_error(
        KS, ks.id, "publish", "npo-chair", 422, "validation_error", params={"decision_ref": ""}
    )
    api.fire_error(
        KS,
        ks.id,
        "publish",
        "npo-chair",
        422,
        "validation_error",
        params={"decision_ref": "x" * 201},
    )
    assert snapshot(api, KS, ks.id, "npo-chair") == before
    assert api.get(f"/api/v1/{RA}", "npo-chair", knowledge_support=ks.id)["total"] == 0


def test_hand_off_and_assign_take_only_units_of_the_region(api, world):
    ra = world.adaptation_in("adapting")
    before = snapshot(api, RA, ra.id, "vgr-coordinator")
    for params in (
        {"units": ["skane-psyk-1"]},  # another region's unit
        {"units": ["vgr-psyk-1", "skane-psyk-1"]},  # one bad unit spoils the batch
        {"units": "vgr-psyk-1,skane-psyk-1"},  # the comma form is checked the same way
        {"units": ["vgr-rpo-psyk"]},  # a regional group, not a local unit
        {"units": ["no-such-unit"]},
        {"units": [1, 2]},
        {"units": []},
        {"units": ["vgr-psyk-1"], "due": "tomorrow"},
    ):
        api.fire_error(
            RA, ra.id, "hand_off", "vgr-coordinator", 422, "validation_error", params=params
        )
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    api.fire_error(
        RA,
        ra.id,
        "hand_off",
        "vgr-coordinator",
        422,
        "validation_error",
        params={"units": ["vgr-psyk-1"], "due": yesterday},
    )
    assert snapshot(api, RA, ra.id, "vgr-coordinator") == before
    assert (
        api.get(f"/api/v1/{LI}", "vgr-coordinator", knowledge_support=ra.knowledge_support_id)[
            "total"
        ]
        == 0
    )

    received = world.adaptation(world.ks_in("published"))
    for unit in ("vgr-psyk-1", "skane", "vgr", "nope", ["vgr-rpo-psyk"]):
        api.fire_error(
            RA,
            received.id,
            "assign",
            "vgr-coordinator",
            422,
            "validation_error",
            params={"unit": unit},
        )


def test_failed_guard_is_a_validation_error(api, world):
    ra = world.adaptation_in("implementing")
    li = world.implementation(ra, "vgr-psyk-1")
    for trigger in ("acknowledge", "start_implementation", "report_implemented"):
        api.fire(LI, li.id, trigger, "local-lead")
    # vgr-psyk-2 has not implemented yet, so the region cannot start its follow-up.
    reply = api.fire_error(RA, ra.id, "start_follow_up", "vgr-lead", 422, "validation_error")
    assert "1" in reply.json["error"]["message"]
    assert api.case(RA, ra.id, "vgr-lead")["state"] == "implementing"


def test_creating_a_knowledge_support_validates_its_fields(api):
    good = {"title": "Ångest", "kind": "vardprogram", "owner": "npo-psykisk-halsa"}
    for bad in [
        {**good, "title": ""},
        {**good, "title": "   "},
        {**good, "title": None},
        {**good, "title": "x" * 301},
        {"kind": "vardprogram", "owner": "npo-psykisk-halsa"},
        {**good, "kind": "broschyr"},
        {**good, "kind": None},
        {**good, "owner": "npo-finns-inte"},
        {**good, "owner": "vgr"},  # a region cannot own a knowledge support
        {**good, "owner": None},
        {**good, "description": 12},
    ]:
        api.error("POST", f"/api/v1/{KS}", "npo-chair", 422, "validation_error", json=bad)
    assert api.get(f"/api/v1/{KS}", "npo-chair")["total"] == 0
    assert api.post(f"/api/v1/{KS}", "npo-chair", good, expect=201)["title"] == "Ångest"


# --- 403 forbidden ---------------------------------------------------------------------------


def test_wrong_role_is_forbidden_and_changes_nothing(api, world):
    ks = world.ks_in("drafting")
    before = snapshot(api, KS, ks.id, "npo-chair")
    for who in ("npo-lead", "npo-member", "npo-viewer", "other-npo-chair", "vgr-chair", "nobody"):
        api.fire_error(KS, ks.id, "approve_for_review", who, 403, "forbidden")
    assert snapshot(api, KS, ks.id, "npo-chair") == before

    ra = world.adaptation_in("implementing")
    li = world.implementation(ra, "vgr-psyk-1")
    # The unit's member may acknowledge, but only its local lead starts the implementation.
    api.fire(LI, li.id, "acknowledge", "local-member")
    api.fire_error(LI, li.id, "start_implementation", "local-member", 403, "forbidden")
    # The neighbouring unit's lead, and the region's process lead, are not this unit's lead.
    api.fire_error(LI, li.id, "start_implementation", "vgr-lead", 403, "forbidden")
    api.fire_error(LI, li.id, "start_implementation", "local2-lead", 404, "not_found")
    # Automatic triggers are the system's: not even the region's coordinator may fire them.
    api.fire_error(LI, li.id, "cancel", "vgr-coordinator", 403, "forbidden")
    # A viewer reads, never acts.
    api.fire_error(RA, ra.id, "start_follow_up", "vgr-viewer", 403, "forbidden")


def test_only_the_owner_chair_or_process_lead_may_create(api):
    body = {"title": "Bipolär sjukdom", "kind": "rapport", "owner": "npo-psykisk-halsa"}
    for who in ("npo-member", "npo-viewer", "other-npo-chair", "vgr-chair", "nobody"):
        api.error("POST", f"/api/v1/{KS}", who, 403, "forbidden", json=body)
    assert api.get(f"/api/v1/{KS}", "npo-chair")["total"] == 0
    assert api.post(f"/api/v1/{KS}", "npo-lead", body, expect=201)["owner"] == "npo-psykisk-halsa"


def test_admin_override_is_recorded_and_reserved_for_admins(api, world):
    ks = world.ks_in("drafting")
    api.fire_error(KS, ks.id, "approve_for_review", "npo-lead", 403, "forbidden", override=True)
    api.fire_error(KS, ks.id, "approve_for_review", "vgr-admin", 403, "forbidden", override=True)
    done = api.fire(KS, ks.id, "approve_for_review", "admin", override=True, comment="Brådskande.")
    assert done["state"] == "review"
    last = api.history(KS, ks.id, "admin")["items"][-1]
    assert (last["trigger"], last["actor"], last["role"], last["override"]) == (
        "approve_for_review",
        "admin@test.se",
        "admin",
        True,
    )


# --- 409 invalid_transition / conflict -------------------------------------------------------


def test_trigger_from_the_wrong_state_is_an_invalid_transition(api, world):
    ks = world.ks_in("need_identified")
    before = snapshot(api, KS, ks.id, "npo-chair")
    for trigger, kwargs in [
        ("publish", {"params": {"decision_ref": "NPO-1"}}),
        ("approve_for_review", {}),
        ("withdraw", {"comment": "Inaktuellt."}),
        ("open_consultation", {"params": {"channel": "remiss"}}),
    ]:
        api.fire_error(KS, ks.id, trigger, "npo-chair", 409, "invalid_transition", **kwargs)
    assert snapshot(api, KS, ks.id, "npo-chair") == before

    li = world.implementation_in("acknowledged")
    api.fire_error(LI, li.id, "acknowledge", "local-lead", 409, "invalid_transition")


def test_stale_lock_version_is_a_conflict(api, world):
    ra = world.adaptation(world.ks_in("published"))
    seen_by_coordinator = api.case(RA, ra.id, "vgr-coordinator")
    seen_by_lead = api.case(RA, ra.id, "vgr-lead")
    assert seen_by_coordinator["lock_version"] == seen_by_lead["lock_version"]
    moved = api.fire(
        RA,
        ra.id,
        "start_assessment",
        "vgr-coordinator",
        lock_version=seen_by_coordinator["lock_version"],
    )
    before = snapshot(api, RA, ra.id, "vgr-lead")
    # The process lead acts on what they read before the coordinator's move.
    api.fire_error(
        RA,
        ra.id,
        "put_on_hold",
        "vgr-lead",
        409,
        "conflict",
        comment="Väntar på budget.",
        lock_version=seen_by_lead["lock_version"],
    )
    api.fire_error(
        RA,
        ra.id,
        "put_on_hold",
        "vgr-lead",
        409,
        "conflict",
        comment="Väntar på budget.",
        lock_version=moved["lock_version"] + 1,
    )
    assert snapshot(api, RA, ra.id, "vgr-lead") == before
    # Re-read, retry with the current version: it goes through.
    again = api.fire(
        RA,
        ra.id,
        "put_on_hold",
        "vgr-lead",
        comment="Väntar på budget.",
        lock_version=moved["lock_version"],
    )
    assert again["state"] == "on_hold"


# --- 404 not_found ---------------------------------------------------------------------------


def test_unknown_cases_and_collections_are_not_found(api, world):
    ks = world.ks_in("published")
    ra = world.adaptation(ks)
    missing = ra.id + 100_000
    for method, path in [
        ("GET", f"/api/v1/{KS}/{missing}"),
        ("GET", f"/api/v1/{KS}/{missing}/history"),
        ("POST", f"/api/v1/{KS}/{missing}/transitions"),
        ("GET", f"/api/v1/{RA}/{ks.id}"),  # a knowledge support is no adaptation
        ("POST", f"/api/v1/{KS}/{ra.id}/transitions"),  # nor the other way round
        ("GET", f"/api/v1/{LI}/{ra.id}/history"),
        ("GET", "/api/v1/remissvar"),
        ("GET", f"/api/v1/remissvar/{ra.id}"),
        ("GET", f"/api/v1/{KS}/abc"),
        ("GET", f"/api/v1/{KS}/-1"),
        ("GET", "/api/v1/no/such/route"),
    ]:
        body = {"trigger": "start_drafting"} if method == "POST" else None
        api.error(method, path, "admin", 404, "not_found", json=body)


def test_another_regions_cases_are_invisible(api, world):
    ks = world.ks_in("published")
    vgr = world.adaptation(ks, "vgr")
    for who in ("skane-coordinator", "skane-chair", "skane-local-lead", "nobody"):
        api.error("GET", f"/api/v1/{RA}/{vgr.id}", who, 404, "not_found")
        api.error("GET", f"/api/v1/{RA}/{vgr.id}/history", who, 404, "not_found")
        api.fire_error(RA, vgr.id, "start_assessment", who, 404, "not_found")
        listed = api.items(f"/api/v1/{RA}", who, knowledge_support=ks.id)
        assert vgr.id not in [a["id"] for a in listed]
    skane_seen = api.items(f"/api/v1/{RA}", "skane-coordinator", knowledge_support=ks.id)
    assert [a["region"] for a in skane_seen] == ["skane"]
    # The message gives nothing away: it reads as for a case that does not exist.
    hidden = api.error("GET", f"/api/v1/{RA}/{vgr.id}", "skane-coordinator", 404, "not_found")
    absent = api.error(
        "GET", f"/api/v1/{RA}/{vgr.id + 100_000}", "skane-coordinator", 404, "not_found"
    )
    assert hidden.json["error"]["message"].replace(str(vgr.id), "N") == absent.json["error"][
        "message"
    ].replace(str(vgr.id + 100_000), "N")
    # Those above the region (its healthcare region) and the owner NPO do see it.
    assert api.case(RA, vgr.id, "vastra-lead")["region"] == "vgr"
    assert api.case(RA, vgr.id, "npo-viewer")["region"] == "vgr"
    # Staff of the region's own local units see it too: their implementations come from it.
    assert api.case(RA, vgr.id, "local-lead")["region"] == "vgr"
    # Knowledge supports are public to every user.
    assert api.case(KS, ks.id, "skane-local-lead")["state"] == "published"


# --- 405: a method the path does not take ----------------------------------------------------


def test_a_method_the_path_does_not_take_is_405_with_allow(api, world):
    """Every documented path, asked with a method it does not take: 405, the §3 body, and an
    ``Allow`` header naming exactly the documented methods (with HEAD and OPTIONS, which
    Werkzeug answers for every GET route). Before authentication: no token is needed to learn
    what HTTP says anyway."""
    ks = world.ks_in("review")
    token = api.token("npo-chair")
    routes = api.app.url_map.bind("localhost")
    checked = 0
    for template, item in openapi_document()["paths"].items():
        path = template.replace("{case_id}", str(ks.id))
        for name in ("token_id", "indicator_id", "measurement_id", "attachment_id"):
            path = path.replace("{" + name + "}", "1")
        documented = {method.upper() for method in item}
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - documented):
            try:
                routes.match(path, method=method)
            except MethodNotAllowed:
                pass
            else:  # GET /api/v1/tokens/1 reads as a case of a collection 'tokens': 404
                assert (method, template) == ("GET", "/api/v1/tokens/{token_id}")
                continue
            for who in ("npo-chair", None):
                reply = api.error(method, path, who, 405, "bad_request")
                allowed = {m.strip() for m in reply.headers["Allow"].split(",")}
                # (GET of a token's path is routed, to a case collection 'tokens': 404.)
                routed = {"GET"} if template == "/api/v1/tokens/{token_id}" else set()
                assert allowed - {"HEAD", "OPTIONS"} == documented | routed, (path, allowed)
                checked += 1
    assert checked > 50
    # The web pages too (an HTML page, the same header).
    response = api.client.post("/oversikt", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405 and response.mimetype == "text/html"
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}
