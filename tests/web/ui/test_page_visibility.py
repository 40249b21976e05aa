"""Every page shows only what its viewer may read, by the same rule as the API.

On the demo data set (``kflow demo``), each sampled demo user signs in and crawls the web UI
the way a curious person would: from Min inkorg, Översikt and Försenade it follows every
internal link (case pages, pages of lists, CSV downloads), the lists first and then each kind
of page in turn (knowledge supports, adaptations, consultation responses, implementations,
history downloads), up to ``MAX_PAGES`` pages. It also opens a slice of all case pages
directly by id (``PROBES`` of them, a different slice for each user), each of which must open
exactly when the API opens the case. Every case that appears on a page is collected:

* an id in an address or element id (``/arenden/<id>``, ``arende-<id>``) or a ``#<id>`` text;
* the ``Ärende`` column of the CSV downloads (a chain's history, the overview);
* a related case shown with its own details, found by its place on the page and resolved to
  its id through the database: a region's consultation response shown with its state, or its
  adaptation with its due date or delay (on a knowledge support's page and in the overview);
  a local unit listed with its implementation (on an adaptation's page); a parent shown with
  its state (in the related-case list).

Each must be a case the user can open: the API lists it for them (``GET /api/v1/<collection>``
with the user's own token), or else ``GET /api/v1/<collection>/<id>`` answers 200, not 404.
The public aggregate is exempt by design (docs/security.md): every signed-in user sees every
knowledge support, and per region the adaptation's state and the share of local units done,
without a link or id.

The sample: 11 of the 38 demo users, covering every role (admin, viewer, chair, process lead,
coordinator, local lead, member) and every kind of place a role is held in (the root, the NPO
that owns most demo chains, another NPO, an NSG, two regions, a regional group, a hospital with
units below it, a unit below that). All 38 users take about a minute per database and, when
last tried, found nothing more; the sample takes 20-30 s per database.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import heapq
import io
import itertools
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from kflow.accounts import tokens as api_tokens
from kflow.cases.models import Case, ConsultationResponse, KnowledgeSupport
from kflow.org.models import Unit, User
from kflow.runtime import Runtime
from kflow.states import MACHINES
from kflow.tools.demo import DEFAULT_PASSWORD, DOMAIN, load_demo
from kflow.tools.migrate import upgrade
from kflow.web import create_app
from kflow.web.api.openapi import COLLECTIONS
from tests.conftest import Database, make_settings
from tests.support.api_support import Api
from tests.support.ui_support import Element, Ui, parse

USERS = [
    "admin",  # admin at the root
    "lasare",  # viewer at the root
    "npo.ordf",  # chair of the NPO that owns most demo chains
    "ordf.hjarta",  # chair of another NPO
    "process.patientsakerhet",  # process lead of an NSG
    "samordnare.vgr",  # coordinator of a region
    "ordf.skane",  # chair of a region
    "rpo.vgr",  # process lead of a regional group (an RPO)
    "lokal.sahlgrenska",  # local lead of a hospital with units below it
    "ledamot.sahlgrenska",  # member of a local unit
    "lokal.malmo",  # local lead in another region
]
MAX_PAGES = 60  # pages crawled per user (the probes come on top)
PROBES = 30  # case pages opened directly by id per user
COLLECTION_OF = {case_type: collection for collection, case_type in COLLECTIONS.items()}
CASE_LINK = re.compile(r"/arenden/(\d+)(?![\d])")
CASE_ELEMENT = re.compile(r"^arende-(\d+)$")
CASE_NUMBER = re.compile(r"#(\d+)\b")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
RESPONSE_LABELS = set(MACHINES["consultation_response"].state_labels.values())
LIST_PATHS = ("/", "/oversikt", "/forsenade")


def region_cells(row: Element) -> list[Element]:
    """An overview row's region cells (not its goal-attainment cell)."""
    return [td for td in row.find_all("td") if "goal-col" not in td.attrs.get("class", "")]


@dataclasses.dataclass
class Demo:
    """The demo database, the app on it, each demo user's API token, and the cases by id."""

    app: Flask
    tokens: dict[str, str]
    cases: dict[int, Case]
    unit_names: dict[int, str]
    region_ids: dict[str, int]

    def __post_init__(self) -> None:
        self.adaptations: dict[tuple[int | None, int | None], int] = {}
        self.responses: dict[tuple[int | None, int, int | None], int] = {}
        self.implementations: dict[tuple[int | None, str], list[int]] = {}
        self.ks_by_title = {
            c.title: c.id for c in self.cases.values() if isinstance(c, KnowledgeSupport)
        }
        for case in self.cases.values():
            if case.type == "regional_adaptation":
                self.adaptations[(case.knowledge_support_id, case.region_id)] = case.id
            elif isinstance(case, ConsultationResponse):
                key = (case.knowledge_support_id, case.round, case.region_id)
                self.responses[key] = case.id
            elif case.type == "local_implementation":
                key2 = (case.parent_id, self.unit_names[case.owner_id])
                self.implementations.setdefault(key2, []).append(case.id)


@pytest.fixture(scope="module")
def demo(database: Database) -> Iterator[Demo]:
    settings = make_settings()
    runtime = Runtime.create(settings.replace(database_url=database.new_database("pages")))
    upgrade(runtime.engine)
    # The demo users share one scrypt hash; a cheap one of the same password signs in faster.
    cheap = generate_password_hash(DEFAULT_PASSWORD, method="pbkdf2:sha256:1000")
    tokens = {}
    with runtime.transaction() as session:
        load_demo(session, runtime.settings)
        demo_users = select(User).where(User.email.like(f"%@{DOMAIN}"), User.is_active)
        for user in session.scalars(demo_users):
            user.password_hash = cheap
            tokens[user.email.removesuffix(f"@{DOMAIN}")] = api_tokens.create_token(
                session, user, "sidor"
            )[1]
    with runtime.sessions() as session:
        cases = {c.id: c for c in session.scalars(select(Case))}
        units = list(session.scalars(select(Unit)))
        session.expunge_all()
    app = create_app(runtime, config_override={"WTF_CSRF_ENABLED": False})
    yield Demo(
        app,
        tokens,
        cases,
        {u.id: u.name for u in units},
        {u.name: u.id for u in units if u.kind == "region"},
    )
    runtime.engine.dispose()


class Crawl:
    """One user's walk through the pages, and every case each page showed."""

    def __init__(self, demo: Demo, who: str) -> None:
        self.demo = demo
        self.who = who
        self.client = demo.app.test_client()
        response = self.client.post(
            "/login", data={"email": f"{who}@{DOMAIN}", "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 303, response.get_data(as_text=True)[:2000]
        self.api_headers = {"Authorization": f"Bearer {demo.tokens[who]}"}
        self.opens: dict[int, bool] = {}
        self._listed: set[int] | None = None
        # case id -> (page, how it appeared) for the first time it appeared
        self.shown: dict[int, tuple[str, str]] = {}
        self.visited: set[str] = set()
        self.queue: list[tuple[int, int, int, str]] = []
        self.order = itertools.count()
        self.turns = [itertools.count() for _ in range(6)]
        self.pages = 0

    # --- what the API says ---

    def listed(self) -> set[int]:
        """Every case the API lists for this user (GET /api/v1/<collection>, all pages)."""
        if self._listed is None:
            self._listed = set()
            for collection in COLLECTIONS:
                offset, total = 0, 1
                while offset < total:
                    response = self.client.get(
                        f"/api/v1/{collection}",
                        headers=self.api_headers,
                        query_string={"limit": 500, "offset": offset},
                    )
                    assert response.status_code == 200, response.get_json()
                    body = response.get_json()
                    self._listed |= {item["id"] for item in body["items"]}
                    offset, total = offset + 500, body["total"]
        return self._listed

    def can_open(self, case_id: int) -> bool:
        """The API's answer for this user: a case it lists, or else one that
        GET /api/v1/<collection>/<id> answers with 200 (not 404)."""
        if case_id in self.listed():
            return True
        if case_id not in self.opens:
            case = self.demo.cases.get(case_id)
            assert case is not None, f"{self.who}: case id {case_id} shown, but no such case"
            collection = COLLECTION_OF[case.type]
            response = self.client.get(f"/api/v1/{collection}/{case_id}", headers=self.api_headers)
            assert response.status_code in (200, 404), response.get_json()
            self.opens[case_id] = response.status_code == 200
        return self.opens[case_id]

    # --- the crawl ---

    def kind(self, url: str) -> int:
        """Lists 0, knowledge supports 1, adaptations 2, responses 3, implementations 4,
        history downloads 5."""
        path = urlsplit(url).path
        found = re.fullmatch(r"/arenden/(\d+)", path)
        if found is None:
            return 5 if path.endswith("historik.csv") else 0
        case = self.demo.cases.get(int(found.group(1)))
        kinds = ["knowledge_support", "regional_adaptation", "consultation_response"]
        return 1 + kinds.index(case.type) if case and case.type in kinds else 4

    def enqueue(self, url: str) -> None:
        """Queue an internal page once: lists first, then the kinds of page taken in turn (a
        knowledge support, an adaptation, a response, an implementation, a download, the next
        knowledge support, ...), so that a bounded crawl sees some of each."""
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            return
        if parts.path.startswith(("/static/", "/logout", "/api/")):
            return
        url = parts.path + (f"?{parts.query}" if parts.query else "")
        if url not in self.visited:
            self.visited.add(url)
            kind = self.kind(url)
            turn = 0 if kind == 0 else 1 + next(self.turns[kind])
            heapq.heappush(self.queue, (turn, kind, next(self.order), url))

    def run(self) -> None:
        for path in LIST_PATHS:
            self.enqueue(path)
        while self.queue and self.pages < MAX_PAGES:
            *_, url = heapq.heappop(self.queue)
            self.open(url)
        self.probe()

    def open(self, url: str, expect_open: bool | None = None) -> int:
        response = self.client.get(url)
        self.pages += 1
        status = response.status_code
        if expect_open is not None:
            assert (status == 200) == expect_open, (self.who, url, status)
        if status != 200:
            assert status in (302, 303, 403, 404), (self.who, url, status)
            return status
        if response.mimetype == "text/csv":
            self.read_csv(url, response.get_data(as_text=True))
        elif response.mimetype == "text/html":
            self.read_page(url, parse(response.get_data(as_text=True)))
        return status

    def probe(self) -> None:
        """Open a slice of every case's page directly: open exactly when the API opens it."""
        ids = sorted(self.demo.cases)
        step = max(1, len(ids) // PROBES)
        start = USERS.index(self.who) % step
        for case_id in ids[start::step]:
            url = f"/arenden/{case_id}"
            if url not in self.visited:
                self.visited.add(url)
                self.open(url, expect_open=self.can_open(case_id))

    # --- what a page shows ---

    def saw(self, case_id: int, url: str, how: str) -> None:
        self.shown.setdefault(case_id, (url, how))

    def read_csv(self, url: str, text: str) -> None:
        rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
        if "Ärende" not in rows[0]:
            return  # Uppföljning's export: results per unit, no case in it
        column = rows[0].index("Ärende")
        for row in rows[1:]:
            self.saw(int(row[column]), url, "in the CSV's Ärende column")

    def read_page(self, url: str, doc: Element) -> None:
        for element in doc.find_all():
            for name, value in element.attrs.items():
                for found in CASE_LINK.finditer(value):
                    self.saw(int(found.group(1)), url, f"in <{element.tag} {name}={value!r}>")
                if name == "id" and (match := CASE_ELEMENT.match(value)):
                    self.saw(int(match.group(1)), url, f'in <{element.tag} id="{value}">')
            if element.tag == "a" and "href" in element.attrs:
                self.enqueue(element.attrs["href"])
        main = doc.find("main")
        for found in CASE_NUMBER.finditer(main.text):
            self.saw(int(found.group(1)), url, f"as the text {found.group(0)!r}")
        if url == "/oversikt" or url.startswith("/oversikt?"):
            self.read_matrix(url, doc)
        found_case = re.fullmatch(r"/arenden/(\d+)", url)
        if found_case:
            self.read_related(url, doc, self.demo.cases[int(found_case.group(1))])

    def read_matrix(self, url: str, doc: Element) -> None:
        """An overview cell marked overdue tells of its adaptation's due date."""
        if not doc.has_id("matris"):
            return
        table = doc.by_id("matris")
        regions = [th.text for th in table.find("thead").find_all("th", class_="region-col")]
        for tr in table.find("tbody").find_all("tr"):
            ks_id = self.demo.ks_by_title[tr.find("th").find("a").text]
            for region, td in zip(regions, region_cells(tr), strict=True):
                if "Försenad" in td.text:
                    region_id = self.region_by_short_name(region)
                    adaptation = self.demo.adaptations[(ks_id, region_id)]
                    self.saw(adaptation, url, f"overdue in the overview's {region} cell")

    def region_by_short_name(self, short: str) -> int:
        for name, region_id in self.demo.region_ids.items():
            if name.removeprefix("Region ").strip() == short:
                return region_id
        raise AssertionError(f"no region {short!r}")

    def read_related(self, url: str, doc: Element, case: Case) -> None:
        """Related cases shown with details of their own, resolved to their ids."""
        demo = self.demo
        if isinstance(case, KnowledgeSupport) and doc.has_id("regioner"):
            for tr in doc.by_id("regioner").find("tbody").find_all("tr"):
                region_id = demo.region_ids[tr.find("th").text]
                _, due, response, _ = tr.find_all("td")
                if DATE.search(due.text) or "Försenad" in due.text:
                    adaptation = demo.adaptations[(case.id, region_id)]
                    self.saw(adaptation, url, f"its due date in row {tr.find('th').text}")
                if response.text in RESPONSE_LABELS:
                    key = (case.id, case.consultation_round or 0, region_id)
                    self.saw(
                        demo.responses[key], url, f"response state in row {tr.find('th').text}"
                    )
        if doc.has_id("lokala-enheter"):
            for tr in doc.by_id("lokala-enheter").find("tbody").find_all("tr"):
                name = tr.find("th").text
                for implementation in demo.implementations[(case.id, name)]:
                    self.saw(implementation, url, f"the local unit {name!r}")
        for ul in doc.find_all("ul", class_="related-list"):
            for li in ul.find_all("li"):
                if "läge:" not in li.text:
                    continue
                if case.type == "follow_up_report":  # the reports from below, each linked
                    href = li.find("a").attrs["href"]
                    self.saw(int(href.rsplit("/", 1)[-1]), url, f"a report below: {li.text!r}")
                    continue
                ks = demo.cases[case.knowledge_support_id or case.id]
                assert isinstance(ks, KnowledgeSupport)
                parent = ks.id if li.text.startswith(f"{ks.title} – ") else case.parent_id
                assert parent is not None, (url, li.text)
                self.saw(parent, url, f"a related case with its state: {li.text!r}")


@pytest.mark.parametrize("who", USERS)
def test_every_case_a_page_shows_is_one_the_user_can_open(demo: Demo, who: str) -> None:
    crawl = Crawl(demo, who)
    crawl.run()

    hidden = [
        f"{who} saw case #{case_id} ({demo.cases[case_id].type}) on {url}: {how}"
        for case_id, (url, how) in sorted(crawl.shown.items())
        if not crawl.can_open(case_id)
    ]
    assert not hidden, f"{len(hidden)} cases {who} cannot open:\n" + "\n".join(hidden[:15])
    # The crawl saw something: every knowledge support (the overview links them all) and more.
    supports = {i for i, c in demo.cases.items() if c.type == "knowledge_support"}
    assert supports <= set(crawl.shown)
    assert crawl.pages >= 40, crawl.pages


def test_the_public_aggregate_stays_without_ids(demo: Demo) -> None:
    """A local lead in Skåne still sees every region's adaptation state and local progress in
    the overview and on a knowledge support's page, but no other region's link, due date or
    consultation response."""
    crawl = Crawl(demo, "lokal.malmo")
    page = crawl.client.get("/oversikt")
    doc = parse(page.get_data(as_text=True))
    table = doc.by_id("matris")
    regions = [th.text for th in table.find("thead").find_all("th", class_="region-col")]
    skane = regions.index("Skåne")
    cells = [region_cells(tr) for tr in table.find("tbody").find_all("tr")]
    # Another region's local progress is there (the demo hands off in four regions).
    assert any("klara" in td.text for row in cells for i, td in enumerate(row) if i != skane)
    for row in cells:
        for index, td in enumerate(row):
            assert td.text, "every cell shows its state"
            if index != skane:
                assert not td.find_all("a"), td.text

    consulted = next(
        c
        for c in demo.cases.values()
        if isinstance(c, KnowledgeSupport) and c.state == "consultation" and c.consultation_round
    )
    page = crawl.client.get(f"/arenden/{consulted.id}")
    assert page.status_code == 200
    rows = parse(page.get_data(as_text=True)).by_id("regioner").find("tbody").find_all("tr")
    for tr in rows:
        _, due, response, _ = tr.find_all("td")
        if tr.find("th").text == "Region Skåne":
            assert response.text in RESPONSE_LABELS and response.find_all("a")
        else:
            assert response.text == "Ingen behörighet", tr.text
            assert due.text in ("–", "Ingen behörighet"), tr.text
            assert not tr.find_all("a")


# --- The overview, the public aggregate, on a small organisation (tests/support/world.py) ---------


def test_the_overview_marks_delays_and_ids_only_of_readable_adaptations(runtime, world) -> None:
    ks = world.ks_in("published")
    ra = world.adaptation_in("implementing", ks)
    ra.due = world.today() - dt.timedelta(days=5)
    skane = world.adaptation(ks, "skane")
    skane.due = world.today() - dt.timedelta(days=5)
    world.session.flush()
    ui = Ui(runtime, world)
    api = Api(runtime, world)

    for who, readable in (("skane-coordinator", "skane"), ("vgr-coordinator", "vgr")):
        ui.login(who)
        page = ui.get("/oversikt")
        table = page.doc.by_id("matris")
        regions = [th.text for th in table.find("thead").find_all("th", class_="region-col")]
        cells = region_cells(table.find("tbody").find("tr"))
        vgr = cells[regions.index("Västra Götalandsregionen")]
        own = cells[regions.index("Skåne" if readable == "skane" else "Västra Götalandsregionen")]
        # public; the heatmap's symbol first, then the state for screen readers (issue 17)
        assert "Införande pågår lokalt" in vgr.text and "0/2 klara" in vgr.text
        assert "Försenad" in own.text
        links = [a.attrs["href"] for a in table.find_all("a")]
        mine = ra if readable == "vgr" else skane
        assert links == [f"/arenden/{ks.id}", f"/arenden/{mine.id}"]
        late = [td for td in cells if "Försenad" in td.text]
        assert late == [own]

        row = api.get("/api/v1/overview", who)["items"][0]
        by_region = {c["region"]: c["adaptation"] for c in row["regions"]}
        for code, adaptation in by_region.items():
            assert adaptation["state"]  # the public aggregate
            if code == readable:
                assert (adaptation["id"], adaptation["due"]) == (mine.id, mine.due.isoformat())
            else:
                assert (adaptation["id"], adaptation["due"]) == (None, None), code
    # The owner NPO reads every adaptation of its knowledge support.
    row = api.get("/api/v1/overview", "npo-viewer")["items"][0]
    assert all(c["adaptation"]["id"] for c in row["regions"])
