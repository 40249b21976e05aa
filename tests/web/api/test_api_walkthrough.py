"""The whole chain through the JSON API, as the people who do each step, each with a token.

NPO creates and commissions a vårdförlopp, drafts, reviews, sends it on remiss to 21 regions
(which answer, decline or miss the deadline), closes the consultation, approves and publishes to
21 regions; Västra Götaland assesses, assigns the work to its RPO, adopts, hands off to two local
units, which acknowledge. The tail (implementation, follow-up, close) follows in its own test.
"""

from __future__ import annotations

import datetime as dt

from tests.support.api_support import Api

KS = "knowledge-supports"
CR = "consultation-responses"
RA = "regional-adaptations"
LI = "local-implementations"


def region_codes(api: Api) -> list[str]:
    return [u["code"] for u in api.items("/api/v1/org-units", "nobody", kind="region")]


def answer_consultation(api: Api, ks_id: int, regions: list[str]) -> dict[str, str]:
    """Every region's coordinator looks at its inbox and answers; returns region -> final state.

    Skåne declines, Gotland never starts and Blekinge starts but does not submit (both miss the
    deadline); everyone else submits a position.
    """
    positions = ["supports", "supports_with_reservations", "opposes"]
    expected: dict[str, str] = {}
    for i, region in enumerate(regions):
        who = f"{region}-coordinator"
        if who not in api.world.users:
            api.add_user(who, "coordinator", region)
        inbox = api.get("/api/v1/inbox", who)
        mine = [c for c in inbox["items"] if c["type"] == "consultation_response"]
        assert [(c["region"], c["knowledge_support"]) for c in mine] == [(region, ks_id)]
        response = mine[0]
        assert response["state"] == "requested"
        assert response["allowed_triggers"] == ["start_response", "decline"]
        if region == "gotland":
            expected[region] = "missed"
            continue
        if region == "skane":
            done = api.fire(CR, response["id"], "decline", who, comment="Inga synpunkter.")
            assert (done["state"], done["state_label"]) == ("declined", "Avstår")
            expected[region] = "declined"
            continue
        started = api.fire(
            CR, response["id"], "start_response", who, lock_version=response["lock_version"]
        )
        assert started["state"] == "drafting"
        assert started["lock_version"] > response["lock_version"]
        assert started["due"] == response["due"]  # drafting keeps the consultation deadline
        if region == "blekinge":
            expected[region] = "missed"
            continue
        position = positions[i % 3]
        submitted = api.fire(
            CR,
            response["id"],
            "submit",
            who,
            comment=f"Remissvar från {region}.",
            params={"position": position},
        )
        assert (submitted["state"], submitted["position"]) == ("submitted", position)
        assert submitted["allowed_triggers"] == []
        expected[region] = "submitted"
    return expected


def test_whole_chain_from_need_to_local_acknowledgement(api):
    assert api.get("/healthz", None) == {"status": "ok"}
    regions = region_codes(api)
    assert len(regions) == 21 and {"vgr", "skane", "gotland", "blekinge"} <= set(regions)

    # --- National tier: the NPO creates, commissions and drafts ---
    created = api.post(
        f"/api/v1/{KS}",
        "npo-chair",
        {
            "title": "Depression hos vuxna",
            "kind": "vardforlopp",
            "owner": "npo-psykisk-halsa",
            "description": "Personcentrerat och sammanhållet vårdförlopp.",
        },
        expect=201,
    )
    ks_id = created["id"]
    assert created["type"] == "knowledge_support"
    assert (created["state"], created["state_label"]) == ("need_identified", "Behov identifierat")
    assert (created["title"], created["kind"], created["owner"]) == (
        "Depression hos vuxna",
        "vardforlopp",
        "npo-psykisk-halsa",
    )
    assert (created["version"], created["published_version"]) == (1, None)
    assert created["lock_version"] == 1
    assert created["allowed_triggers"] == ["commission", "cancel"]
    assert api.case(KS, ks_id, "npo-lead")["allowed_triggers"] == []
    assert api.case(KS, ks_id, "nobody")["allowed_triggers"] == []  # visible, not actionable

    # A vårdförlopp needs the SKS decision to be commissioned.
    api.fire_error(KS, ks_id, "commission", "npo-chair", 422, "validation_error")
    ks = api.fire(
        KS,
        ks_id,
        "commission",
        "npo-chair",
        lock_version=1,
        params={"decision_ref": "SKS-2026-04"},
    )
    assert ks["state"] == "commissioned" and ks["lock_version"] > 1
    # The version in the answer is the one stored: the next reader sees the same.
    assert api.case(KS, ks_id, "npo-lead")["lock_version"] == ks["lock_version"]
    ks = api.fire(KS, ks_id, "start_drafting", "npo-lead")
    assert (ks["state"], ks["state_label"]) == ("drafting", "Framtagande")
    ks = api.fire(KS, ks_id, "approve_for_review", "npo-chair")
    assert ks["state"] == "review"
    assert ks["allowed_triggers"] == ["request_changes", "open_consultation", "cancel"]

    # --- Consultation: one response per region ---
    ks = api.fire(KS, ks_id, "open_consultation", "npo-chair", params={"channel": "remiss"})
    assert ks["state"] == "consultation"
    deadline = ks["consultation"]["deadline"]
    assert ks["consultation"]["round"] == 1 and ks["consultation"]["channel"] == "remiss"
    assert dt.date.fromisoformat(deadline) > dt.date.today()
    assert ks["due"] == deadline
    responses = api.items(f"/api/v1/{CR}", "npo-chair", knowledge_support=ks_id)
    assert sorted(r["region"] for r in responses) == sorted(regions)
    assert {(r["state"], r["due"], r["round"]) for r in responses} == {("requested", deadline, 1)}
    # The owner NPO sees the responses but cannot answer for a region.
    assert all(r["allowed_triggers"] == [] for r in responses)

    expected = answer_consultation(api, ks_id, regions)
    ks = api.fire(KS, ks_id, "close_consultation", "npo-lead", comment="Remisstiden är slut.")
    assert ks["state"] == "revising"
    for state in ("submitted", "declined", "missed"):
        listed = api.get(f"/api/v1/{CR}", "npo-chair", knowledge_support=ks_id, state=state)
        assert sorted(r["region"] for r in listed["items"]) == sorted(
            r for r, s in expected.items() if s == state
        )
        assert listed["total"] == len(listed["items"])
    assert sum(1 for s in expected.values() if s == "submitted") == 18
    gotland = api.get(f"/api/v1/{CR}", "gotland-coordinator", knowledge_support=ks_id)["items"]
    assert [(r["state"], r["due"]) for r in gotland] == [("missed", None)]
    expired = api.history(CR, gotland[0]["id"], "gotland-coordinator")["items"]
    assert [(h["trigger"], h["from_state"], h["to_state"]) for h in expired] == [
        ("create", None, "requested"),
        ("expire", "requested", "missed"),
    ]
    assert (expired[1]["actor"], expired[1]["role"]) == ("system", None)
    assert (expired[0]["actor"], expired[0]["role"]) == ("npo-chair@test.se", "chair")

    # --- Approval and publication to 21 regions ---
    ks = api.fire(KS, ks_id, "submit_for_approval", "npo-lead")
    assert (ks["state"], ks["state_label"]) == ("awaiting_approval", "Väntar på fastställande")
    api.fire_error(KS, ks_id, "publish", "npo-lead", 403, "forbidden")  # the chair publishes
    ks = api.fire(
        KS,
        ks_id,
        "publish",
        "npo-chair",
        params={"decision_ref": "SKS-2026-09"},
        lock_version=ks["lock_version"],  # the version the last answer gave is current
    )
    assert (ks["state"], ks["version"], ks["published_version"]) == ("published", 1, 1)
    assert ks["next_review_due"] is not None and ks["due"] == ks["next_review_due"]
    adaptations = api.items(f"/api/v1/{RA}", "npo-chair", knowledge_support=ks_id)
    assert sorted(a["region"] for a in adaptations) == sorted(regions)
    assert {(a["state"], a["adapted_version"], a["assignee"]) for a in adaptations} == {
        ("received", 1, None)
    }
    assert all(a["due"] for a in adaptations)

    # --- Region Västra Götaland: assess, assign to the RPO, decide, adapt, hand off ---
    inbox = api.get("/api/v1/inbox", "vgr-coordinator")["items"]
    (ra,) = [c for c in inbox if c["type"] == "regional_adaptation"]
    assert (ra["region"], ra["knowledge_support"], ra["state"]) == ("vgr", ks_id, "received")
    ra_id = ra["id"]
    ra = api.fire(RA, ra_id, "start_assessment", "vgr-coordinator")
    assert (ra["state"], ra["due"]) == ("assessing", adaptations[0]["due"])
    ra = api.fire(RA, ra_id, "assign", "vgr-coordinator", params={"unit": "vgr-rpo-psyk"})
    assert (ra["state"], ra["assignee"]) == ("assessing", "vgr-rpo-psyk")
    # The RPO's process lead can now act on it, through the assignment.
    assert "submit_for_decision" in api.case(RA, ra_id, "rpo-lead")["allowed_triggers"]
    ra = api.fire(
        RA, ra_id, "submit_for_decision", "rpo-lead", comment="Gapanalys: två enheter berörs."
    )
    assert ra["state"] == "awaiting_decision"
    ra = api.fire(RA, ra_id, "adopt", "vgr-chair", params={"decision_ref": "HSN-2026-112"})
    assert (ra["state"], ra["state_label"], ra["decision_ref"]) == (
        "adopted",
        "Beslut: införs",
        "HSN-2026-112",
    )
    ra = api.fire(RA, ra_id, "start_adaptation", "vgr-lead")
    assert ra["state"] == "adapting"
    target = (dt.date.today() + dt.timedelta(days=200)).isoformat()
    ra = api.fire(
        RA,
        ra_id,
        "hand_off",
        "vgr-coordinator",
        params={"units": ["vgr-psyk-1", "vgr-psyk-2"], "due": target},
    )
    assert ra["state"] == "implementing"
    assert ra["outcome"] == {"created": 2, "skipped": 0}

    # --- Local units acknowledge ---
    all_local = api.items(f"/api/v1/{LI}", "vgr-coordinator", knowledge_support=ks_id)
    assert sorted(li["unit"] for li in all_local) == ["vgr-psyk-1", "vgr-psyk-2"]
    for li in all_local:
        assert (li["state"], li["region"], li["adaptation"]) == ("assigned", "vgr", ra_id)
        assert li["knowledge_support"] == ks_id and li["target_date"] == target
    for who, unit in (("local-member", "vgr-psyk-1"), ("local2-lead", "vgr-psyk-2")):
        (li,) = [
            c for c in api.get("/api/v1/inbox", who)["items"] if c["type"] == "local_implementation"
        ]
        assert li["unit"] == unit
        assert "acknowledge" in li["allowed_triggers"]
        li = api.fire(LI, li["id"], "acknowledge", who, lock_version=li["lock_version"])
        assert (li["state"], li["state_label"]) == ("acknowledged", "Kvitterad")
        assert li["due"] == target  # acknowledged → implemented is due at the hand-off's date
    li_history = api.history(LI, li["id"], "local2-lead")["items"]
    assert [(h["trigger"], h["actor"], h["role"]) for h in li_history] == [
        ("create", "vgr-coordinator@test.se", "coordinator"),
        ("acknowledge", "local2-lead@test.se", "local_lead"),
    ]

    # --- The whole story, as the API tells it ---
    ks_history = api.history(KS, ks_id, "nobody")
    rows = ks_history["items"]
    assert [(h["trigger"], h["to_state"]) for h in rows] == [
        ("create", "need_identified"),
        ("commission", "commissioned"),
        ("start_drafting", "drafting"),
        ("approve_for_review", "review"),
        ("open_consultation", "consultation"),
        ("close_consultation", "revising"),
        ("submit_for_approval", "awaiting_approval"),
        ("publish", "published"),
    ]  # the failed attempts left no trace
    assert ks_history["total"] == 8
    commission = rows[1]
    assert commission["params"] == {"decision_ref": "SKS-2026-04"}
    assert (commission["actor"], commission["role"]) == ("npo-chair@test.se", "chair")
    assert rows[4]["params"] == {"channel": "remiss", "deadline": deadline}
    assert rows[5]["comment"] == "Remisstiden är slut."
    ra_rows = api.history(RA, ra_id, "vgr-viewer")["items"]
    assert [(h["trigger"], h["role"]) for h in ra_rows] == [
        ("create", "chair"),
        ("start_assessment", "coordinator"),
        ("assign", "coordinator"),
        ("submit_for_decision", "process_lead"),
        ("adopt", "chair"),
        ("start_adaptation", "process_lead"),
        ("hand_off", "coordinator"),
    ]
    assert ra_rows[3]["actor"] == "rpo-lead@test.se"
    assert ra_rows[6]["params"] == {"units": ["vgr-psyk-1", "vgr-psyk-2"], "due": target}

    overview = api.get("/api/v1/overview", "vgr-viewer")
    (row,) = [r for r in overview["items"] if r["knowledge_support"]["id"] == ks_id]
    assert len(row["regions"]) == 21
    cells = {c["region"]: c for c in row["regions"]}
    assert cells["vgr"]["adaptation"]["state"] == "implementing"
    assert cells["vgr"]["local_implementations"] == {"acknowledged": 2}
    assert cells["vgr"]["done_share"] == 0.0
    assert cells["skane"]["adaptation"]["state"] == "received"
    assert cells["skane"]["local_implementations"] == {}
    assert cells["skane"]["done_share"] is None


def test_local_implementation_to_follow_up_and_closing(api, world):
    ra = world.adaptation_in("implementing")  # handed off to vgr-psyk-1 and vgr-psyk-2
    ks_id = ra.knowledge_support_id
    first = world.implementation(ra, "vgr-psyk-1").id
    second = world.implementation(ra, "vgr-psyk-2").id

    li = api.fire(LI, first, "acknowledge", "local-member")
    li = api.fire(LI, first, "start_implementation", "local-lead")
    assert (li["state"], li["state_label"]) == ("implementing", "Under införande")
    li = api.fire(LI, first, "report_deviation", "local-member", comment="Saknar utbildning.")
    assert li["state"] == "deviation"
    # The region's process lead may resolve a deviation in one of its units.
    li = api.fire(LI, first, "resolve_deviation", "vgr-lead", comment="Utbildning bokad.")
    assert li["state"] == "implementing"
    li = api.fire(LI, first, "report_implemented", "local-lead")
    li = api.fire(LI, first, "start_follow_up", "local-lead")
    assert (li["state"], li["due"] is not None) == ("following_up", True)

    # The region cannot follow up while vgr-psyk-2 has not implemented (a failed guard).
    api.fire_error(RA, ra.id, "start_follow_up", "vgr-lead", 422, "validation_error")
    done = api.fire(LI, second, "waive", "vgr-lead", comment="Enheten läggs ned.")
    assert (done["state"], done["state_label"], done["allowed_triggers"]) == (
        "waived",
        "Ej aktuell",
        [],
    )
    region = api.fire(RA, ra.id, "start_follow_up", "vgr-lead")
    assert region["state"] == "following_up"

    li = api.fire(LI, first, "close", "vgr-lead")
    assert li["state"] == "closed" and li["due"] is None
    region = api.fire(RA, ra.id, "close", "vgr-chair")
    assert (region["state"], region["allowed_triggers"]) == ("closed", [])

    (row,) = [
        r
        for r in api.get("/api/v1/overview", "npo-chair")["items"]
        if r["knowledge_support"]["id"] == ks_id
    ]
    vgr = next(c for c in row["regions"] if c["region"] == "vgr")
    assert vgr["adaptation"]["state"] == "closed"
    assert vgr["local_implementations"] == {"closed": 1, "waived": 1}
    assert vgr["done_share"] == 1.0
    history = api.history(LI, first, "local-lead")["items"]
    assert [h["trigger"] for h in history] == [
        "create",
        "acknowledge",
        "start_implementation",
        "report_deviation",
        "resolve_deviation",
        "report_implemented",
        "start_follow_up",
        "close",
    ]
    assert [h["role"] for h in history][3:5] == ["member", "process_lead"]
