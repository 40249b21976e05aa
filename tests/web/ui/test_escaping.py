"""Stored text is shown escaped everywhere: every page, the CSV export and every mail.

Script-laden titles, descriptions, comments, decision references, unit names, user names,
indicator names and token names are stored through the services, exactly as a user could
store them. Then every page that shows them is rendered, and every mail they cause is built by
the real outbox relay into .eml files: the markup must never come out as markup (in HTML it is
escaped, in the CSV export formulas are neutralised), while the text itself is shown.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from kflow.accounts import tokens as api_tokens
from kflow.engine.create import create_knowledge_support
from kflow.followup import indicators, measurements
from kflow.followup.models import Indicator
from kflow.jobs.digests import build_digests
from kflow.jobs.relay import relay
from kflow.jobs.sweep import sweep
from kflow.mailing.messages import FileTransport
from kflow.org import units as org_units
from kflow.org import users as org_users
from tests.support.timeline import at
from tests.support.ui_support import Page

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
PAYLOAD = f"{SCRIPT}{IMG}"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
TITLE = f"Depression {PAYLOAD} javascript:alert(3)"
UNIT_NAME = f"Enhet {PAYLOAD}"
USER_NAME = f"Namn {PAYLOAD}"
INDICATOR = f"Andel {PAYLOAD}"
T0 = at("2026-03-02")


def assert_inert(html: str, page: Page | None = None) -> None:
    """No markup from stored text in ``html``: no script element, no event handler."""
    assert "<script" not in html.lower(), html[:3000]
    assert "<img src=x" not in html
    assert "onerror=" not in html.replace("onerror=alert(2)&gt;", "")
    if page is not None:
        for element in page.doc.find_all():
            assert element.tag not in ("script", "img"), element.attrs
            assert not [a for a in element.attrs if a.startswith("on")], element.attrs
            for attribute in ("href", "src", "action", "formaction"):
                assert not element.attrs.get(attribute, "").startswith("javascript:")


@pytest.fixture
def stored(world, runtime):
    """A knowledge support, its remiss, adaptation, local implementations, indicator,
    measurement, deviation, unit, user and token, all carrying markup, as of 2 March 2026."""
    session = world.session
    unit = org_units.create_unit(session, "vgr-xss", UNIT_NAME, "local_unit", world.units["vgr"])
    world.units["vgr-xss"] = unit
    user = org_users.create_user(session, "xss@test.se", USER_NAME)
    session.flush()
    for code in ("vgr-xss", "vgr-psyk-1"):
        org_users.grant(session, user, "local_lead", world.units[code])
    world.users["xss"] = user
    api_tokens.create_token(session, user, f"Nyckel {PAYLOAD}")

    def fire(case, trigger, who, **kwargs):
        return world.fire(case, trigger, who, now=T0, **kwargs)

    ks = create_knowledge_support(
        session, world.authority("npo-chair"), title=TITLE, kind="vardprogram",
        owner="npo-psykisk-halsa", description=PAYLOAD, now=T0,
    )  # fmt: skip
    fire(ks, "commission", "npo-chair", comment=PAYLOAD)
    fire(ks, "start_drafting", "npo-chair")
    fire(ks, "approve_for_review", "npo-chair", comment=PAYLOAD)
    params = {"channel": "remiss", "deadline": "2099-01-01"}
    fire(ks, "open_consultation", "npo-chair", params=params, comment=PAYLOAD)
    cr = world.case_of("consultation_response", ks, "vgr")
    fire(cr, "start_response", "vgr-coordinator")
    fire(cr, "submit", "vgr-coordinator", params={"position": "opposes"}, comment=PAYLOAD)
    fire(ks, "close_consultation", "npo-chair")
    fire(ks, "submit_for_approval", "npo-lead")
    fire(ks, "publish", "npo-chair", params={"decision_ref": PAYLOAD}, comment=PAYLOAD)
    indicators.define_indicator(
        session, world.authority("npo-chair"), ks, name=INDICATOR, unit_of_measure=IMG
    )
    ra = world.adaptation(ks)
    fire(ra, "start_assessment", "vgr-coordinator", comment=PAYLOAD)
    fire(ra, "submit_for_decision", "vgr-lead", comment=PAYLOAD)
    fire(ra, "adopt", "vgr-chair", params={"decision_ref": PAYLOAD})
    units = ["vgr-xss", "vgr-psyk-1", "vgr-psyk-2"]
    fire(ra, "hand_off", "vgr-coordinator", params={"units": units}, comment=PAYLOAD)
    # vgr-psyk-1: the user with markup in their name reports a deviation (mailed to vgr-lead).
    li1 = world.implementation(ra, "vgr-psyk-1")
    fire(li1, "acknowledge", "xss", comment=PAYLOAD)
    fire(li1, "start_implementation", "xss")
    fire(li1, "report_deviation", "xss", comment=PAYLOAD)
    # vgr-psyk-2: implemented, with a measurement of the indicator.
    li2 = world.implementation(ra, "vgr-psyk-2")
    for trigger in ("acknowledge", "start_implementation", "report_implemented"):
        fire(li2, trigger, "local2-lead")
    measurements.report_on_implementation(
        session, world.authority("local2-lead"), li2, settings=world.settings,
        indicator_id=session.scalar(select(Indicator.id)), period="2026", value="12,5", now=T0,
    )  # fmt: skip
    session.flush()
    return SimpleNamespace(
        ks=ks, cr=cr, ra=ra, li=world.implementation(ra, "vgr-xss"), li1=li1, li2=li2
    )


PAGES = {
    "npo-chair": ["/", "/oversikt", "/arenden/{ks}", "/arenden/{ra}", "/arenden/{li}"],
    "vgr-coordinator": ["/", "/arenden/{ra}", "/arenden/{cr}", "/arenden/{li1}"],
    "xss": ["/", "/arenden/{li}", "/arenden/{li1}"],
    "local2-lead": ["/", "/arenden/{li2}"],
    "admin": [
        "/admin/",
        "/admin/enheter",
        "/admin/anvandare",
        "/admin/behorigheter",
        "/admin/api-nycklar",
    ],
}
# What each page must show as text (so the test cannot pass by showing nothing).
SHOWN = {
    ("npo-chair", "/arenden/{ks}"): [TITLE, PAYLOAD, INDICATOR],
    ("npo-chair", "/oversikt"): [TITLE],
    ("npo-chair", "/arenden/{li}"): [TITLE, UNIT_NAME],
    ("vgr-coordinator", "/arenden/{ra}"): [TITLE, UNIT_NAME, PAYLOAD],
    ("vgr-coordinator", "/arenden/{cr}"): [PAYLOAD],
    ("xss", "/"): [TITLE, UNIT_NAME],
    ("xss", "/arenden/{li1}"): [PAYLOAD],
    ("local2-lead", "/arenden/{li2}"): [INDICATOR],
    ("admin", "/admin/enheter"): [UNIT_NAME],
    ("admin", "/admin/anvandare"): [USER_NAME],
    ("admin", "/admin/behorigheter"): [UNIT_NAME],
    ("admin", "/admin/api-nycklar"): [f"Nyckel {PAYLOAD}"],
}


def test_every_page_shows_stored_markup_as_text(cheap_ui, stored):
    ids = {name: case.id for name, case in vars(stored).items()}
    shown = 0
    for who, paths in PAGES.items():
        cheap_ui.login(who)
        for template in paths:
            page = cheap_ui.get(template.format(**ids))
            assert_inert(page.html, page)
            text = page.doc.text
            for expected in SHOWN.get((who, template), []):
                assert expected in text, (who, template, expected)
                shown += 1
            if who == "xss":  # the signed-in user's own name, in the header
                assert USER_NAME in page.doc.find("header").text
    assert shown == sum(len(v) for v in SHOWN.values())


def test_reflected_input_is_escaped(cheap_ui, stored, world):
    # Signed out: the address to return to is kept in the log-in form.
    page = cheap_ui.get("/login", next=f"/oversikt{IMG}{SCRIPT}")
    assert page.doc.find("input", name="next").attrs["value"] == f"/oversikt{IMG}{SCRIPT}"
    assert_inert(page.html, page)
    cheap_ui.login("npo-chair")
    query = {"owner": SCRIPT, "kind": IMG, "state": PAYLOAD, "offset": SCRIPT}
    for path in ("/oversikt", "/", f"/arenden/{stored.ks.id}"):
        page = cheap_ui.get(path, expect=None, **query)
        assert page.status < 500
        assert_inert(page.html, page)
    page = cheap_ui.get(f"/{SCRIPT}", expect=404)
    assert_inert(page.html, page)
    # Flash messages repeat what was just created.
    page = cheap_ui.post(
        "/kunskapsstod/nytt", {"title": TITLE, "kind": "rapport", "owner": "npo-psykisk-halsa"}
    )
    assert page.status == 303
    page = cheap_ui.get(page.response.location)
    assert TITLE in page.doc.find("main").text
    assert_inert(page.html, page)
    cheap_ui.login("admin")
    unit = {"kind": "local_unit", "parent": "vgr", "code": "vgr-ny", "name": UNIT_NAME}
    page = cheap_ui.post("/admin/enheter", unit, expect=303)
    page = cheap_ui.get(page.response.location)
    assert f"Enheten ”{UNIT_NAME}” (vgr-ny) är skapad" in page.text
    assert_inert(page.html, page)


def test_csv_export_neutralises_formulas(cheap_ui, world):
    titles = {
        '=HYPERLINK("http://angripare.example";"Klicka")': "'=HYPERLINK",
        "+SUM(1;2)": "'+SUM",
        "-2+3": "'-2+3",
        "@SUM(A1:A2)": "'@SUM",
        "\t=1+1": "'=1+1",  # the title is stripped: the cell starts with =
        "=1+1\r\n=2": "'=1+1",
        TITLE: "Depression",
        "Ångest – 50 % = hälften": "Ångest",
    }
    made = {}
    for title in titles:
        case = create_knowledge_support(
            world.session, world.authority("npo-chair"), title=title, kind="rapport",
            owner="npo-psykisk-halsa",
        )  # fmt: skip
        made[case.id] = title
    world.session.flush()
    cheap_ui.login("npo-chair")
    response = cheap_ui.client.get("/oversikt.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment")
    body = response.get_data(as_text=True).removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    by_id = {int(row[0]): row for row in rows[1:]}
    for case_id, title in made.items():
        assert by_id[case_id][1].startswith(titles[title]), (title, by_id[case_id][1])
        assert by_id[case_id][1].lstrip("'") == title.strip()
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_every_mail_escapes_stored_markup(runtime, world, stored, tmp_path):
    # A title that tries to add a header to the mails about it.
    ks2 = create_knowledge_support(
        world.session, world.authority("npo-chair"), title="Rubrik\r\nBcc: angripare@example.com",
        kind="rapport", owner="npo-psykisk-halsa", now=T0,
    )  # fmt: skip
    for name, kwargs in world.PATH.values():
        who = "npo-lead" if name == "submit_for_approval" else "npo-chair"
        world.fire(ks2, name, who, now=T0, **kwargs)
    world.session.flush()
    # Reminders a week later: the unacknowledged implementation of vgr-xss comes up.
    sweep(runtime, at("2026-03-09", 7))
    assert build_digests(runtime, at("2026-03-09", 7, 5), force=True) > 0
    result = relay(runtime, now=at("2099-01-01"), transport=FileTransport(tmp_path))
    assert result.sent > 0 and result.failed == 0
    mails = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(tmp_path.glob("*.eml"))
    ]
    assert len(mails) == result.sent
    templates = set()
    for mail in mails:
        html = mail.get_body(("html",)).get_content()
        text = mail.get_body(("plain",)).get_content()
        assert mail.get_body(("plain",)).get_content_type() == "text/plain"
        assert_inert(html)
        subject = str(mail["Subject"])
        assert "\n" not in subject and "\r" not in subject
        assert mail["Bcc"] is None and "angripare" not in str(mail["To"])
        if "Rubrik" in subject:
            templates.add("header injection")
        if "Depression" not in text:
            continue
        # Plain text carries the text as it is; HTML carries it escaped.
        assert PAYLOAD in text
        assert ESCAPED in html
        if "avvikelse" in subject.lower():
            templates.add("deviation")
            assert USER_NAME in text and PAYLOAD in text
            assert "Namn &lt;script&gt;" in html
        elif "Påminnelse" in subject:
            templates.add("digest")
        else:
            templates.add("handoff")
        if mail["To"] == "xss@test.se":
            assert USER_NAME in text and UNIT_NAME in text
            assert "Hej Namn &lt;script&gt;" in html
    assert templates == {"deviation", "digest", "handoff", "header injection"}
