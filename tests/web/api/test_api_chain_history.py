"""A knowledge support's history across the tiers, filtered by what the caller may read."""

from __future__ import annotations


def test_chain_history_spans_the_tiers_and_respects_visibility(api, world):
    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)
    li = world.implementation_in("acknowledged", ra)
    skane = world.adaptation(ks, "skane")
    path = f"/api/v1/knowledge-supports/{ks.id}/chain-history"

    chair = api.get(path, "npo-chair", limit=500)
    cases = {row["case"] for row in chair["items"]}
    assert {ks.id, ra.id, li.id, skane.id} <= cases  # the owner NPO follows every tier
    assert chair["total"] == len(chair["items"])
    assert [row["id"] for row in chair["items"]] == sorted(row["id"] for row in chair["items"])
    triggers = [row["trigger"] for row in chair["items"] if row["case"] == li.id]
    assert triggers == ["create", "acknowledge"]

    local = api.get(path, "local-lead", limit=500)
    seen = {row["case"] for row in local["items"]}
    assert {ks.id, ra.id, li.id} <= seen  # their own implementation and where it came from
    assert skane.id not in seen  # another region's adaptation stays hidden
    assert local["total"] < chair["total"]

    page = api.get(path, "npo-chair", limit=3, offset=3)
    assert [row["id"] for row in page["items"]] == [row["id"] for row in chair["items"][3:6]]
    api.error(
        "GET", f"/api/v1/knowledge-supports/{ra.id}/chain-history", "npo-chair", 404, "not_found"
    )


def test_pages_and_the_whole_read_agree_for_every_way_of_reading(api, world):
    """The owner's NPO reads the chain without judging each case, others through the visibility
    rule: page by page, in one read (the download's) and past the end, both give the same rows."""
    from kflow.queries import history as case_history

    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)
    world.implementation_in("acknowledged", ra)
    for who in ("npo-chair", "local-lead", "vgr-coordinator", "system"):
        authority = world.authority(who)
        whole = case_history.all_chain_history(world.session, authority, ks)
        paged, offset = [], 0
        while True:
            page = case_history.chain_history(world.session, authority, ks, limit=4, offset=offset)
            assert page.total == len(whole), who
            if not page.items:
                break
            paged += page.items
            offset += 4
        assert paged == whole, who
        assert [row.id for row in whole] == sorted(row.id for row in whole), who
        assert all(row.at.tzinfo is not None for row in whole), who
        beyond = case_history.chain_history(world.session, authority, ks, limit=4, offset=10_000)
        assert (beyond.items, beyond.total) == ([], len(whole)), who
    chair = case_history.all_chain_history(world.session, world.authority("npo-chair"), ks)
    local = case_history.all_chain_history(world.session, world.authority("local-lead"), ks)
    assert {row.id for row in local} < {row.id for row in chair}
    own = case_history.all_history(world.session, ra)
    assert own == [row for row in chair if row.case_id == ra.id]
    assert own == list(case_history.history(world.session, ra, limit=500).items)
