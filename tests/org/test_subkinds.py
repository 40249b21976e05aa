"""Unit subkinds, mirrors, healthcare-region units and värdskap (lifecycle.md §5.1, §5.2)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from kflow.config import Settings
from kflow.db import make_engine
from kflow.errors import ValidationError
from kflow.org import units as org_units
from kflow.org import users as org_users
from kflow.org.models import Unit
from kflow.org.roles import Role, UnitKind
from kflow.org.subkinds import ALLOWED_PARENTS, SUBKIND_KINDS, Subkind
from kflow.queries import units as unit_queries
from kflow.queries.lists import list_cases
from kflow.states.base import Grant, Scope, Trigger
from kflow.tools.seed import load_reference, seed
from tests.conftest import Database
from tests.support.api_support import Api
from tests.support.cli_support import Cli, environment
from tests.support.ui_support import Ui
from tests.support.world import World

SODRA_REGIONS = ("skane", "blekinge", "kronoberg", "halland")


def make(world: World, code: str, subkind: str, parent: str, **kw: str) -> Unit:
    unit = org_units.create_unit(
        world.session,
        code,
        f"Enhet {code}",
        SUBKIND_KINDS[Subkind(subkind)],
        world.units[parent],
        subkind=subkind,
        **kw,
    )
    world.units[code] = unit
    return unit


def person(world: World, name: str, role: str, unit: str) -> str:
    user = org_users.create_user(world.session, f"{name}@test.se", name)
    world.session.flush()
    org_users.grant(world.session, user, role, world.units[unit])
    world.session.flush()
    world.users[name] = user
    return name


@pytest.fixture
def sodra_rpo(world: World) -> Unit:
    """An RPO of Södra sjukvårdsregionen, with a RAG under it."""
    rpo = make(world, "sodra-rpo-hjarta", "rpo", "sodra", mirrors="npo-hjart-och-karlsjukdomar")
    make(world, "sodra-rag-svikt", "rag", "sodra-rpo-hjarta")
    return rpo


# --- Subkinds and where they may sit -----------------------------------------------------------


def test_every_subkind_is_allowed_exactly_under_its_parents(world: World) -> None:
    # One parent of every kind and subkind (a subkinded one made where it may sit).
    places = {
        "sverige": "root",
        "npo-psykisk-halsa": "npo",
        "sodra": "healthcare_region",
        "skane": "region",
        "vgr-rpo-psyk": "regional_group without subkind",
    }
    for subkind, parent in [
        ("rpo", "skane"),
        ("rsg", "skane"),
        ("samordningsrad", "skane"),
        ("primarvardsrad", "skane"),
        ("lpo", "skane"),
        ("ks_rad", "skane"),
        ("forvaltning", "skane"),
        ("regionalt_processteam", "p-rpo"),
        ("rag", "p-rpo"),
        ("stodfunktion", "skane"),
        ("verksamhet", "skane"),
        ("lokalt_processteam", "p-verksamhet"),
        ("lag", "p-lpo"),
        ("kommun", "skane"),
    ]:
        code = f"p-{subkind}".replace("_", "-")
        make(world, code, subkind, parent)
        places[code] = subkind
    for subkind in Subkind:
        allowed = ALLOWED_PARENTS[subkind]
        for parent, what in places.items():
            fits = what in allowed
            code = f"t-{subkind}-{parent}".replace("_", "-")[:80]
            if fits:
                made = make(world, code, subkind, parent)
                assert made.subkind == subkind and made.parent_id == world.units[parent].id
            else:
                with pytest.raises(ValidationError, match="kan inte ligga under"):
                    make(world, code, subkind, parent)


def test_a_subkind_of_another_kind_or_unknown_is_refused(world: World) -> None:
    session, skane = world.session, world.units["skane"]
    with pytest.raises(ValidationError, match="hör till enhetstypen regional_group"):
        org_units.create_unit(session, "x-rpo", "X", "local_unit", skane, subkind="rpo")
    with pytest.raises(ValidationError, match="Okänd undertyp"):
        org_units.create_unit(session, "x-nix", "X", "local_unit", skane, subkind="nix")
    # Units without a subkind keep the tree of §1 (and may not sit under a healthcare region).
    plain = org_units.create_unit(session, "x-plain", "X", "regional_group", skane)
    assert plain.subkind is None
    with pytest.raises(ValidationError):
        org_units.create_unit(session, "x-hcr", "X", "regional_group", world.units["sodra"])


def test_mirrors_names_an_npo_or_the_primary_care_council(world: World) -> None:
    rpo = make(world, "m-rpo", "rpo", "skane", mirrors="npo-hjart-och-karlsjukdomar")
    assert rpo.mirrors is not None and rpo.mirrors.code == "npo-hjart-och-karlsjukdomar"
    council = make(world, "m-pvr", "primarvardsrad", "skane", mirrors="primarvardsradet")
    assert council.mirrors is not None and council.mirrors.code == "primarvardsradet"
    for subkind in ("lpo", "samordningsrad"):
        make(world, f"m-{subkind}", subkind, "skane", mirrors="npo-cancersjukdomar")
    make(world, "m-team", "regionalt_processteam", "m-rpo", mirrors="npo-cancersjukdomar")
    with pytest.raises(ValidationError, match="inget nationellt programområde"):
        make(world, "m-bad", "rpo", "skane", mirrors="sks")  # a council, not an NPO
    with pytest.raises(ValidationError, match="inget nationellt programområde"):
        make(world, "m-none", "rpo", "skane", mirrors="npo-finns-inte")
    with pytest.raises(ValidationError, match="Bara programenheter"):
        make(world, "m-rsg", "rsg", "skane", mirrors="npo-cancersjukdomar")
    with pytest.raises(ValidationError, match="Bara programenheter"):
        org_units.create_unit(
            world.session,
            "m-plain",
            "X",
            "regional_group",
            world.units["skane"],
            mirrors="npo-cancersjukdomar",
        )


# --- Healthcare-region units belong to each of its regions ------------------------------------


def test_a_healthcare_region_unit_is_below_each_of_its_regions(
    world: World, sodra_rpo: Unit
) -> None:
    session = world.session
    rag = world.units["sodra-rag-svikt"]
    for region in SODRA_REGIONS:
        region_id = world.units[region].id
        assert org_units.is_below(session, sodra_rpo.id, region_id), region
        assert org_units.is_below(session, rag.id, region_id), region
        who = person(world, f"{region}-boss", "coordinator", region)
        authority = world.authority(who)
        assert authority.roles_at(sodra_rpo.id) == {"coordinator"}
        assert authority.roles_at(rag.id) == {"coordinator"}
    # Not for a region outside it, nor through Halland for Västra, the other healthcare region.
    assert not org_units.is_below(session, sodra_rpo.id, world.units["vgr"].id)
    assert not org_units.is_below(session, sodra_rpo.id, world.units["vastra"].id)
    assert world.authority("vgr-coordinator").roles_at(sodra_rpo.id) == frozenset()
    assert world.authority("vastra-lead").roles_at(sodra_rpo.id) == frozenset()


def test_a_region_linked_later_gets_the_healthcare_region_units(
    world: World, sodra_rpo: Unit
) -> None:
    session = world.session
    newcomer = org_units.create_unit(
        session, "nyregion", "Region Ny", UnitKind.REGION, world.units["sverige"]
    )
    assert not org_units.is_below(session, sodra_rpo.id, newcomer.id)
    org_units.link_healthcare_region(session, world.units["sodra"], newcomer)
    assert org_units.is_below(session, sodra_rpo.id, newcomer.id)
    assert org_units.is_below(session, world.units["sodra-rag-svikt"].id, newcomer.id)


def test_assign_takes_a_group_of_the_region_or_its_healthcare_region(
    world: World, sodra_rpo: Unit
) -> None:
    ks = world.ks_in("published")
    skane_ra = world.adaptation(ks, "skane")
    world.fire(skane_ra, "assign", "skane-coordinator", params={"unit": "sodra-rpo-hjarta"})
    assert skane_ra.assignee_id == sodra_rpo.id
    vgr_ra = world.adaptation(ks, "vgr")
    with pytest.raises(ValidationError, match="sodra-rpo-hjarta"):
        world.fire(vgr_ra, "assign", "vgr-coordinator", params={"unit": "sodra-rpo-hjarta"})
    world.fire(vgr_ra, "assign", "vgr-coordinator", params={"unit": "vgr-rpo-psyk"})

    # The assigned case is seen and acted on from the RPO and from every Södra region.
    rpo_lead = person(world, "sodra-rpo-lead", "process_lead", "sodra-rpo-hjarta")
    blekinge = person(world, "blekinge-lead", "process_lead", "blekinge")
    for who in (rpo_lead, blekinge):
        authority = world.authority(who)
        assert authority.can_read(skane_ra)
        assert "start_assessment" in authority.allowed_triggers(skane_ra)
        listed = list_cases(world.session, authority, "regional_adaptation", limit=100)
        assert skane_ra.id in [row.id for row in listed.items]
    outsider = world.authority("vgr-lead")
    assert not outsider.can_read(skane_ra)
    listed = list_cases(world.session, outsider, "regional_adaptation", limit=100)
    assert skane_ra.id not in [row.id for row in listed.items]


def test_pickers_name_the_region_or_healthcare_region(world: World, sodra_rpo: Unit) -> None:
    skane_rpo = org_units.create_unit(
        world.session,
        "skane-rpo-hjarta",
        "RPO Hjärt- och kärlsjukdomar",
        "regional_group",
        world.units["skane"],
        subkind="rpo",
    )
    vgr_rpo = org_units.create_unit(
        world.session,
        "vgr-rpo-hjarta",
        "RPO Hjärt- och kärlsjukdomar",
        "regional_group",
        world.units["vgr"],
        subkind="rpo",
    )
    labels = unit_queries.labels(
        world.session, [skane_rpo, vgr_rpo, sodra_rpo, world.units["skane"]]
    )
    assert labels[skane_rpo.id] == "RPO Hjärt- och kärlsjukdomar, Region Skåne"
    assert labels[vgr_rpo.id] == "RPO Hjärt- och kärlsjukdomar, Västra Götalandsregionen"
    assert labels[sodra_rpo.id] == "Enhet sodra-rpo-hjarta, Södra sjukvårdsregionen"
    assert labels[world.units["skane"].id] == "Region Skåne, Södra sjukvårdsregionen"


# --- Värdskap -----------------------------------------------------------------------------------


def test_seed_stores_each_npo_host(world: World, settings: Settings) -> None:
    data = load_reference(settings.organisation_path)
    hosts = {e["code"]: e.get("host") for e in data["npo"]}
    assert sum(1 for h in hosts.values() if h) == 18
    npos = world.session.scalars(select(Unit).where(Unit.kind == UnitKind.NPO)).all()
    for npo in npos:
        expected = hosts.get(npo.code)
        assert (npo.host.code if npo.host else None) == expected, npo.code
    assert seed(world.session, settings.organisation_path)["hosted"] == 0  # idempotent


@dataclasses.dataclass(frozen=True)
class Placed:
    """Where a case of a later type sits (a NAG's own case: no knowledge support owns it yet)."""

    id: int
    type: str
    state: str
    owner_id: int
    assignee_id: int | None = None
    region_id: int | None = None
    knowledge_support_id: int | None = None


HOSTED = Trigger("try", "Prova", (), grants=(Grant(Role.PROCESS_LEAD, Scope.HOST),))


def test_a_host_grant_counts_in_the_npo_host_region_and_above(world: World) -> None:
    assert world.units["npo-psykisk-halsa"].host is world.units["vastra"]
    ks = world.create_ks()  # owned by npo-psykisk-halsa, hosted by Västra
    assert world.authority("vastra-lead").role_for(ks, HOSTED) == "process_lead"
    root_lead = person(world, "root-lead", "process_lead", "sverige")
    assert world.authority(root_lead).role_for(ks, HOSTED) == "process_lead"
    for who in ("skane-lead", "vgr-lead", "npo-lead", "npo-chair"):
        assert world.authority(who).role_for(ks, HOSTED) is None, who
    # A NAG's cases count for its NPO's host.
    nag = org_units.create_unit(
        world.session, "nag-angest", "NAG Ångest", "nag", world.units["npo-psykisk-halsa"]
    )
    nag_case = Placed(id=0, type="group_mandate", state="active", owner_id=nag.id)
    assert world.authority("vastra-lead").role_for(nag_case, HOSTED) == "process_lead"
    assert world.authority("skane-lead").role_for(nag_case, HOSTED) is None
    # An NPO without a host, and the other scopes, are unchanged.
    other = world.create_ks(owner="npo-cancersjukdomar", who="other-npo-chair")
    assert world.units["npo-cancersjukdomar"].host is world.units["norra"]
    assert world.authority("vastra-lead").role_for(other, HOSTED) is None


# --- Interfaces ---------------------------------------------------------------------------------


def test_api_lists_subkind_label_and_mirrors(api: Api, world: World, sodra_rpo: Unit) -> None:
    rows = {u["code"]: u for u in api.items("/api/v1/org-units", "vgr-viewer", parent="sodra")}
    assert rows["sodra-rpo-hjarta"]["subkind"] == "rpo"
    assert rows["sodra-rpo-hjarta"]["subkind_label"] == "Regionalt programområde"
    assert rows["sodra-rpo-hjarta"]["mirrors"] == "npo-hjart-och-karlsjukdomar"
    plain = {u["code"]: u for u in api.items("/api/v1/org-units", "vgr-viewer", parent="vgr")}
    assert plain["vgr-rpo-psyk"]["subkind"] is None
    assert plain["vgr-rpo-psyk"]["subkind_label"] is None
    assert plain["vgr-rpo-psyk"]["mirrors"] is None


def test_admin_creates_a_healthcare_region_rpo(ui: Ui, world: World) -> None:
    ui.login("admin")
    page = ui.get("/admin/enheter")
    subkinds = [o.attrs["value"] for o in page.doc.by_id("unit-subkind").find_all("option")]
    assert subkinds[0] == "" and "rpo" in subkinds and "kommun" in subkinds
    mirrors = [o.attrs["value"] for o in page.doc.by_id("unit-mirrors").find_all("option")]
    assert "npo-psykisk-halsa" in mirrors and "primarvardsradet" in mirrors
    parents = {o.attrs["value"]: o.text for o in page.doc.by_id("unit-parent").find_all("option")}
    assert parents["sodra"].startswith("Södra sjukvårdsregionen")
    assert parents["vgr-rpo-psyk"].startswith("RPO Psykisk hälsa VGR, Västra Götalandsregionen")
    form = {
        "kind": "regional_group",
        "subkind": "rpo",
        "parent": "sodra",
        "name": "RPO Hjärt- och kärlsjukdomar",
        "code": "sodra-rpo-hjarta",
        "mirrors": "npo-hjart-och-karlsjukdomar",
    }
    ui.post("/admin/enheter", form, expect=303)
    unit = world.session.scalar(select(Unit).where(Unit.code == "sodra-rpo-hjarta"))
    assert unit is not None and unit.subkind == "rpo"
    listed = ui.get("/admin/enheter").doc.by_id("enheter").text
    assert "Regionalt programområde" in listed and "Hjärt- och kärlsjukdomar" in listed
    lag = {"code": "x-lag", "kind": "local_unit", "subkind": "lag"}
    refused = ui.post("/admin/enheter", form | lag)
    assert refused.status == 422
    assert "kan inte ligga under" in refused.text


def test_assign_picker_shows_healthcare_region_groups(
    ui: Ui, world: World, sodra_rpo: Unit
) -> None:
    ra = world.adaptation(world.ks_in("published"), "skane")
    ui.login("skane-coordinator")
    page = ui.get(f"/arenden/{ra.id}")
    options = [o.text for o in page.doc.by_id("f-assign-unit").find_all("option")]
    assert "Enhet sodra-rpo-hjarta, Södra sjukvårdsregionen" in options


def test_cli_creates_units_with_subkind_and_mirrors(database: Database, tmp_path: Path) -> None:
    url = database.new_database("cli")
    cli = Cli(environment(url, tmp_path))
    cli.ok("db", "upgrade")
    cli.ok("seed")
    out = cli.ok(
        "unit", "create", "sodra-rpo-hjarta", "--name", "RPO Hjärt- och kärlsjukdomar",
        "--subkind", "rpo", "--parent", "sodra", "--mirrors", "npo-hjart-och-karlsjukdomar",
    ).stdout  # fmt: skip
    assert out.strip() == "Unit sodra-rpo-hjarta created under sodra."
    cli.ok(
        "unit", "create", "sodra-rag", "--name", "RAG", "--kind", "regional_group",
        "--subkind", "rag", "--parent", "sodra-rpo-hjarta",
    )  # fmt: skip
    sentence = cli.fails(
        "unit", "create", "x-lpo", "--name", "X", "--subkind", "lpo", "--parent", "sodra",
        code="validation_error",
    )  # fmt: skip
    assert "kan inte ligga under" in sentence
    cli.fails(
        "unit", "create", "x-rsg", "--name", "X", "--subkind", "rsg", "--parent", "skane",
        "--mirrors", "npo-cancersjukdomar", code="validation_error",
    )  # fmt: skip
    cli.fails("unit", "create", "x-1", "--name", "X", "--parent", "skane", exit_code=2)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT u.subkind, m.code FROM units u JOIN units m ON m.id = u.mirrors_id "
                    "WHERE u.code = 'sodra-rpo-hjarta'"
                )
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("rpo", "npo-hjart-och-karlsjukdomar")
