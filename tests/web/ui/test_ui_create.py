"""The national start of the chain in the browser: a new knowledge support, and its indicators."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kflow.cases.events import CaseEvent
from kflow.cases.models import KnowledgeSupport
from kflow.followup.models import Indicator
from kflow.web import create_app


@pytest.fixture
def client_for(runtime, world):
    app = create_app(runtime, config_override={"WTF_CSRF_ENABLED": False, "TESTING": True})
    world.users["npo-chair"].password_hash = _hash()
    world.users["vgr-coordinator"].password_hash = _hash()
    world.session.flush()

    def login(who):
        client = app.test_client()
        response = client.post(
            "/login", data={"email": f"{who}@test.se", "password": "correct-horse-battery"}
        )
        assert response.status_code == 303
        return client

    return login


def _hash():
    from werkzeug.security import generate_password_hash

    return generate_password_hash("correct-horse-battery", method="pbkdf2:sha256:1000")


def test_npo_chair_creates_a_knowledge_support(client_for, session):
    client = client_for("npo-chair")
    page = client.get("/kunskapsstod/nytt")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Psykisk hälsa" in html and 'name="title"' in html
    assert "Nytt kunskapsstöd" in client.get("/").get_data(as_text=True)  # offered in the menu
    response = client.post(
        "/kunskapsstod/nytt",
        data={"title": "Ångest hos barn <b>", "kind": "vardprogram", "owner": "npo-psykisk-halsa"},
    )
    assert response.status_code == 303
    ks = session.scalar(
        select(KnowledgeSupport).where(KnowledgeSupport.title == "Ångest hos barn <b>")
    )
    assert ks is not None and ks.state == "need_identified"
    event = session.scalar(select(CaseEvent).where(CaseEvent.case_id == ks.id))
    assert (event.trigger, event.actor, event.role) == ("create", "npo-chair@test.se", "chair")
    shown = client.get(f"/arenden/{ks.id}").get_data(as_text=True)
    assert "Ångest hos barn &lt;b&gt;" in shown and "Ångest hos barn <b>" not in shown


def test_bad_input_and_the_wrong_people_are_refused(client_for, session):
    chair = client_for("npo-chair")
    response = chair.post(
        "/kunskapsstod/nytt",
        data={"title": "", "kind": "vardprogram", "owner": "npo-psykisk-halsa"},
    )
    assert response.status_code == 422 and "Titel krävs" in response.get_data(as_text=True)
    forbidden = chair.post(
        "/kunskapsstod/nytt",
        data={"title": "X", "kind": "vardprogram", "owner": "npo-cancersjukdomar"},
    )
    assert forbidden.status_code == 403
    coordinator = client_for("vgr-coordinator")
    assert coordinator.get("/kunskapsstod/nytt").status_code == 403
    assert "Nytt kunskapsstöd" not in coordinator.get("/").get_data(as_text=True)
    assert session.scalar(select(KnowledgeSupport).where(KnowledgeSupport.title == "X")) is None


def test_indicators_are_defined_on_the_case_page(client_for, world, session):
    ks = world.ks_in("published")
    client = client_for("npo-chair")
    assert 'id="ny-indikator"' in client.get(f"/arenden/{ks.id}").get_data(as_text=True)
    response = client.post(
        f"/arenden/{ks.id}/indikatorer",
        data={"name": "Andel med vårdplan", "unit_of_measure": "procent", "target_value": "90,5"},
    )
    assert response.status_code == 303
    indicator = session.scalar(select(Indicator).where(Indicator.knowledge_support_id == ks.id))
    assert (indicator.name, indicator.target_value) == ("Andel med vårdplan", 90.5)
    bad = client.post(f"/arenden/{ks.id}/indikatorer", data={"name": "Y", "unit_of_measure": ""})
    assert bad.status_code == 422 and "Måttenhet krävs" in bad.get_data(as_text=True)
    coordinator = client_for("vgr-coordinator")
    assert 'id="ny-indikator"' not in coordinator.get(f"/arenden/{ks.id}").get_data(as_text=True)
    assert (
        coordinator.post(
            f"/arenden/{ks.id}/indikatorer", data={"name": "Z", "unit_of_measure": "st"}
        ).status_code
        == 403
    )
