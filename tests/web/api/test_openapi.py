"""The OpenAPI document says what the API does: the same routes, and real answers fit it."""

from __future__ import annotations

import copy
import datetime as dt
import io
import re

import pytest
from jsonschema import Draft202012Validator

from kflow import paging
from kflow.cases.models import FollowUpReport
from kflow.states import MACHINES
from kflow.web import create_app, limits
from kflow.web.api.openapi import COLLECTIONS, openapi_document
from tests.support import files
from tests.support.api_support import OpenApiChecker

IGNORED_METHODS = {"HEAD", "OPTIONS"}
PUBLIC = {("GET", "/healthz"), ("GET", "/api/v1/openapi.json")}
# lifecycle.md §3
CONTRACT_ERRORS = {
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "invalid_transition": 409,
    "conflict": 409,
    "validation_error": 422,
    "bad_request": 400,
}


def routed_operations(app) -> set[tuple[str, str]]:
    """(method, path template) for every Flask rule of the API and /healthz."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/v1/") or rule.rule == "/healthz"):
            continue
        paths = [rule.rule]
        if "<collection>" in rule.rule:
            paths = [rule.rule.replace("<collection>", c) for c in COLLECTIONS]
        for path in paths:
            template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
            found |= {(m, template) for m in rule.methods - IGNORED_METHODS}
    return found


def documented_operations(document) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_every_route_is_documented_and_every_documented_operation_is_routed(settings, runtime):
    app = create_app(runtime)
    routed = routed_operations(app)
    documented = documented_operations(openapi_document())
    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "documented operations the app does not serve"
    # The endpoints are all there.
    for op in [
        ("GET", "/healthz"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/org-units"),
        ("POST", "/api/v1/knowledge-supports"),
        ("GET", "/api/v1/inbox"),
        ("GET", "/api/v1/overview"),
    ] + [
        (method, f"/api/v1/{collection}{suffix}")
        for collection in COLLECTIONS
        for method, suffix in [
            ("GET", ""),
            ("GET", "/{case_id}"),
            ("POST", "/{case_id}/transitions"),
            ("GET", "/{case_id}/history"),
        ]
    ]:
        assert op in documented, op


def test_document_is_served_and_internally_sound(api):
    document = api.get("/api/v1/openapi.json", None)
    assert document == openapi_document()
    assert document["openapi"].startswith("3.1")
    schemas = document["components"]["schemas"]
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    # Every $ref points at a schema that exists.
    refs = set(re.findall(r"#/components/schemas/(\w+)", str(document)))
    assert refs and refs <= set(schemas)
    operation_ids = []
    for path, item in document["paths"].items():
        declared = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            operation_ids.append(operation["operationId"])
            in_path = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert in_path == declared, (method, path)
            public = (method.upper(), path) in PUBLIC
            assert (operation.get("security") == []) == public, (method, path)
            if not public:
                assert "401" in operation["responses"], (method, path)
    assert len(operation_ids) == len(set(operation_ids))


def test_transitions_document_every_contract_error_and_trigger(api):
    document = openapi_document()
    schemas = document["components"]["schemas"]
    error_codes = set(schemas["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    assert set(CONTRACT_ERRORS) <= error_codes
    for collection, case_type in COLLECTIONS.items():
        operation = document["paths"][f"/api/v1/{collection}/{{case_id}}/transitions"]["post"]
        statuses = {int(s) for s in operation["responses"]}
        assert set(CONTRACT_ERRORS.values()) <= statuses
        machine = MACHINES[case_type]
        transition = schemas[f"Transition_{case_type}"]
        assert transition["properties"]["trigger"]["enum"] == list(machine.triggers)
        for trigger in machine.triggers:
            assert f"`{trigger}`" in operation["description"]
        case = schemas[f"Case_{case_type}"]
        assert set(case["properties"]["state"]["enum"]) == machine.state_names
        assert {
            "id",
            "type",
            "state",
            "state_label",
            "lock_version",
            "allowed_triggers",
            "due",
        } <= (set(case["required"]))


def test_every_operation_answers_as_documented(api, world):
    """Exercise every documented operation with a real success; the checker validated each."""
    today = dt.date.today()
    api.get("/healthz", None)
    api.get("/api/v1/openapi.json", None)
    api.get("/api/v1/me", "vgr-coordinator")
    api.get("/api/v1/org-units", "nobody", kind="local_unit")
    ks = api.post(
        "/api/v1/knowledge-supports",
        "npo-chair",
        {"title": "Schizofreni", "kind": "vardprogram", "owner": "npo-psykisk-halsa"},
        expect=201,
    )
    for trigger, who, body in [
        ("commission", "npo-chair", {}),
        ("start_drafting", "npo-lead", {}),
        ("approve_for_review", "npo-chair", {}),
        ("open_consultation", "npo-chair", {"params": {"channel": "synpunktsinhamtning"}}),
    ]:
        api.fire("knowledge-supports", ks["id"], trigger, who, **body)
    response = api.get("/api/v1/consultation-responses", "vgr-coordinator")["items"][0]
    api.fire("consultation-responses", response["id"], "start_response", "vgr-coordinator")
    for trigger, who, body in [
        ("close_consultation", "npo-chair", {}),
        ("submit_for_approval", "npo-lead", {}),
        ("publish", "npo-chair", {"params": {"decision_ref": "NPO-2026-3"}}),
    ]:
        api.fire("knowledge-supports", ks["id"], trigger, who, **body)
    ra = api.get("/api/v1/regional-adaptations", "vgr-coordinator")["items"][0]
    for trigger, who, body in [
        ("start_assessment", "vgr-coordinator", {}),
        ("submit_for_decision", "vgr-lead", {"comment": "Analys klar."}),
        ("adopt", "vgr-chair", {"params": {"decision_ref": "RS-2026-7"}}),
        (
            "hand_off",
            "vgr-coordinator",
            {"params": {"units": "vgr-psyk-1", "due": str(today + dt.timedelta(days=99))}},
        ),
    ]:
        api.fire("regional-adaptations", ra["id"], trigger, who, **body)
    li = api.get("/api/v1/local-implementations", "local-lead")["items"][0]
    api.fire("local-implementations", li["id"], "acknowledge", "local-lead")
    for collection, case_id, who in [
        ("knowledge-supports", ks["id"], "nobody"),
        ("consultation-responses", response["id"], "vgr-coordinator"),
        ("regional-adaptations", ra["id"], "vgr-viewer"),
        ("local-implementations", li["id"], "local-member"),
    ]:
        api.get(f"/api/v1/{collection}", who)
        api.case(collection, case_id, who)
        api.history(collection, case_id, who)
    api.get(f"/api/v1/knowledge-supports/{ks['id']}/chain-history", "local-lead")
    api.get("/api/v1/inbox", "local-lead")
    api.get("/api/v1/inbox", "vgr-lead")
    api.get("/api/v1/overdue", "vgr-lead")
    api.get("/api/v1/overview", "vgr-viewer")
    made = api.post("/api/v1/tokens", "vgr-viewer", {"name": "skript"}, expect=201)
    api.get("/api/v1/tokens", "vgr-viewer")
    api.request("DELETE", f"/api/v1/tokens/{made['id']}", who="vgr-viewer", expect=204)

    indicator = api.post(
        "/api/v1/indicators",
        "npo-lead",
        {"knowledge_support": ks["id"], "code": "T-1", "name": "Andel", "unit_of_measure": "%"},
        expect=201,
    )
    api.get("/api/v1/indicators", "nobody")
    api.get(f"/api/v1/indicators/{indicator['id']}", "nobody")
    api.get(f"/api/v1/indicators/{indicator['id']}/results", "npo-lead", period="2026-Q1")
    reported = api.post(
        "/api/v1/measurements",
        "vgr-coordinator",
        {"indicator": indicator["id"], "unit": "vgr-psyk-1", "period": "2026-Q1", "value": 50},
        expect=201,
    )
    api.get("/api/v1/measurements", "vgr-viewer")
    api.post(
        f"/api/v1/measurements/{reported['id']}/corrections",
        "vgr-coordinator",
        {"value": 51},
        expect=201,
    )
    api.request(
        "POST",
        "/api/v1/measurements/import",
        who="vgr-coordinator",
        data="indikator;enhet;period;värde\nT-1;vgr-psyk-2;2026;40\n".encode(),
        headers={"Content-Type": "text/csv"},
        expect=201,
    )
    made_list = api.post(
        "/api/v1/indicator-lists",
        "vgr-coordinator",
        {"owner": "vgr", "year": 2026, "scope": "alla", "title": "VGR 2026"},
        expect=201,
    )
    target = {"indicator": indicator["id"], "unit": "vgr-psyk-1", "target_value": 60}
    api.fire("indicator-lists", made_list["id"], "set_target", "vgr-lead", params=target)
    api.get("/api/v1/indicator-lists", "local-member")
    api.case("indicator-lists", made_list["id"], "local-member")
    api.history("indicator-lists", made_list["id"], "local-member")
    # Follow-up reports are opened by the system (kflow.followup.reports), not over the API.
    report = FollowUpReport(
        owner_id=world.units["vgr-psyk-1"].id,
        recipient_id=world.units["vgr-rpo-psyk"].id,
        region_id=world.units["vgr"].id,
        period="2026-T2",
    )
    world.session.add(report)
    world.session.flush()
    api.fire("follow-up-reports", report.id, "submit", "local-lead", params={"analysis": "Ok."})
    api.fire("follow-up-reports", report.id, "accept", "rpo-lead")
    api.get("/api/v1/follow-up-reports", "rpo-chair")
    api.case("follow-up-reports", report.id, "local-member")
    api.history("follow-up-reports", report.id, "rpo-coordinator")
    # Attachments (multipart) and comments (kflow.web.api.basis).
    for collection, case_id, who in [
        ("knowledge-supports", ks["id"], "npo-lead"),
        ("regional-adaptations", ra["id"], "vgr-coordinator"),
    ]:
        path = f"/api/v1/{collection}/{case_id}/attachments"
        made = api.request(
            "POST", path, who=who, data={"file": (io.BytesIO(files.PDF), "a.pdf")}, expect=201
        ).json
        api.get(path, who)
        download = api.client.get(
            made["url"], headers={"Authorization": f"Bearer {api.token(who)}"}
        )
        assert download.status_code == 200 and download.data == files.PDF
        api.checker.check("GET", made["url"], 200, None)
    for collection, case_id, who in [
        ("knowledge-supports", ks["id"], "vgr-viewer"),
        ("consultation-responses", response["id"], "vgr-coordinator"),
        ("regional-adaptations", ra["id"], "vgr-viewer"),
        ("local-implementations", li["id"], "local-member"),
        ("indicator-lists", made_list["id"], "local-member"),
        ("follow-up-reports", report.id, "local-member"),
    ]:
        api.post(f"/api/v1/{collection}/{case_id}/comments", who, {"comment": "Bra."}, expect=201)
        assert api.get(f"/api/v1/{collection}/{case_id}/comments", who)["total"] == 1
    succeeded = {(method, path) for method, path, status in api.checker.checked if status < 300}
    assert succeeded == documented_operations(openapi_document())


def test_the_checker_catches_answers_the_document_does_not_describe(api, world):
    """The validation used by every API test would notice a document that had drifted."""
    ks = world.ks_in("drafting")
    real = api.case("knowledge-supports", ks.id, "npo-chair")
    path = f"/api/v1/knowledge-supports/{ks.id}"

    drifted = copy.deepcopy(openapi_document())
    del drifted["components"]["schemas"]["Case_knowledge_support"]["properties"]["version"]
    with pytest.raises(AssertionError, match="version"):
        OpenApiChecker(api.app, drifted).check("GET", path, 200, real)

    renamed = copy.deepcopy(openapi_document())
    renamed["components"]["schemas"]["Case_knowledge_support"]["required"].append("phase")
    with pytest.raises(AssertionError, match="phase"):
        OpenApiChecker(api.app, renamed).check("GET", path, 200, real)

    checker = OpenApiChecker(api.app)
    with pytest.raises(AssertionError, match="does not list"):
        checker.check("GET", path, 409, {"error": {"code": "conflict", "message": "x"}})
    with pytest.raises(AssertionError, match="does not match"):
        checker.check("GET", path, 200, {**real, "state": "published_maybe"})
    with pytest.raises(AssertionError, match="does not match"):
        checker.check("GET", path, 404, {"error": {"code": "gone", "message": "x"}})
    checker.check("GET", path, 200, real)


def test_query_parameters_are_declared_as_the_api_checks_them():
    """Paging bounds are those of paging.page_args (and kflow.web.limits); a filter given must
    not be empty; every operation may answer 414 for an over-long URL."""
    document = openapi_document()
    seen = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "414" in operation["responses"], (method, path)
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                name, schema = parameter["name"], parameter["schema"]
                seen.add(name)
                if name == "offset":
                    assert (schema["minimum"], schema["maximum"]) == (0, paging.MAX_OFFSET)
                    assert paging.MAX_OFFSET == limits.MAX_DB_INT
                elif name == "limit":
                    assert (schema["minimum"], schema["maximum"], schema["default"]) == (
                        1,
                        paging.MAX_LIMIT,
                        paging.DEFAULT_LIMIT,
                    )
                elif schema["type"] == "string":
                    # An empty value is refused: by an enum without "", or by minLength.
                    assert schema.get("minLength", 0) >= 1 or "" not in schema["enum"], name
                else:
                    assert schema["type"] == "integer", name
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                assert "422" in operation["responses"], (method, path)
    assert {"limit", "offset", "state", "region", "unit", "owner", "kind", "parent"} <= seen
    # The overview names an adaptation's id and due date only to whom may read it.
    cell = document["components"]["schemas"]["OverviewRow"]["properties"]["regions"]["items"]
    adaptation = cell["properties"]["adaptation"]["properties"]
    assert adaptation["id"]["type"] == ["integer", "null"]
