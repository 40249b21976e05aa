"""/api/v1 indicators and measurements (lifecycle.md §6.5): the happy path, corrections, the
CSV import, and each refusal with its §3 code; a refusal writes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from kflow.followup.models import Indicator, Measurement
from tests.support.api_support import Api

IND = "/api/v1/indicators"
MEAS = "/api/v1/measurements"


def count(api: Api, model) -> int:
    return api.world.session.scalar(select(func.count()).select_from(model))


def setup(api: Api) -> tuple[int, int]:
    world = api.world
    ks = world.ks_in("published")
    world.implementation_in("implemented", world.adaptation_in("implementing", ks))
    body = {
        "knowledge_support": ks.id,
        "code": "VP-1",
        "name": "Andel med vårdplan",
        "unit_of_measure": "procent",
        "direction": "higher",  # the old name is still taken
        "target_value": 80,
    }
    made = api.post(IND, "npo-lead", body, expect=201)
    assert (made["direction"], made["source"], made["aggregation"]) == (
        "higher_is_better",
        "manuell",
        "mean",
    )
    return ks.id, made["id"]


def test_indicators_defined_listed_and_read(api: Api):
    ks_id, ind = setup(api)
    rpo = api.post(
        IND,
        "rpo-chair",
        {
            "owner_unit": "vgr-rpo-psyk",
            "name": "Kvot",
            "unit_of_measure": "%",
            "aggregation": "ratio",
        },
        expect=201,
    )
    assert rpo["owner_unit"] == "vgr-rpo-psyk" and rpo["knowledge_support"] is None
    assert api.get(IND, "nobody")["total"] == 2
    assert [i["id"] for i in api.get(IND, "nobody", knowledge_support=ks_id)["items"]] == [ind]
    assert [i["id"] for i in api.get(IND, "nobody", owner_unit="vgr-rpo-psyk")["items"]] == [
        rpo["id"]
    ]
    assert api.get(f"{IND}/{ind}", "vgr-viewer")["code"] == "VP-1"
    api.error("GET", f"{IND}/999999", "vgr-viewer", 404, "not_found")
    api.error("GET", IND, "nobody", 422, "validation_error", query={"owner_unit": "finns-inte"})
    before = count(api, Indicator)
    api.error(
        "POST",
        IND,
        "local-lead",
        403,
        "forbidden",
        json={"owner_unit": "vgr-rpo-psyk", "name": "X", "unit_of_measure": "st"},
    )
    api.error(
        "POST",
        IND,
        "npo-lead",
        422,
        "validation_error",
        json={
            "knowledge_support": ks_id,
            "owner_unit": "vgr-rpo-psyk",
            "name": "X",
            "unit_of_measure": "st",
        },
    )
    api.error(
        "POST",
        IND,
        "npo-lead",
        422,
        "validation_error",
        json={
            "knowledge_support": ks_id,
            "name": "Y",
            "unit_of_measure": "st",
            "source": "gissning",
        },
    )
    api.error("POST", IND, None, 401, "unauthenticated", json={})
    assert count(api, Indicator) == before


def test_report_correct_and_history(api: Api):
    _, ind = setup(api)
    made = api.post(
        MEAS,
        "local-lead",
        {"indicator": ind, "unit": "vgr-psyk-1", "period": "2026-Q1", "value": 70},
        expect=201,
    )
    assert made["case"] is not None and made["supersedes"] is None
    fixed = api.post(
        f"{MEAS}/{made['id']}/corrections",
        "vgr-coordinator",
        {"value": 72.5, "comment": "Rättat"},
        expect=201,
    )
    assert fixed["supersedes"] == made["id"] and fixed["reported_by"] == "vgr-coordinator@test.se"
    current = api.get(MEAS, "vgr-viewer", indicator=ind)
    assert [m["value"] for m in current["items"]] == [72.5]
    every = api.get(MEAS, "vgr-viewer", history="true", unit="vgr-psyk-1", period="2026-Q1")
    old = next(m for m in every["items"] if m["id"] == made["id"])
    assert old["value"] == 70 and old["superseded_at"] is not None
    assert api.get(MEAS, "skane-coordinator")["total"] == 0
    api.error(
        "POST", f"{MEAS}/{made['id']}/corrections", "local-lead", 409, "conflict", json={"value": 1}
    )
    api.error(
        "POST",
        f"{MEAS}/{made['id']}/corrections",
        "skane-coordinator",
        404,
        "not_found",
        json={"value": 1},
    )
    api.error("GET", MEAS, "vgr-viewer", 422, "validation_error", query={"period": "2026-Q9"})
    api.error("GET", MEAS, "vgr-viewer", 422, "validation_error", query={"history": "kanske"})


def test_report_refusals_write_nothing(api: Api):
    _, ind = setup(api)
    base = {"indicator": ind, "unit": "vgr-psyk-1", "period": "2026-Q1", "value": 70}
    for who, change, status, code in (
        ("local2-lead", {}, 403, "forbidden"),
        ("local-lead", {"value": 101}, 422, "validation_error"),
        ("local-lead", {"value": "70"}, 422, "validation_error"),
        ("local-lead", {"period": "2099"}, 422, "validation_error"),
        ("local-lead", {"unit": "finns-inte"}, 422, "validation_error"),
        ("local-lead", {"indicator": 999999}, 422, "validation_error"),
        ("local-lead", {"numerator": 1, "denominator": 2}, 422, "validation_error"),
    ):
        api.error("POST", MEAS, who, status, code, json={**base, **change})
    assert count(api, Measurement) == 0


def test_csv_import(api: Api):
    setup(api)
    csv = "indikator;enhet;period;värde\nVP-1;vgr-psyk-1;2026-Q2;71,5\nVP-1;vgr-psyk-2;2026-Q2;60\n"
    headers = {"Content-Type": "text/csv"}
    done = api.request(
        "POST",
        f"{MEAS}/import",
        who="vgr-coordinator",
        data=csv.encode(),
        headers=headers,
        expect=201,
    )
    assert done.json == {"imported": 2}
    bad = csv + "VP-1;vgr-psyk-1;2026-Q2;72\nXX;vgr-psyk-1;2026;1\n"
    refused = api.error(
        "POST",
        f"{MEAS}/import",
        "vgr-coordinator",
        422,
        "validation_error",
        data=bad.encode(),
        headers=headers,
    )
    assert [line["line"] for line in refused.json["error"]["lines"]] == [4, 5]
    assert count(api, Measurement) == 2
    api.error(
        "POST",
        f"{MEAS}/import",
        "vgr-coordinator",
        422,
        "validation_error",
        data=b"x",
        headers={"Content-Type": "text/plain"},
    )
