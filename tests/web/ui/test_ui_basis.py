"""The basis of a decision on the case pages: attachments (upload, type and size checks, safe
downloads to readers only), the document link, the proposal on the decision form, the hand-off
note on a local implementation, comments and what happens next."""

from __future__ import annotations

import io

import pytest

from kflow.documents.models import Attachment, CaseComment
from tests.conftest import make_settings
from tests.support import files


@pytest.fixture
def settings(tmp_path):
    return make_settings(attachments={"dir": str(tmp_path / "bilagor"), "max_mb": 1})


def upload(ui, case_id, name, data, expect=303):
    return ui.post(
        f"/arenden/{case_id}/bilagor",
        {"file": (io.BytesIO(data), name)},
        expect=expect,
    )


def test_the_owner_uploads_a_pdf_and_a_reader_downloads_it_safely(ui, world, settings):
    ks = world.ks_in("drafting")
    ui.login("npo-lead")
    upload(ui, ks.id, "Vårdprogram utkast.pdf", files.PDF)
    made = world.session.query(Attachment).filter_by(case_id=ks.id).one()
    assert (made.content_type, made.size, made.role) == (
        "application/pdf",
        len(files.PDF),
        "process_lead",
    )
    assert (settings.attachments_dir / made.sha256[:2] / made.sha256).read_bytes() == files.PDF
    page = ui.get(f"/arenden/{ks.id}")
    assert "Vårdprogram utkast.pdf" in page.doc.by_id("bilagelista").text

    ui.login("skane-local-lead")  # everyone may read a knowledge support
    response = ui.client.get(f"/bilagor/{made.id}")
    assert response.status_code == 200
    assert response.data == files.PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''V%C3%A5rdprogram" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        (
            "a.docx",
            files.DOCX,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("b.xlsx", files.XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("c.doc", files.OLE2, "application/msword"),
        ("d.xls", files.OLE2, "application/vnd.ms-excel"),
    ],
)
def test_word_and_excel_are_accepted(ui, world, name, data, content_type):
    ks = world.ks_in("drafting")
    ui.login("npo-chair")
    upload(ui, ks.id, name, data)
    assert (
        world.session.query(Attachment).filter_by(case_id=ks.id).one().content_type == content_type
    )


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("utkast.pdf", files.FAKE_PDF, "inte en riktig PDF-fil"),
        ("utkast.docx", files.ZIP_AS_DOCX, "inte en riktig DOCX-fil"),
        ("utkast.docx", files.PDF, "inte en riktig DOCX-fil"),
        ("sida.html", files.FAKE_PDF, "Filtypen går inte att bifoga"),
        ("utan-andelse", files.PDF, "Filtypen går inte att bifoga"),
    ],
)
def test_a_file_disguised_by_its_extension_is_refused(ui, world, name, data, says):
    ks = world.ks_in("drafting")
    ui.login("npo-chair")
    page = upload(ui, ks.id, name, data, expect=422)
    assert says in page.doc.by_id("fel").text
    assert world.session.query(Attachment).filter_by(case_id=ks.id).count() == 0


def test_a_file_over_the_limit_is_refused(ui, world):
    ks = world.ks_in("drafting")
    ui.login("npo-chair")
    just_over = files.PDF + b"0" * (1024 * 1024)  # max_mb is 1 here
    page = upload(ui, ks.id, "stor.pdf", just_over, expect=413)
    assert "högst 1 MB" in page.text
    far_over = files.PDF + b"0" * (3 * 1024 * 1024)  # past the route's body limit too
    page = upload(ui, ks.id, "större.pdf", far_over, expect=413)
    assert "högst 1 MB" in page.text
    assert world.session.query(Attachment).filter_by(case_id=ks.id).count() == 0


def test_only_the_owners_chair_or_process_lead_may_attach(ui, world):
    ks = world.ks_in("drafting")
    for who in ("npo-member", "other-npo-chair", "vgr-chair"):
        ui.login(who)
        assert not ui.get(f"/arenden/{ks.id}").doc.has_id("bilaga-fil")
        upload(ui, ks.id, "a.pdf", files.PDF, expect=403)
    assert world.session.query(Attachment).count() == 0


def test_a_regions_attachment_is_served_only_to_those_who_may_read_its_case(ui, world):
    ra = world.adaptation_in("assessing")
    ui.login("vgr-coordinator")
    upload(ui, ra.id, "konsekvensanalys.pdf", files.PDF)
    made = world.session.query(Attachment).filter_by(case_id=ra.id).one()
    ui.login("vgr-viewer")
    assert ui.client.get(f"/bilagor/{made.id}").status_code == 200
    for who in ("skane-coordinator", "skane-local-lead"):
        ui.login(who)
        assert ui.client.get(f"/bilagor/{made.id}").status_code == 404
        upload(ui, ra.id, "x.pdf", files.PDF, expect=404)
    assert ui.client.get("/bilagor/999999").status_code == 404


def test_the_decision_form_shows_the_proposal_and_the_attachments(ui, world):
    ks = world.ks_in("published")
    ui.login("npo-chair")
    upload(ui, ks.id, "Kunskapsstöd.pdf", files.PDF)
    ra = world.adaptation(ks)
    world.fire(ra, "start_assessment", "vgr-coordinator")
    ui.login("vgr-lead")
    upload(ui, ra.id, "Gapanalys.xlsx", files.XLSX)
    world.fire(ra, "submit_for_decision", "vgr-lead", comment="Förslag: införs. Gap: 2 enheter.")
    ui.login("vgr-chair")
    page = ui.get(f"/arenden/{ra.id}")
    proposal = page.doc.by_id("beslutsunderlag")
    assert "Förslag: införs. Gap: 2 enheter." in page.doc.by_id("forslag").text
    assert world.users["vgr-lead"].name in proposal.text
    listed = page.doc.by_id("underlag-bilagor").text
    assert "Kunskapsstöd.pdf" in listed and "Gapanalys.xlsx" in listed
    assert "Nästa steg: ordföranden beslutar." in page.doc.by_id("nasta-steg").text
    assert {"adopt", "reject"} <= set(page.trigger_forms())


def test_a_local_implementation_shows_the_hand_off_note_its_sender_and_the_document(ui, world):
    ks = world.ks_in("awaiting_approval")
    url = "https://kunskapsstyrningvard.se/vardprogram/schizofreni.pdf"
    world.fire(ks, "publish", "npo-chair", params={"decision_ref": "NPO-1", "document_url": url})
    ra = world.adaptation_in("adapting", ks)
    world.fire(
        ra, "hand_off", "vgr-coordinator", comment="Kontakta Anna vid frågor.",
        params={"units": ["vgr-psyk-1"]},
    )  # fmt: skip
    li = world.implementation(ra)
    ui.login("local-lead")
    page = ui.get(f"/arenden/{li.id}")
    assert page.doc.by_id("overlamning-kommentar").text == "Kontakta Anna vid frågor."
    sender = page.doc.by_id("overlamnat-av").text
    assert sender == world.users["vgr-coordinator"].name
    assert "@" not in sender
    link = page.doc.by_id("dokument").find("a")
    assert link.attrs["href"] == url


def test_the_document_link_must_be_http(world):
    from kflow.errors import ValidationError

    ks = world.ks_in("awaiting_approval")
    for bad in ("javascript:alert(1)", "ftp://x.se/a.pdf", "https://", "inte en adress"):
        with pytest.raises(ValidationError):
            world.fire(
                ks, "publish", "npo-chair", params={"decision_ref": "N", "document_url": bad}
            )


def test_readers_comment_without_changing_the_case(ui, world):
    ra = world.adaptation_in("assessing")
    version, state = ra.lock_version, ra.state
    ui.login("vgr-viewer")
    ui.post(
        f"/arenden/{ra.id}/kommentarer", {"comment": "Vi har redan rutinen i Borås."}, expect=303
    )
    world.session.refresh(ra)
    assert (ra.lock_version, ra.state) == (version, state)
    ui.login("vgr-chair")
    timeline = ui.get(f"/arenden/{ra.id}").doc.by_id("historik").text
    assert "Vi har redan rutinen i Borås." in timeline
    assert world.users["vgr-viewer"].name in timeline and "läsare" in timeline
    ui.login("skane-chair")  # may not read VGR's adaptation
    ui.post(f"/arenden/{ra.id}/kommentarer", {"comment": "Hej"}, expect=404)
    ui.login("vgr-viewer")
    page = ui.post(f"/arenden/{ra.id}/kommentarer", {"comment": "  "}, expect=422)
    assert "Skriv en kommentar" in page.doc.by_id("fel").text
    assert world.session.query(CaseComment).filter_by(case_id=ra.id).count() == 1


def test_every_case_page_says_what_happens_next(ui, world):
    ui.login("vgr-chair")
    for state, says in [
        ("received", "samordnaren startar prioriteringen"),
        ("awaiting_decision", "ordföranden beslutar"),
        ("adopted", "samordnaren eller processledaren lämnar över till lokala enheter"),
    ]:
        ra = world.adaptation_in(state, world.ks_in("published"))
        text = ui.get(f"/arenden/{ra.id}").doc.by_id("nasta-steg").text
        assert f"Nästa steg: {says}" in text
