"""The web UI in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

A real ``kflow serve`` (gunicorn) runs on a free port against a fresh SQLite database loaded
with ``kflow db upgrade`` and ``kflow demo``; each test is one demo user at work. The tests save
screenshots to docs/screenshots/ (shown in README.md), overwritten on every run.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session

from kflow.cases.models import Case
from kflow.db import make_engine
from kflow.org.models import Unit
from tests.support.cli_support import KFLOW, ROOT
from tests.support.served import serving

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does) "
        "to run the browser tests",
        allow_module_level=True,
    )

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "kflow-demo"  # the demo users' default password
DEPRESSION = "Depression och ångestsyndrom hos vuxna"  # adopted by Region Stockholm in the demo
FOTSAR = "Diabetes med hög risk för fotsår"  # adopted by Västra Götalandsregionen in the demo

# Every element wider than the page that is not inside one of the scrolling containers.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.body.querySelectorAll('*')].filter(e => e.getBoundingClientRect()
    .right > width + 1 && !e.closest('.table-scroll, .matrix-scroll'));
  return {page: document.documentElement.scrollWidth, width,
          wide: wide.slice(0, 5).map(e => e.tagName + '.' + e.className)};
}"""
# The focused element and whether its focus ring shows.
FOCUS_JS = """() => {
  const e = document.activeElement, style = getComputedStyle(e), box = e.getBoundingClientRect();
  return {id: e.id, tag: e.tagName, text: (e.textContent || '').trim(),
          outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth),
          onScreen: box.width > 0 && box.top >= 0 && box.bottom <= innerHeight};
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_kflow(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [str(KFLOW), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"kflow {' '.join(args)}: {done.stderr}"


def adopted_adaptation(url: str, region: str) -> int:
    """The id of ``region``'s adaptation that the demo left in 'adopted' (Beslut: införs)."""
    engine = make_engine(url)
    with Session(engine) as session:
        found = session.scalars(
            select(Case.id)
            .join(Unit, Unit.id == Case.owner_id)
            .where(Case.type == "regional_adaptation", Case.state == "adopted", Unit.code == region)
        ).all()
    engine.dispose()
    assert len(found) == 1, (region, found)
    return found[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a real ``kflow serve`` on the demo data; its log must show no error."""
    tmp = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{tmp / 'kflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFLOW_")}
    env.update(
        KFLOW_CONFIG=str(ROOT / "config" / "development.toml"),
        KFLOW_INSTANCE_PATH=str(tmp),
        KFLOW_DATABASE_URL=url,
        KFLOW_MAIL__DIR=str(tmp / "outbox"),
        PYTHONUNBUFFERED="1",
    )
    run_kflow(env, "db", "upgrade")
    run_kflow(env, "demo")
    # No demo local lead has an implementation still to acknowledge: Region Stockholm hands
    # its adopted DEPRESSION to Norra Stockholms psykiatri, whose lead (lokal.nsp) then has one.
    due = (dt.date.today() + dt.timedelta(days=120)).isoformat()
    run_kflow(
        env,
        *("fire", "regional_adaptation", str(adopted_adaptation(url, "stockholm")), "hand_off"),
        *("--as", "samordnare.sthlm@demo.kflow.se"),
        *("--param", "units=stockholm-nsp", "--param", f"due={due}"),
    )
    with serving(env, tmp / "serve.log", workers=2) as served:
        yield f"http://127.0.0.1:{served.port}"
    output = served.log()
    assert "Traceback" not in output and '" 500 ' not in output, output[-4000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            # Swedish date fields (2027-05-21) where Debian's chromium-l10n is installed.
            env={**os.environ, "LANGUAGE": "sv"},
        )
        yield browser
        browser.close()


def open_page(browser: Browser, server: str, **options: Any) -> Iterator[Page]:
    """A fresh browser context (no cookies); no console errors (CSP, 404, script) allowed."""
    context = browser.new_context(
        base_url=server,
        locale="sv-SE",
        timezone_id="Europe/Stockholm",
        **({"viewport": DESKTOP} | options),
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:  # a missing favicon is an error too
        if message.type == "error":
            errors.append(f"{message.text} {message.location['url']}")

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    yield from open_page(browser, server)


@pytest.fixture
def phone(browser: Browser, server: str) -> Iterator[Page]:
    yield from open_page(browser, server, viewport=PHONE, is_mobile=True, has_touch=True)


def log_in(page: Page, login: str, name: str, start: str = "Min inkorg") -> None:
    """Sign in; the start page fits the role (Översikt for readers and administrators)."""
    page.goto("/login")
    page.get_by_label("E-postadress").fill(f"{login}@demo.kflow.se")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(start)
    expect(page.locator(".flash-success")).to_have_text(f"Välkommen, {name}!")
    expect(page.locator(".who")).to_have_text(f"Inloggad som {name}")


def screenshot(page: Page, name: str, *, full_page: bool = True, focus: bool = False) -> None:
    """Save docs/screenshots/NAME, without hover effects or (unless ``focus``) a focus ring;
    every page shown there must first be free of axe-core's WCAG 2.1 A/AA violations."""
    assert axe_violations(page) == [], name
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    if not focus:
        page.evaluate("document.activeElement && document.activeElement.blur()")
    page.screenshot(path=SHOTS / name, full_page=full_page, animations="disabled", caret="hide")


STROKE = "Stroke och TIA"  # awaiting the VGR chair's decision in the demo
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def test_regional_chair_decides_with_the_proposal_and_an_attachment_in_view(page: Page) -> None:
    log_in(page, "ordf.vgr", "Magnus Andersson")
    href = page.locator("#inkorg tbody tr").filter(has_text=STROKE).locator("th a")
    case_path = href.get_attribute("href")
    assert case_path
    page.get_by_role("button", name="Logga ut").click()
    log_in(page, "process.vgr", "Sofia Berg")  # the region's process lead attaches the analysis
    page.goto(case_path)
    expect(page.locator("#lage")).to_have_text("Beredning, väntar på beslut")
    page.get_by_label(re.compile("Lägg till bilaga")).set_input_files(
        files=[{"name": "Konsekvensanalys VGR.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.get_by_role("button", name="Ladda upp").click()
    expect(page.locator(".flash-success")).to_contain_text("Konsekvensanalys VGR.pdf")

    page.get_by_role("button", name="Logga ut").click()
    log_in(page, "ordf.vgr", "Magnus Andersson")
    page.goto(case_path)
    expect(page.locator("#nasta-steg")).to_contain_text("Nästa steg: ordföranden beslutar.")
    proposal = page.locator("#beslutsunderlag")
    expect(proposal.locator("#forslag")).not_to_be_empty()
    link = proposal.get_by_role("link", name="Konsekvensanalys VGR.pdf")
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "Konsekvensanalys VGR.pdf"
    expect(page.locator("#handling-adopt")).to_be_visible()
    screenshot(page, "beslut.png", full_page=False)


def test_local_lead_acknowledges_an_implementation_from_the_inbox(page: Page) -> None:
    log_in(page, "lokal.nsp", "Amira Haddad")
    row = page.locator("#inkorg tbody tr").filter(has_text=DEPRESSION)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Norra Stockholms psykiatri")
    expect(row.locator("td.state")).to_have_text("Tilldelad")
    case_id = row.get_attribute("id").removeprefix("arende-")
    screenshot(page, "inkorg.png")

    row.get_by_role("button", name=f"Kvittera ärende #{case_id}").click()
    expect(page.locator(".flash-success")).to_have_text(
        f"”Kvittera” är gjort för ärende #{case_id}. Läget är nu ”Kvitterad”."
    )
    row = page.locator(f"#arende-{case_id}")
    expect(row.locator("td.state")).to_have_text("Kvitterad")
    expect(row.get_by_role("button")).to_have_text(f"Starta införande ärende #{case_id}")

    row.locator("th a").click()  # the title is the link
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Lokalt införande: Norra Stockholms psykiatri"
    )
    expect(page.locator("#lage")).to_have_text("Kvitterad")
    latest = page.locator("#historik .timeline li").first  # newest first
    expect(latest).to_contain_text("Kvittera: Tilldelad → Kvitterad")
    expect(latest).to_contain_text("Amira Haddad, lokalt ansvarig, Norra Stockholms psykiatri")
    expect(page.locator("#handling-start_implementation")).to_be_visible()
    screenshot(page, "arende-kvittera.png")


def test_region_coordinator_hands_off_to_local_units(page: Page) -> None:
    log_in(page, "samordnare.vgr", "Eva Karlsson")
    row = page.locator("#inkorg tbody tr").filter(has_text=FOTSAR)
    expect(row.locator("td.state")).to_have_text("Beslut: införs")
    row.locator("th a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Regional tillämpning: Västra Götalandsregionen"
    )
    expect(page.locator("#lage")).to_have_text("Beslut: införs")
    expect(page.locator("#lokala-enheter")).to_have_count(0)

    form = page.locator("#handling-hand_off")
    form.get_by_label("Vårdcentral Majorna").check()
    form.get_by_label("Vårdcentral Kungshöjd").check()
    due = dt.date.today() + dt.timedelta(days=180)
    form.get_by_label("Infört senast").fill(due.isoformat())
    form.get_by_label("Kommentar (valfri)").fill("Start med två vårdcentraler i Göteborg.")
    form.scroll_into_view_if_needed()
    screenshot(page, "overlamning.png")
    form.get_by_role("button", name="Lämna över till lokala enheter").click()

    expect(page.locator(".flash-success")).to_contain_text(
        "Läget är nu ”Införande pågår lokalt”. 2 lokala införanden skapades."
    )
    expect(page.locator("#lage")).to_have_text("Införande pågår lokalt")
    rows = page.locator("#lokala-enheter tbody tr")
    expect(rows).to_have_count(2)
    for index, unit in enumerate(("Vårdcentral Kungshöjd", "Vårdcentral Majorna")):
        expect(rows.nth(index).locator("th")).to_have_text(unit)
        expect(rows.nth(index).locator("td").first).to_have_text("Tilldelad")
        expect(rows.nth(index).locator("td").nth(1).locator("time")).to_have_count(1)
    expect(page.locator("#handling-hand_off")).to_have_count(0)  # done: no second hand-off
    latest = page.locator("#historik .timeline li").first  # newest first
    expect(latest).to_contain_text("Lämna över till lokala enheter: Beslut: införs → Införande")
    expect(latest).to_contain_text("Vårdcentral Kungshöjd, Vårdcentral Majorna")
    expect(latest).to_contain_text(f"Infört senast{due.isoformat()}")


def test_overview_filtered_by_npo_shows_the_matrix(page: Page) -> None:
    log_in(page, "lasare", "Per Sandberg", "Översikt")
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Översikt").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Översikt")
    page.get_by_label("Ägare (programområde)").select_option(label="Endokrina sjukdomar")
    page.get_by_role("button", name="Filtrera").click()

    expect(page).to_have_url(re.compile(r"/oversikt\?owner=npo-endokrina-sjukdomar(&|$)"))
    expect(page.get_by_label("Ägare (programområde)")).to_have_value("npo-endokrina-sjukdomar")
    matrix = page.locator("#matris")
    expect(matrix.locator("caption")).to_have_text(
        "Regional tillämpning per region (2 publicerade kunskapsstöd)"
    )
    expect(matrix.locator("thead .region-col")).to_have_count(21)
    titles = matrix.locator("tbody th.ks-col a")
    expect(titles).to_have_count(2)
    expect(titles.filter(has_text="Typ 2-diabetes")).to_have_count(1)
    # The three never published are folded away below the heatmap (issue 17).
    unpublished = page.locator("#opublicerade")
    expect(unpublished.locator("summary")).to_contain_text("(3)")
    expect(unpublished.get_by_role("link", name="Hypotyreos")).to_be_hidden()
    expect(matrix).not_to_contain_text(DEPRESSION)
    for meta in matrix.locator(".ks-meta").all():
        expect(meta).to_contain_text("Endokrina sjukdomar")
    expect(page.locator("#csv-export")).to_have_attribute(
        "href", "/oversikt.csv?owner=npo-endokrina-sjukdomar&scope=all"
    )
    # Typ 2-diabetes in Västra Götalandsregionen: following up; one unit done, one waived.
    regions = matrix.locator("thead .region-col").all_inner_texts()
    vgr = regions.index(next(r for r in regions if r.startswith("Västra Götaland")))
    cell = matrix.locator("tbody tr").filter(has_text="Typ 2-diabetes").locator("td.cell").nth(vgr)
    # A heatmap cell: a symbol over a strong colour, the state's name for screen readers.
    expect(cell.get_by_role("link")).to_have_accessible_name("Uppföljning")
    expect(cell.locator(".sym")).to_have_text("●")
    expect(cell).to_contain_text("2/2 klara")
    cell.scroll_into_view_if_needed()
    expect(cell).to_be_in_viewport()
    # All 21 regions fit at 1280 px: the matrix needs no sideways scrolling.
    assert page.locator(".matrix-scroll").evaluate("e => e.scrollWidth <= e.clientWidth")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "oversikt.png")


def test_vgr_coordinator_sees_her_region_at_1366_px(browser: Browser, server: str) -> None:
    for page in open_page(browser, server, viewport={"width": 1366, "height": 768}):
        log_in(page, "samordnare.vgr", "Eva Karlsson")
        page.goto("/oversikt?scope=all")
        matrix = page.locator("#matris")
        expect(matrix.locator("thead .region-col")).to_have_count(21)
        vgr = matrix.locator("thead th.region-col[data-mine]")
        expect(vgr).to_have_attribute("title", "Västra Götalandsregionen")
        expect(vgr).to_be_in_viewport()
        last = matrix.locator("thead .region-col").last
        box = last.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1366
        wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert wide[0] <= wide[1], wide  # the page itself does not scroll sideways
        scroller = page.locator(".matrix-scroll")
        assert scroller.evaluate("e => e.scrollWidth <= e.clientWidth")
        # "Min region" shows her column alone, and is remembered on the next visit.
        page.get_by_label("Visa regioner").select_option(label="Min region")
        page.get_by_role("button", name="Filtrera").click()
        expect(matrix.locator("thead .region-col")).to_have_count(1)
        page.goto("/oversikt")
        expect(page.get_by_label("Visa regioner")).to_have_value("region")
        expect(matrix.locator("thead .region-col")).to_have_text("Västra Götalandsregionen")
        screenshot(page, "oversikt-min-region.png")


def test_wrong_password_shows_the_swedish_error(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    expect(page.locator(".flash-info")).to_have_text("Logga in för att se sidan.")
    page.get_by_label("E-postadress").fill("samordnare.vgr@demo.kflow.se")
    page.get_by_label("Lösenord").fill("fel-lösenord")
    page.get_by_role("button", name="Logga in").click()

    expect(page.get_by_role("alert")).to_have_text("Fel e-postadress eller lösenord.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Logga in")
    expect(page.get_by_label("E-postadress")).to_have_value("samordnare.vgr@demo.kflow.se")
    expect(page.get_by_label("Lösenord")).to_have_value("")
    expect(page.get_by_role("navigation", name="Huvudmeny")).to_have_count(0)
    screenshot(page, "inloggning.png")


def test_keyboard_only(page: Page) -> None:
    # Log in without the mouse: the e-mail field has focus when the page opens.
    page.goto("/login")
    expect(page.get_by_label("E-postadress")).to_be_focused()
    page.keyboard.type("lokal.majorna@demo.kflow.se")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Min inkorg")

    page.goto("/oversikt")
    page.keyboard.press("Tab")
    focus = page.evaluate(FOCUS_JS)
    assert (focus["text"], focus["onScreen"]) == ("Hoppa till innehållet", True), focus
    assert focus["outline"] != "none" and focus["outlineWidth"] >= 2, focus
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "innehall"

    page.keyboard.press("Tab")
    focus = page.evaluate(FOCUS_JS)
    assert (focus["id"], focus["onScreen"]) == ("filter-owner", True), focus
    assert focus["outline"] == "solid" and focus["outlineWidth"] >= 2, focus
    page.keyboard.type("Endokrina")  # a closed select picks the option typed
    expect(page.get_by_label("Ägare (programområde)")).to_have_value("npo-endokrina-sjukdomar")
    screenshot(page, "tangentbord.png", full_page=False, focus=True)

    for _ in range(5):  # Typ, Läge, Sök, Visa regioner, then the button
        page.keyboard.press("Tab")
    focus = page.evaluate(FOCUS_JS)
    assert (focus["tag"], focus["text"], focus["outline"]) == ("BUTTON", "Filtrera", "solid")
    page.keyboard.press("Enter")
    expect(page.locator("#matris caption")).to_have_text(
        "Regional tillämpning per region (2 publicerade kunskapsstöd)"
    )


def test_phone_inbox_and_overview(phone: Page) -> None:
    log_in(phone, "lokal.majorna", "Elin Gustafsson")
    expect(phone.locator("#inkorg tbody tr")).not_to_have_count(0)
    assert phone.evaluate(OVERFLOW_JS) == {"page": 390, "width": 390, "wide": []}
    # Each case is a card on a phone: its due date and action show without sideways scrolling.
    first = phone.locator("#inkorg tbody tr").first
    first.scroll_into_view_if_needed()
    expect(first.locator("td.due time")).to_be_in_viewport()
    action = first.locator("td.action").locator("button, a")
    action.scroll_into_view_if_needed()
    expect(action).to_be_in_viewport()
    phone.evaluate("window.scrollTo(0, 0)")
    screenshot(phone, "inkorg-mobil.png")

    phone.get_by_role("link", name="Översikt").tap()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Översikt")
    phone.get_by_label("Ägare (programområde)").select_option(label="Endokrina sjukdomar")
    phone.get_by_role("button", name="Filtrera").tap()
    expect(phone.locator("#matris tbody tr")).to_have_count(2)  # 3 unpublished folded away
    assert phone.evaluate(OVERFLOW_JS) == {"page": 390, "width": 390, "wide": []}
    scroller = phone.locator(".matrix-scroll")
    box = scroller.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")  # scrolls inside
    filter_box = phone.get_by_label("Ägare (programområde)").bounding_box()
    assert filter_box is not None and filter_box["x"] + filter_box["width"] <= 390, filter_box
    screenshot(phone, "oversikt-mobil.png")


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is (axe-playwright-python ships
    axe-core; Playwright's evaluate runs it outside the page's Content-Security-Policy)."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    results = Axe().run(page, options=options)
    return [
        f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
    ]


def test_follow_up_page_with_chart_drill_down_and_exports(page: Page) -> None:
    log_in(page, "lasare", "Per Sandberg", "Översikt")
    nav = page.get_by_role("navigation", name="Huvudmeny")
    nav.get_by_role("link", name="Uppföljning").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Uppföljning")
    page.get_by_label("Kunskapsstöd").select_option(label="Hjärtsvikt – nyupptäckt")
    page.get_by_role("button", name="Visa").click()
    expect(page).to_have_url(re.compile(r"/uppfoljning\?.*ks=\d+"))
    block = page.locator(".indicator-block").filter(has_text="RAS-hämmare")
    expect(block).to_have_count(1)
    results = block.locator("table.results")
    expect(results.locator("tbody tr").first).to_contain_text("Hela riket")
    expect(results).to_contain_text("Region Skåne")
    expect(results).to_contain_text("Ej uppfyllt")  # Skåne misses its target in the demo
    chart = block.get_by_role("img")
    expect(chart).to_have_count(1)
    expect(chart.locator("title")).to_contain_text("RAS-hämmare")
    expect(block.get_by_role("region")).to_contain_text("Diagrammets värden per period")
    assert axe_violations(page) == []
    screenshot(page, "uppfoljning.png")

    block.get_by_role("link", name="Västra Götalandsregionen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Uppföljning: Västra Götalandsregionen"
    )
    expect(page.locator("table.results").first).to_contain_text("Kardiologi Sahlgrenska")
    expect(page.locator("table.results").first).to_contain_text("(måltal)")
    assert axe_violations(page) == []
    csv_link = page.locator("#csv-export")
    expect(csv_link).to_have_attribute("href", re.compile(r"^/uppfoljning\.csv\?.*region=vgr"))
    with page.expect_download() as download:
        page.locator("#xlsx-export").click()
    assert download.value.suggested_filename.endswith("-vgr.xlsx")


def test_phone_follow_up_page(phone: Page) -> None:
    log_in(phone, "lasare", "Per Sandberg", "Översikt")
    phone.goto("/uppfoljning")
    expect(phone.locator(".indicator-block").first).to_be_visible()
    assert phone.evaluate(OVERFLOW_JS) == {"page": 390, "width": 390, "wide": []}
    chart = phone.locator("svg.chart").first.bounding_box()
    assert chart is not None and chart["x"] >= 0 and chart["x"] + chart["width"] <= 390, chart
    assert axe_violations(phone) == []
    screenshot(phone, "uppfoljning-mobil.png")


def test_coordinator_sets_a_target_and_submits_the_indicator_list(page: Page) -> None:
    """Region Östergötland's draft indikatorlista: a second måltal, then in for approval."""
    log_in(page, "samordnare.ostergotland", "Ulrika Fransson")
    inbox = page.locator("#inkorg tr").filter(has_text="Indikatorlista hjärtsjukvård")
    inbox.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Indikatorlista hjärtsjukvård")
    targets = page.locator("#maltal table")
    expect(targets).to_contain_text("Hjärtcentrum Linköping")
    form = page.locator("form").filter(has=page.get_by_role("button", name="Sätt måltal"))
    form.get_by_label("Indikator").select_option(index=1)
    unit = form.get_by_label("Enhet")
    option = unit.locator("option", has_text="Universitetssjukhuset i Linköping").first
    unit.select_option(value=option.get_attribute("value"))
    form.get_by_label("Måltal").fill("80")
    form.get_by_role("button", name="Sätt måltal").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(targets.locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Lämna in för fastställande").click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Läget är nu ”Inlämnad för fastställande”"
    )
    screenshot(page, "indikatorlista.png")


def test_a_returned_report_is_analysed_and_sent_again(page: Page) -> None:
    """Sahlgrenska's lokalt processteam: its report came back for more analysis; the team's
    local lead reads why, writes the analysis and sends it to the regionalt processteam."""
    log_in(page, "lokal.sahlgrenska", "Annika Persson")
    row = page.locator("#inkorg tr").filter(has_text="Rapport om måluppfyllelse")
    row.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Rapport")
    main = page.locator("main")
    expect(main).to_contain_text("beskriv vad ni gjorde")  # the return's comment
    expect(main).to_contain_text("Regionalt processteam hjärtsvikt")  # the recipient
    form = page.locator("form").filter(has=page.get_by_role("button", name="Skicka in"))
    form.get_by_label("Analys").fill(
        "Titreringsmottagningen öppnade i maj; alla nya patienter får en tid inom två veckor."
    )
    form.get_by_role("button", name="Skicka in").click()
    expect(page.locator(".flash-success")).to_contain_text("Inskickad")
    screenshot(page, "rapport.png")


def test_grouped_inbox_and_bulk_acknowledge(page: Page) -> None:
    """Vårdcentral Majorna's lead (handed FOTSAR above): the inbox in urgency groups, then
    Kvittera for the ticked ones with one confirmation."""
    log_in(page, "lokal.majorna", "Elin Gustafsson")
    expect(page.locator("#inkorg h2").first).to_have_text(
        re.compile(r"^(Försenat|Förfaller denna vecka|Senare) \(\d+\)$")
    )
    boxes = page.locator("#inkorg input[name=arende]")
    expect(boxes).not_to_have_count(0)
    count = boxes.count()
    for index in range(count):
        boxes.nth(index).check()
    page.get_by_role("button", name="Kvittera valda").click()
    word = "ärende" if count == 1 else "ärenden"
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Kvittera {count} {word}?")
    expect(page.locator("#att-kvittera li")).to_have_count(count)
    screenshot(page, "inkorg-kvittera.png")
    page.get_by_role("button", name=f"Kvittera {count} {word}").click()
    expect(page.locator(".flash-success")).to_have_text(f"{count} {word} kvitterades.")
    expect(page.locator("#inkorg input[name=arende]")).to_have_count(0)


SELF_HARM = "Självskadebeteende hos barn och unga"  # out on consultation in the demo


def open_consultation_support(page: Page) -> None:
    """The NPO chair opens the knowledge support that is out on consultation (from Översikt,
    where supports not yet published are listed too)."""
    log_in(page, "npo.ordf", "Maria Lindberg")
    page.goto("/oversikt")
    page.goto(page.locator("main a", has_text=SELF_HARM).first.get_attribute("href") or "")
    expect(page.get_by_role("heading", level=1)).to_contain_text(SELF_HARM)


def test_npo_reads_the_remissammanstallning(page: Page) -> None:
    open_consultation_support(page)
    page.locator("#remissammanstallning").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Remissammanställning: {SELF_HARM}")
    expect(page.locator("#svar tbody tr")).to_have_count(21)
    expect(page.locator("#antal")).to_contain_text("Inte besvarat")
    expect(page.locator("#remiss-xlsx")).to_have_attribute("href", re.compile(r"\.xlsx\?omgang=1$"))
    screenshot(page, "remissammanstallning.png")
    page.emulate_media(media="print")  # printable: no header or navigation on paper
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator("#svar")).to_be_visible()


def test_cancelling_a_knowledge_support_asks_first(page: Page) -> None:
    """ "Avbryt kunskapsstödet" is red, says what it will do and needs the box ticked; without
    it (a browser that ignores ``required``) the server refuses and says so at the box."""
    open_consultation_support(page)
    form = page.locator("#handling-cancel")
    button = form.get_by_role("button", name="Avbryt kunskapsstödet")
    expect(button).to_have_class(re.compile(r"\bdanger\b"))
    expect(form.locator(".consequence")).to_contain_text(
        re.compile(r"Avbryt kunskapsstödet: \d+ remissvar avbryts\. Det går inte att ångra\.")
    )
    form.get_by_label("Kommentar").fill("Ersätts av ett gemensamt stöd för alla åldrar.")
    page.evaluate("document.querySelector('#handling-cancel-bekrafta').removeAttribute('required')")
    statuses: list[int] = []

    def refused(route: Any) -> None:  # the real answer, shown as a 200 (no console error)
        answer = route.fetch()
        statuses.append(answer.status)
        route.fulfill(response=answer, status=200)

    page.route("**/handling", refused)
    button.click()
    expect(page.locator("#fel")).to_be_visible()
    assert statuses == [422]
    expect(page.locator("#lage")).to_have_text("Remiss")  # nothing happened
    form = page.locator("#handling-cancel")
    expect(form.locator(".error-text")).to_contain_text("Kryssa i rutan")
    expect(form.get_by_label(re.compile("Jag förstår"))).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Kommentar")).to_have_value(
        "Ersätts av ett gemensamt stöd för alla åldrar."
    )
    form.scroll_into_view_if_needed()
    screenshot(page, "bekrafta-avbryt.png", full_page=False)


def test_my_account_shows_roles_and_makes_an_api_key_once(page: Page) -> None:
    log_in(page, "ordf.skane", "Fredrik Mårtensson")
    page.get_by_role("link", name="Mitt konto").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mitt konto")
    expect(page.locator("#roller")).to_contain_text("Ordförande i Region Skåne")
    page.get_by_label("Benämning").fill("Rapportskript")
    page.get_by_role("button", name="Skapa nyckel").click()
    expect(page.locator("#ny-nyckel")).to_contain_text("visas bara den här gången")
    expect(page.locator("#token-value")).to_have_value(re.compile(r"^kf_"))
    expect(page.locator("#mina-nycklar")).to_contain_text("Rapportskript")
    screenshot(page, "mitt-konto.png")


def test_administrator_reads_a_deactivated_users_account_history(page: Page) -> None:
    log_in(page, "admin", "Karin Holm", "Översikt")
    page.goto("/admin/anvandare")
    row = page.get_by_role("row", name=re.compile("tidigare.majorna@demo.kflow.se"))
    expect(row).to_contain_text("Inaktiverad")
    row.get_by_role("link").click()
    expect(page.locator("#status")).to_have_text("Inaktiverad")
    expect(page.get_by_role("button", name="Aktivera")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Kontot inaktiverades")
    screenshot(page, "admin-anvandare.png")


def test_forgotten_password_gives_the_same_answer_for_any_address(page: Page) -> None:
    page.goto("/login")
    page.get_by_role("link", name="Glömt lösenord?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Glömt lösenord?")
    page.get_by_label("E-postadress").fill("finns.inte@demo.kflow.se")
    page.get_by_role("button", name="Skicka länk").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kolla din e-post")
    unknown = page.locator("main").inner_text().replace("finns.inte@", "ADDRESS@")
    page.goto("/glomt-losenord")
    page.get_by_label("E-postadress").fill("lokal.sus@demo.kflow.se")
    page.get_by_role("button", name="Skicka länk").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kolla din e-post")
    assert page.locator("main").inner_text().replace("lokal.sus@", "ADDRESS@") == unknown
    screenshot(page, "glomt-losenord.png")
