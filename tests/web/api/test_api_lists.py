"""Lists, filters and pages; the inbox; the overview; history; organisation units."""

from __future__ import annotations

import datetime as dt

import pytest

from kflow.cases.models import KnowledgeSupport
from kflow.tools.seed import load_reference

KS = "knowledge-supports"
CR = "consultation-responses"
RA = "regional-adaptations"
LI = "local-implementations"
LISTS = [
    "/api/v1/org-units",
    f"/api/v1/{KS}",
    f"/api/v1/{CR}",
    f"/api/v1/{RA}",
    f"/api/v1/{LI}",
    "/api/v1/inbox",
    "/api/v1/overview",
]


def ids(items: list[dict]) -> list[int]:
    return [item["id"] for item in items]


def due_order_ok(items: list[dict]) -> bool:
    """Earliest due first, undated last."""
    keys = [(item["due"] is None, item["due"] or "") for item in items]
    return keys == sorted(keys)


# --- Paging ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": -1},
        {"limit": "ten"},
        {"limit": "1.5"},
        {"offset": -1},
        {"offset": "first"},
    ],
    ids=["limit-0", "limit-501", "limit-negative", "limit-word", "limit-float", "offset-neg", "x"],
)
def test_bad_paging_is_a_validation_error(api, path, query):
    api.error("GET", path, "npo-chair", 422, "validation_error", query=query)


def test_history_paging_is_validated_too(api, world):
    ks = world.ks_in("drafting")
    path = f"/api/v1/{KS}/{ks.id}/history"
    for query in ({"limit": 0}, {"limit": 501}, {"offset": -3}, {"limit": "all"}):
        api.error("GET", path, "npo-chair", 422, "validation_error", query=query)


def test_pages_cover_the_list_once_and_keep_the_total(api, world):
    ks = world.ks_in("consultation")
    whole = api.get(f"/api/v1/{CR}", "npo-chair", knowledge_support=ks.id, limit=500)
    assert whole["total"] == 21 and len(whole["items"]) == 21
    default = api.get(f"/api/v1/{CR}", "npo-chair", knowledge_support=ks.id)
    assert default == whole  # default limit 50 holds all 21
    pages = [
        api.get(f"/api/v1/{CR}", "npo-chair", knowledge_support=ks.id, limit=5, offset=offset)
        for offset in range(0, 25, 5)
    ]
    assert [len(p["items"]) for p in pages] == [5, 5, 5, 5, 1]
    assert {p["total"] for p in pages} == {21}
    assert [i for p in pages for i in ids(p["items"])] == ids(whole["items"])
    beyond = api.get(f"/api/v1/{CR}", "npo-chair", knowledge_support=ks.id, offset=21)
    assert beyond == {"items": [], "total": 21}
    one = api.get(f"/api/v1/{CR}", "npo-chair", knowledge_support=ks.id, limit=1, offset=20)
    assert ids(one["items"]) == ids(whole["items"])[20:]


def test_default_limit_is_50_and_500_is_allowed(api):
    regions = api.get("/api/v1/org-units", "nobody")
    assert regions["total"] > 50
    assert len(regions["items"]) == 50
    assert len(api.get("/api/v1/org-units", "nobody", limit=500)["items"]) == regions["total"]


# --- Filters ---------------------------------------------------------------------------------


def test_knowledge_support_filters(api, world):
    drafting = world.ks_in("drafting")
    published = world.ks_in("published", kind="vardprogram")
    cancer = world.create_ks(owner="npo-cancersjukdomar", who="other-npo-chair")
    listed = api.get(f"/api/v1/{KS}", "nobody")
    assert listed["total"] == 3
    assert ids(listed["items"]) == [cancer.id, published.id, drafting.id]  # newest first
    assert ids(api.get(f"/api/v1/{KS}", "nobody", state="published")["items"]) == [published.id]
    assert ids(api.get(f"/api/v1/{KS}", "nobody", kind="vardprogram")["items"]) == [published.id]
    by_owner = api.get(f"/api/v1/{KS}", "nobody", owner="npo-cancersjukdomar")
    assert (by_owner["total"], ids(by_owner["items"])) == (1, [cancer.id])
    both = api.get(f"/api/v1/{KS}", "nobody", owner="npo-psykisk-halsa", state="drafting")
    assert ids(both["items"]) == [drafting.id]
    assert api.get(f"/api/v1/{KS}", "nobody", state="withdrawn") == {"items": [], "total": 0}
    for query in ({"state": "received"}, {"state": "publicerad"}, {"owner": "npo-okand"}):
        api.error("GET", f"/api/v1/{KS}", "nobody", 422, "validation_error", query=query)


def test_regional_and_local_filters(api, world):
    first = world.ks_in("published")
    second = world.ks_in("published")
    ra = world.adaptation_in("implementing", first)  # handed off to vgr-psyk-1 and -2
    world.fire(world.adaptation(second, "vgr"), "start_assessment", "vgr-coordinator")
    world.fire(
        world.adaptation(second, "vgr"),
        "assign",
        "vgr-coordinator",
        params={"unit": "vgr-rpo-psyk"},
    )
    world.implementation_in("acknowledged", ra)

    everything = api.get(f"/api/v1/{RA}", "npo-chair")
    assert everything["total"] == 42
    one_ks = api.get(f"/api/v1/{RA}", "npo-chair", knowledge_support=first.id)
    assert one_ks["total"] == 21 and {a["knowledge_support"] for a in one_ks["items"]} == {first.id}
    vgr = api.get(f"/api/v1/{RA}", "npo-chair", region="vgr")
    assert sorted(a["knowledge_support"] for a in vgr["items"]) == [first.id, second.id]
    assert {a["region"] for a in vgr["items"]} == {"vgr"}
    assigned = api.get(f"/api/v1/{RA}", "npo-chair", unit="vgr-rpo-psyk")
    assert [(a["knowledge_support"], a["assignee"]) for a in assigned["items"]] == [
        (second.id, "vgr-rpo-psyk")
    ]
    assessing = api.get(f"/api/v1/{RA}", "npo-chair", state="assessing", region="vgr")
    assert [a["knowledge_support"] for a in assessing["items"]] == [second.id]
    received = api.get(f"/api/v1/{RA}", "npo-chair", state="received", knowledge_support=first.id)
    assert received["total"] == 20 and "vgr" not in {a["region"] for a in received["items"]}
    # The region's coordinator sees only its own region's adaptations, whatever the filter.
    assert api.get(f"/api/v1/{RA}", "vgr-coordinator")["total"] == 2
    assert api.get(f"/api/v1/{RA}", "vgr-coordinator", region="skane")["total"] == 0

    local = api.get(f"/api/v1/{LI}", "vgr-lead", region="vgr")
    assert sorted(li["unit"] for li in local["items"]) == ["vgr-psyk-1", "vgr-psyk-2"]
    unit1 = api.get(f"/api/v1/{LI}", "vgr-lead", unit="vgr-psyk-1")
    assert [(li["unit"], li["state"]) for li in unit1["items"]] == [("vgr-psyk-1", "acknowledged")]
    assert api.get(f"/api/v1/{LI}", "vgr-lead", state="assigned")["total"] == 1
    assert api.get(f"/api/v1/{LI}", "local-lead")["total"] == 1  # only its own unit's case
    assert api.get(f"/api/v1/{LI}", "skane-coordinator")["total"] == 0
    assert api.get(f"/api/v1/{LI}", "npo-viewer", knowledge_support=first.id)["total"] == 2

    for collection, query in [
        (RA, {"region": "atlantis"}),
        (RA, {"unit": "vgr-psyk-99"}),
        (RA, {"state": "acknowledged"}),  # a local state, not a regional one
        (RA, {"knowledge_support": "first"}),
        (LI, {"state": "received"}),
        (CR, {"state": "published"}),
    ]:
        api.error("GET", f"/api/v1/{collection}", "npo-chair", 422, "validation_error", query=query)


# --- Inbox -----------------------------------------------------------------------------------


def hand_off_to_psyk_1(world, due: dt.date | None = None):
    ra = world.adaptation_in("adapting")
    params = {"units": ["vgr-psyk-1"]} | ({"due": due.isoformat()} if due else {})
    world.fire(ra, "hand_off", "vgr-coordinator", params=params)
    return world.implementation(ra, "vgr-psyk-1")


def test_inbox_of_a_local_lead_earliest_due_first(api, world):
    today = dt.date.today()
    # Created in another order than they fall due, so the order cannot come from the ids.
    undated = hand_off_to_psyk_1(world)
    for trigger in ("acknowledge", "start_implementation", "report_implemented"):
        world.fire(undated, trigger, "local-lead")  # implemented: no due date
    later = hand_off_to_psyk_1(world)
    world.fire(later, "acknowledge", "local-lead")  # due in 180 days
    fresh = hand_off_to_psyk_1(world)  # assigned: due in 10 business days
    soon = hand_off_to_psyk_1(world, due=today + dt.timedelta(days=5))
    world.fire(soon, "acknowledge", "local-lead")  # due: the hand-off's date, in 5 days
    closed = hand_off_to_psyk_1(world)
    world.fire(closed, "waive", "vgr-lead", comment="Ej aktuellt här.")  # final: nothing to do

    inbox = api.get("/api/v1/inbox", "local-lead")
    # The implemented one waits for nothing now (issue 17: Min inkorg is what waits for you).
    assert ids(inbox["items"]) == [soon.id, fresh.id, later.id]
    assert inbox["total"] == 3 and undated.id not in ids(inbox["items"])
    dues = [item["due"] for item in inbox["items"]]
    assert dues[0] == (today + dt.timedelta(days=5)).isoformat()
    assert dues == sorted(dues)
    assert all(item["allowed_triggers"] for item in inbox["items"])
    # The neighbouring unit's lead has nothing. The unit's member may acknowledge (and report
    # deviations, which nothing waits for): so only the assigned one.
    assert api.get("/api/v1/inbox", "local2-lead") == {"items": [], "total": 0}
    member = api.get("/api/v1/inbox", "local-member")["items"]
    assert ids(member) == [fresh.id]
    page = api.get("/api/v1/inbox", "local-lead", limit=2, offset=1)
    assert (ids(page["items"]), page["total"]) == ([fresh.id, later.id], 3)
    # The same filters as the page.
    assert ids(api.get("/api/v1/inbox", "local-lead", state="assigned")["items"]) == [fresh.id]
    assert api.get("/api/v1/inbox", "local-lead", q=f"#{later.id}")["total"] == 1


def test_inbox_of_a_coordinator_and_an_npo_chair(api, world):
    drafting = world.ks_in("drafting")
    consultation = world.ks_in("consultation")
    published = world.ks_in("published")
    handed = world.adaptation_in("implementing", published)
    idea = world.create_ks()
    world.create_ks(owner="npo-cancersjukdomar", who="other-npo-chair")

    coordinator = api.get("/api/v1/inbox", "vgr-coordinator")["items"]
    vgr_response = world.case_of("consultation_response", consultation, "vgr")
    # The consultation response (due at the remiss deadline) and nothing of the adaptation,
    # which is implementing locally: only the process lead can move it on.
    assert [(c["type"], c["id"]) for c in coordinator] == [
        ("consultation_response", vgr_response.id)
    ]
    assert all(c["region"] == "vgr" for c in coordinator)
    other = world.ks_in("published")
    coordinator = api.get("/api/v1/inbox", "vgr-coordinator")["items"]
    assert {c["id"] for c in coordinator} == {vgr_response.id, world.adaptation(other).id}
    assert due_order_ok(coordinator)
    # Implementing locally: it waits for the local units, not for the region (issue 17).
    assert handed.id not in ids(api.get("/api/v1/inbox", "vgr-lead")["items"])

    chair = api.get("/api/v1/inbox", "npo-chair")
    # Only the idea waits for the chair (commission): a draft waits for its writers, a
    # consultation for the regions, a published support for nothing until its review nears.
    assert ids(chair["items"]) == [idea.id] and chair["total"] == 1
    assert chair["items"][0]["due"] is None
    assert {drafting.id, consultation.id, published.id, other.id}.isdisjoint(ids(chair["items"]))
    # Not the other NPO's support, and nothing regional.
    assert api.get("/api/v1/inbox", "other-npo-chair")["total"] == 1
    for idle in ("nobody", "npo-viewer", "vgr-viewer"):
        assert api.get("/api/v1/inbox", idle) == {"items": [], "total": 0}


# --- Overview --------------------------------------------------------------------------------


def test_overview_shows_every_region_and_counts_local_states(api, world):
    region_codes = {u["code"] for u in api.items("/api/v1/org-units", "nobody", kind="region")}
    assert len(region_codes) == 21
    unpublished = world.ks_in("drafting")
    ra = world.adaptation_in("implementing")
    ks_id = ra.knowledge_support_id
    world.implementation_in("implemented", ra)  # vgr-psyk-1; vgr-psyk-2 stays assigned
    world.fire(
        world.adaptation_in("adopted", world.ks_in("published")), "start_adaptation", "vgr-lead"
    )

    overview = api.get("/api/v1/overview", "vgr-viewer")
    assert overview["total"] == 3
    rows = {row["knowledge_support"]["id"]: row for row in overview["items"]}
    for row in overview["items"]:
        assert [c["region"] for c in row["regions"]] and len(row["regions"]) == 21
        assert {c["region"] for c in row["regions"]} == region_codes
        names = [c["region_name"] for c in row["regions"]]
        assert names == sorted(names)
    ks_row = rows[ks_id]
    assert ks_row["knowledge_support"] | {"id": 0} == {
        "id": 0,
        "title": "Depression hos vuxna",
        "kind": "kliniskt_kunskapsstod",
        "owner": "npo-psykisk-halsa",
        "state": "published",
        "state_label": "Publicerad",
        "version": 1,
        "published_version": 1,
    }
    cells = {c["region"]: c for c in ks_row["regions"]}
    assert cells["vgr"]["adaptation"]["id"] == ra.id
    assert cells["vgr"]["adaptation"]["state"] == "implementing"
    assert cells["vgr"]["adaptation"]["state_label"] == "Införande pågår lokalt"
    assert cells["vgr"]["local_implementations"] == {"implemented": 1, "assigned": 1}
    assert cells["vgr"]["done_share"] == 0.5
    for code in region_codes - {"vgr"}:
        assert cells[code]["adaptation"]["state"] == "received"
        assert (cells[code]["local_implementations"], cells[code]["done_share"]) == ({}, None)
    assert all(c["adaptation"] is None for c in rows[unpublished.id]["regions"])

    assert ids(
        [
            r["knowledge_support"]
            for r in api.get("/api/v1/overview", "nobody", state="drafting")["items"]
        ]
    ) == [unpublished.id]
    assert api.get("/api/v1/overview", "nobody", owner="npo-cancersjukdomar")["total"] == 0
    assert api.get("/api/v1/overview", "nobody", kind="vardprogram")["total"] == 0
    page = api.get("/api/v1/overview", "nobody", limit=1, offset=1)
    assert (len(page["items"]), page["total"]) == (1, 3)
    for query in ({"state": "implementing"}, {"owner": "nowhere"}):
        api.error("GET", "/api/v1/overview", "nobody", 422, "validation_error", query=query)


def test_overview_done_share_ignores_cancelled_implementations(api, world):
    ra = world.adaptation_in("implementing")
    ks = world.session.get(KnowledgeSupport, ra.knowledge_support_id)
    world.fire(ks, "withdraw", "npo-chair", comment="Ersatt av nytt vårdprogram.")
    (row,) = api.get("/api/v1/overview", "nobody", state="withdrawn")["items"]
    vgr = next(c for c in row["regions"] if c["region"] == "vgr")
    assert vgr["local_implementations"] == {"cancelled": 2}
    assert vgr["done_share"] is None
    assert vgr["adaptation"]["state"] == "cancelled"


# --- History ---------------------------------------------------------------------------------


def test_history_rows_oldest_first_with_paging(api, world):
    ks = world.ks_in("consultation")
    world.fire(ks, "close_consultation", "npo-lead", comment="Klart.")
    rows = api.history(KS, ks.id, "vgr-viewer")
    assert rows["total"] == 6
    assert [(r["trigger"], r["from_state"], r["to_state"]) for r in rows["items"]] == [
        ("create", None, "need_identified"),
        ("commission", "need_identified", "commissioned"),
        ("start_drafting", "commissioned", "drafting"),
        ("approve_for_review", "drafting", "review"),
        ("open_consultation", "review", "consultation"),
        ("close_consultation", "consultation", "revising"),
    ]
    last = rows["items"][-1]
    assert (last["actor"], last["role"], last["comment"], last["params"]) == (
        "npo-lead@test.se",
        "process_lead",
        "Klart.",
        {},
    )
    assert rows["items"][4]["params"]["channel"] == "remiss"
    stamps = [dt.datetime.fromisoformat(r["at"]) for r in rows["items"]]
    assert all(s.tzinfo is not None and s.utcoffset() == dt.timedelta(0) for s in stamps)
    assert stamps == sorted(stamps)
    page = api.history(KS, ks.id, "vgr-viewer", limit=2, offset=3)
    assert page["total"] == 6
    assert [r["trigger"] for r in page["items"]] == ["approve_for_review", "open_consultation"]

    response = world.case_of("consultation_response", ks, "skane")
    missed = api.history(CR, response.id, "skane-chair")["items"]
    assert [(r["trigger"], r["actor"], r["role"]) for r in missed] == [
        ("create", "npo-chair@test.se", "chair"),
        ("expire", "system", None),
    ]
    assert missed[1]["params"] == {"cause": f"knowledge_support.{ks.id}"}


# --- Organisation units ----------------------------------------------------------------------


def test_org_units_by_kind_and_parent(api, world):
    reference = load_reference(world.settings.organisation_path)
    regions = api.get("/api/v1/org-units", "nobody", kind="region", limit=500)
    assert regions["total"] == len(reference["region"]) == 21
    assert {u["code"] for u in regions["items"]} == {r["code"] for r in reference["region"]}
    assert {u["kind"] for u in regions["items"]} == {"region"}
    npos = api.get("/api/v1/org-units", "nobody", kind="npo")
    assert npos["total"] == len(reference["npo"])
    vgr = api.items("/api/v1/org-units", "nobody", parent="vgr")
    assert sorted((u["code"], u["kind"], u["parent"]) for u in vgr) == [
        ("vgr-psyk-1", "local_unit", "vgr"),
        ("vgr-psyk-2", "local_unit", "vgr"),
        ("vgr-rpo-psyk", "regional_group", "vgr"),
    ]
    locals_ = api.get("/api/v1/org-units", "nobody", kind="local_unit", parent="vgr")
    assert (locals_["total"], {u["code"] for u in locals_["items"]}) == (
        2,
        {"vgr-psyk-1", "vgr-psyk-2"},
    )
    under_rpo = api.get("/api/v1/org-units", "nobody", parent="vgr-rpo-psyk")
    assert under_rpo["items"] == [
        {
            "code": "vgr-rpo-enhet",
            "name": "Enhet under RPO",
            "kind": "local_unit",
            "parent": "vgr-rpo-psyk",
            "subkind": None,
            "subkind_label": None,
            "mirrors": None,
        }
    ]
    page = api.get("/api/v1/org-units", "nobody", kind="region", limit=5, offset=20)
    assert (len(page["items"]), page["total"]) == (1, 21)
    for query in ({"kind": "kommun"}, {"parent": "atlantis"}):
        api.error("GET", "/api/v1/org-units", "nobody", 422, "validation_error", query=query)
