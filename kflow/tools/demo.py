"""A realistic demo data set: `kflow demo` (and `make run`) load it.

It adds regional groups and local units in four regions, a demo user for every role (all under
@demo.kflow.se, all with one password) and 30 knowledge supports owned by real NPOs and an NSG.
Every case is driven through ``create_knowledge_support`` and ``fire`` as the user
whose role allows the move (or as ``system`` for automatic triggers), so the history is real and
every fan-out and cascade happened the way it does in use; indicators and measurements go through
``kflow.services.indicators`` the same way. The stories are dated over the past
two years, counted back from the day the demo is loaded, so some cases are overdue and some are
due in the coming days. Nothing is random: the same day always gives the same data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kflow.calendar import STOCKHOLM, local_date, next_working_day, previous_working_day
from kflow.cases.models import Case, KnowledgeSupport, LocalImplementation
from kflow.config import Settings
from kflow.db import utcnow
from kflow.engine.authority import SYSTEM, Actor, Authority
from kflow.engine.create import create_knowledge_support
from kflow.engine.fire import Fired, fire
from kflow.errors import ValidationError
from kflow.followup import indicators
from kflow.followup.models import Indicator
from kflow.org import units as org_units
from kflow.org import users as org_users
from kflow.org.models import Membership, Unit, User
from kflow.org.roles import ROLE_LABELS, Role, UnitKind
from kflow.tools.seed import seed

DOMAIN = "demo.kflow.se"
DEFAULT_PASSWORD = "kflow-demo"  # noqa: S105 (the documented demo password)


@dataclasses.dataclass(frozen=True)
class DemoResult:
    already_loaded: bool
    # Cases in the database after loading (the demo's, including every fan-out).
    cases: int
    # (e-mail, name, roles as text), in the order they are best introduced.
    users: list[tuple[str, str, str]]


# ---------------------------------------------------------------------------------------------
# Organisation: (code, name, kind, parent code). Parents are reference units or earlier rows.
NAG, RG, LU = UnitKind.NAG, UnitKind.REGIONAL_GROUP, UnitKind.LOCAL_UNIT
UNITS: list[tuple[str, str, str, str]] = [
    ("nag-atstorningar", "NAG Ätstörningar", NAG, "npo-psykisk-halsa"),
    # Västra Götalandsregionen
    ("vgr-rpo-psykisk-halsa", "RPO Psykisk hälsa", RG, "vgr"),
    ("vgr-rpo-hjarta-karl", "RPO Hjärt- och kärlsjukdomar", RG, "vgr"),
    ("vgr-su", "Sahlgrenska Universitetssjukhuset", LU, "vgr"),
    ("vgr-su-psykiatri", "Psykiatri Sahlgrenska", LU, "vgr-su"),
    ("vgr-su-kardiologi", "Kardiologi Sahlgrenska", LU, "vgr-su"),
    ("vgr-skas-psykiatri", "Psykiatri Skaraborg", LU, "vgr"),
    ("vgr-nu-psykiatri", "Psykiatri NU-sjukvården", LU, "vgr"),
    ("vgr-vc-majorna", "Vårdcentral Majorna", LU, "vgr"),
    ("vgr-vc-kungshojd", "Vårdcentral Kungshöjd", LU, "vgr"),
    # Region Skåne
    ("skane-lpo-psykisk-halsa", "LPO Psykisk hälsa", RG, "skane"),
    ("skane-sus", "Skånes universitetssjukhus", LU, "skane"),
    ("skane-sus-hjarta", "Hjärtsjukvården SUS", LU, "skane-sus"),
    ("skane-vuxenpsykiatri-malmo", "Vuxenpsykiatri Malmö", LU, "skane"),
    ("skane-vuxenpsykiatri-lund", "Vuxenpsykiatri Lund", LU, "skane"),
    ("skane-vc-mollevangen", "Vårdcentralen Möllevången", LU, "skane"),
    # Region Stockholm
    ("stockholm-rpo-hjarta-karl", "RPO Hjärt- och kärlsjukdomar", RG, "stockholm"),
    ("stockholm-sos", "Södersjukhuset", LU, "stockholm"),
    ("stockholm-sos-hjartkliniken", "Hjärtkliniken Södersjukhuset", LU, "stockholm-sos"),
    ("stockholm-sos-stroke", "Strokeenheten Södersjukhuset", LU, "stockholm-sos"),
    ("stockholm-nsp", "Norra Stockholms psykiatri", LU, "stockholm"),
    ("stockholm-hlm-sodermalm", "Husläkarmottagning Södermalm", LU, "stockholm"),
    # Region Östergötland
    ("ostergotland-lpo-nervsystemet", "LPO Nervsystemets sjukdomar", RG, "ostergotland"),
    ("ostergotland-us", "Universitetssjukhuset i Linköping", LU, "ostergotland"),
    ("ostergotland-us-hjartcentrum", "Hjärtcentrum Linköping", LU, "ostergotland-us"),
    ("ostergotland-us-neurologi", "Neurologiska kliniken Linköping", LU, "ostergotland-us"),
    ("ostergotland-vc-karna", "Vårdcentralen Kärna", LU, "ostergotland"),
]

# (log-in before @demo.kflow.se, name, [(role, unit code)]), in the order the log-ins are listed.
USERS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("admin", "Karin Holm", [("admin", "sverige")]),
    ("lasare", "Per Sandberg", [("viewer", "sverige")]),
    ("npo.ordf", "Maria Lindberg", [("chair", "npo-psykisk-halsa")]),
    ("npo.process", "Johan Ekström", [("process_lead", "npo-psykisk-halsa")]),
    ("npo.ledamot", "Sara Nyström", [("member", "npo-psykisk-halsa")]),
    ("samordnare.vgr", "Eva Karlsson", [("coordinator", "vgr")]),
    ("ordf.vgr", "Magnus Andersson", [("chair", "vgr")]),
    ("process.vgr", "Sofia Berg", [("process_lead", "vgr")]),
    ("rpo.vgr", "Henrik Olsson", [("process_lead", "vgr-rpo-psykisk-halsa")]),
    ("lokal.sahlgrenska", "Annika Persson", [("local_lead", "vgr-su")]),
    ("ledamot.sahlgrenska", "David Nilsson", [("member", "vgr-su-psykiatri")]),
    ("lokal.majorna", "Elin Gustafsson", [("local_lead", "vgr-vc-majorna")]),
    ("lokal.skaraborg", "Jonas Larsson", [("local_lead", "vgr-skas-psykiatri")]),
    ("samordnare.skane", "Malin Svensson", [("coordinator", "skane")]),
    ("ordf.skane", "Fredrik Mårtensson", [("chair", "skane")]),
    ("process.skane", "Josefin Nordin", [("process_lead", "skane")]),
    ("lokal.malmo", "Ahmed Hassan", [("local_lead", "skane-vuxenpsykiatri-malmo")]),
    ("lokal.mollevangen", "Lena Jönsson", [("local_lead", "skane-vc-mollevangen")]),
    ("lokal.sus", "Gustav Håkansson", [("local_lead", "skane-sus")]),
    ("samordnare.sthlm", "Katarina Engström", [("coordinator", "stockholm")]),
    ("ordf.sthlm", "Stefan Björk", [("chair", "stockholm")]),
    ("process.sthlm", "Nina Lindholm", [("process_lead", "stockholm")]),
    ("lokal.sodersjukhuset", "Tomas Wikström", [("local_lead", "stockholm-sos")]),
    ("lokal.nsp", "Amira Haddad", [("local_lead", "stockholm-nsp")]),
    ("samordnare.ostergotland", "Ulrika Fransson", [("coordinator", "ostergotland")]),
    ("ordf.ostergotland", "Björn Axelsson", [("chair", "ostergotland")]),
    ("process.ostergotland", "Hanna Ek", [("process_lead", "ostergotland")]),
    ("lokal.linkoping", "Viktor Sundberg", [("local_lead", "ostergotland-us")]),
    ("ordf.hjarta", "Lars Bergqvist", [("chair", "npo-hjart-och-karlsjukdomar")]),
    ("process.hjarta", "Emma Sjöberg", [("process_lead", "npo-hjart-och-karlsjukdomar")]),
    ("ordf.endokrin", "Anders Wallin", [("chair", "npo-endokrina-sjukdomar")]),
    ("process.endokrin", "Linnea Forsberg", [("process_lead", "npo-endokrina-sjukdomar")]),
    ("ordf.levnadsvanor", "Helena Åberg", [("chair", "npo-levnadsvanor")]),
    ("process.levnadsvanor", "Mikael Dahl", [("process_lead", "npo-levnadsvanor")]),
    ("ordf.nerv", "Peter Lundgren", [("chair", "npo-nervsystemets-sjukdomar")]),
    ("process.nerv", "Ida Holmberg", [("process_lead", "npo-nervsystemets-sjukdomar")]),
    ("ordf.patientsakerhet", "Cecilia Strand", [("chair", "nsg-patientsakerhet")]),
    ("process.patientsakerhet", "Oskar Hedlund", [("process_lead", "nsg-patientsakerhet")]),
]

# Who acts for each owner of knowledge supports: (chair, process lead).
OWNERS = {
    "npo-psykisk-halsa": ("npo.ordf", "npo.process"),
    "npo-hjart-och-karlsjukdomar": ("ordf.hjarta", "process.hjarta"),
    "npo-endokrina-sjukdomar": ("ordf.endokrin", "process.endokrin"),
    "npo-levnadsvanor": ("ordf.levnadsvanor", "process.levnadsvanor"),
    "npo-nervsystemets-sjukdomar": ("ordf.nerv", "process.nerv"),
    "nsg-patientsakerhet": ("ordf.patientsakerhet", "process.patientsakerhet"),
}
# Who acts for each demo region, by role.
REGION_STAFF = {
    region: {
        "coordinator": f"samordnare.{short}",
        "chair": f"ordf.{short}",
        "process_lead": f"process.{short}",
    }
    for region, short in (
        ("vgr", "vgr"),
        ("skane", "skane"),
        ("stockholm", "sthlm"),
        ("ostergotland", "ostergotland"),
    )
}
# Who answers for a local unit: (local lead, member who acknowledges if any).
LOCAL_STAFF: dict[str, tuple[str, str | None]] = {
    "vgr-su-psykiatri": ("lokal.sahlgrenska", "ledamot.sahlgrenska"),
    "vgr-su-kardiologi": ("lokal.sahlgrenska", None),
    "vgr-vc-majorna": ("lokal.majorna", None),
    "vgr-skas-psykiatri": ("lokal.skaraborg", None),
    "skane-vuxenpsykiatri-malmo": ("lokal.malmo", None),
    "skane-vc-mollevangen": ("lokal.mollevangen", None),
    "skane-sus-hjarta": ("lokal.sus", None),
    "stockholm-sos-hjartkliniken": ("lokal.sodersjukhuset", None),
    "stockholm-sos-stroke": ("lokal.sodersjukhuset", None),
    "stockholm-nsp": ("lokal.nsp", None),
    "ostergotland-us-hjartcentrum": ("lokal.linkoping", None),
    "ostergotland-us-neurologi": ("lokal.linkoping", None),
}
DECISION_PREFIX = {"vgr": "RS", "skane": "Dnr", "stockholm": "HSN", "ostergotland": "RS"}
REGION_NAMES = {
    "vgr": "Västra Götalandsregionen",
    "skane": "Region Skåne",
    "stockholm": "Region Stockholm",
    "ostergotland": "Region Östergötland",
}

# ---------------------------------------------------------------------------------------------
# Stories. Days are counted back from the day the demo is loaded ("120" = 120 days ago).

# Local implementation: unit code -> state to leave it in.
Locals = dict[str, str]


@dataclasses.dataclass(frozen=True)
class Regional:
    """One region's adaptation of a published knowledge support."""

    region: str
    until: str  # the state to leave it in
    start: int  # days ago of its first step
    gap: int = 20  # days between its steps
    locals: Locals = dataclasses.field(default_factory=dict)
    assign: str | None = None  # a regional group to assign it to first


@dataclasses.dataclass(frozen=True)
class Story:
    title: str
    kind: str
    owner: str
    until: str  # knowledge-support state to drive it to
    start: int  # days ago it was identified
    description: str | None = None
    regional: tuple[Regional, ...] = ()
    # For a story left in consultation: the channel, and the deadline in days from today
    # (None: the default from the consultation calendar).
    channel: str = "remiss"
    deadline_in: int | None = None
    # How the four demo regions answer consultations (see RESPONSE_PATTERNS).
    responses: int = 0


NATIONAL_PATH = (
    ("commission", "commissioned"),
    ("start_drafting", "drafting"),
    ("approve_for_review", "review"),
    ("open_consultation", "consultation"),
    ("close_consultation", "revising"),
    ("submit_for_approval", "awaiting_approval"),
    ("publish", "published"),
)
# Days before each step (open_consultation -> close_consultation follows the deadline).
NATIONAL_GAP = {
    "commission": 12,
    "start_drafting": 9,
    "approve_for_review": 70,
    "open_consultation": 18,
    "submit_for_approval": 28,
    "publish": 20,
}
CONSULTATION_DAYS = 56

# Per demo region: None (no answer: the response is left requested, or missed once closed),
# "drafting" (started, not sent), a position ("supports", ...) or "decline".
RESPONSE_PATTERNS: list[dict[str, str | None]] = [
    {
        "vgr": "supports_with_reservations",
        "skane": "supports",
        "stockholm": "supports",
        "ostergotland": "decline",
    },
    {"vgr": "supports", "skane": "opposes", "stockholm": "decline", "ostergotland": "drafting"},
    {
        "vgr": "supports",
        "skane": "supports_with_reservations",
        "stockholm": None,
        "ostergotland": "supports",
    },
    {
        "vgr": "supports_with_reservations",
        "skane": "drafting",
        "stockholm": "decline",
        "ostergotland": "supports",
    },
    {"vgr": "drafting", "skane": None, "stockholm": None, "ostergotland": None},
]

RESPONSE_TEXT = {
    "supports": "{region} tillstyrker förslaget. Rekommendationerna stämmer med nuvarande "
    "arbetssätt och kan införas inom befintliga ramar.",
    "supports_with_reservations": "{region} tillstyrker med reservation: konsekvenserna för "
    "primärvårdens bemanning behöver beskrivas tydligare, och införandet kräver utbildning.",
    "opposes": "{region} avstyrker i nuvarande form. Förslaget saknar en konsekvensbeskrivning "
    "för regioner med glesbygd och förutsätter resurser som inte finns.",
    "decline": "{region} avstår från eget svar och hänvisar till sjukvårdsregionens samordnade "
    "remissvar.",
}
GAP_ANALYSES = [
    "Gapanalys klar: två av tre rekommendationer uppfylls redan; "
    "det som saknas är strukturerad uppföljning i primärvården.",
    "Konsekvensanalys klar: kräver utbildningsinsats för cirka 200 medarbetare "
    "och en ny remissrutin mellan primärvård och specialistvård.",
    "Nulägesanalys klar: arbetssättet finns på två av fem sjukhus; "
    "kostnad för införande bedöms till 1,2 mnkr.",
    "Gapanalys klar: journalmallar och beställningsrutiner behöver ändras; "
    "inga nya tjänster krävs.",
]

# Follow-up indicators, by knowledge-support title: (name, unit of measure, target, direction).
# The owner defines them on publication; local units report while implemented or following up.
INDICATORS: dict[str, list[tuple[str, str, float, str]]] = {
    "Depression och ångestsyndrom hos vuxna": [
        ("Andel med strukturerad bedömning (PHQ-9) vid första besök", "procent", 80, "higher"),
        ("Väntetid till första behandlingsinsats", "dagar", 30, "lower"),
    ],
    "Hjärtsvikt – nyupptäckt": [
        ("Andel med ultraljud av hjärtat inom 3 månader", "procent", 90, "higher"),
    ],
    "Förmaksflimmer – nyupptäckt": [
        ("Andel med antikoagulantia vid CHA2DS2-VASc ≥ 2", "procent", 85, "higher"),
    ],
    "Typ 2-diabetes": [
        ("Andel med HbA1c under 52 mmol/mol", "procent", 60, "higher"),
        ("Andel med årlig fotundersökning", "procent", 90, "higher"),
    ],
    "Stroke och TIA": [
        ("Tid från ankomst till trombolys (median)", "minuter", 30, "lower"),
    ],
}

# fmt: off
# Abbreviations for the tables below.
KKS, PSVF, VP, VRL, RAPPORT = (
    "kliniskt_kunskapsstod", "vardforlopp", "vardprogram", "vardriktlinje", "rapport"
)
PSYK, HJARTA = "npo-psykisk-halsa", "npo-hjart-och-karlsjukdomar"
ENDOKRIN, LEVNADSVANOR = "npo-endokrina-sjukdomar", "npo-levnadsvanor"
NERV, PATSAK = "npo-nervsystemets-sjukdomar", "nsg-patientsakerhet"
R = Regional

STORIES: list[Story] = [
    # --- NPO Psykisk hälsa
    Story("Depression och ångestsyndrom hos vuxna", PSVF, PSYK, "published", 560,
          "Personcentrerat och sammanhållet vårdförlopp från första kontakt till uppföljning.",
          regional=(
              R("vgr", "implementing", 330, 25, assign="vgr-rpo-psykisk-halsa", locals={
                  "vgr-su-psykiatri": "following_up", "vgr-vc-majorna": "implemented",
                  "vgr-skas-psykiatri": "deviation", "vgr-nu-psykiatri": "assigned"}),
              R("skane", "following_up", 320, 20, locals={
                  "skane-vuxenpsykiatri-malmo": "closed", "skane-vuxenpsykiatri-lund": "waived"}),
              R("stockholm", "adopted", 60, 20),
              R("ostergotland", "awaiting_decision", 120, 30))),
    Story("Schizofreni – psykossjukdom", PSVF, PSYK, "published", 760, responses=1,
          regional=(
              R("vgr", "closed", 530, 25, locals={
                  "vgr-su-psykiatri": "closed", "vgr-nu-psykiatri": "waived"}),
              R("skane", "not_adopted", 520, 30),
              R("stockholm", "implementing", 300, 30, locals={
                  "stockholm-nsp": "implementing", "stockholm-hlm-sodermalm": "assigned"}),
              R("ostergotland", "on_hold", 200, 30))),
    Story("Självskadebeteende hos barn och unga", KKS, PSYK, "consultation", 137,
          deadline_in=36, responses=3),
    Story("Ätstörningar", KKS, PSYK, "drafting", 60,
          "Utredning och behandling av anorexi, bulimi och hetsätningsstörning."),
    # Published, then a revision started (see _Builder.beyond_the_path).
    Story("Adhd hos vuxna", KKS, PSYK, "published", 700, responses=2,
          regional=(
              R("vgr", "implementing", 460, 30, locals={
                  "vgr-su-psykiatri": "implementing", "vgr-vc-majorna": "acknowledged"}),
              R("skane", "closed", 470, 25, locals={"skane-vuxenpsykiatri-malmo": "closed"}))),
    Story("Bipolär sjukdom", VP, PSYK, "awaiting_approval", 215),
    Story("Suicidprevention i primärvården", KKS, PSYK, "need_identified", 9,
          "Behov anmält av flera RPO efter en nationell kartläggning."),
    Story("Autism hos barn och vuxna", KKS, PSYK, "commissioned", 150),  # then cancelled
    # --- NPO Hjärt- och kärlsjukdomar
    Story("Hjärtsvikt – nyupptäckt", PSVF, HJARTA, "published", 420, responses=3,
          regional=(
              R("vgr", "implementing", 190, 30, assign="vgr-rpo-hjarta-karl", locals={
                  "vgr-su-kardiologi": "assigned", "vgr-vc-majorna": "acknowledged",
                  "vgr-vc-kungshojd": "assigned"}),
              R("stockholm", "adapting", 180, 25),
              R("skane", "assessing", 150, 20),
              R("ostergotland", "implementing", 180, 20, locals={
                  "ostergotland-us-hjartcentrum": "implemented"}))),
    # Version 2 published since (see _Builder.beyond_the_path).
    Story("Förmaksflimmer – nyupptäckt", PSVF, HJARTA, "published", 760,
          regional=(
              R("vgr", "closed", 530, 25, locals={"vgr-su-kardiologi": "closed"}),
              R("skane", "following_up", 520, 30, locals={"skane-sus-hjarta": "following_up"}),
              R("stockholm", "not_adopted", 500, 30),
              R("ostergotland", "implementing", 480, 40, locals={
                  "ostergotland-us-hjartcentrum": "implementing"}))),
    Story("Kranskärlssjukdom – sekundärprevention", KKS, HJARTA, "revising", 200, responses=1),
    Story("Hypertoni i primärvården", KKS, HJARTA, "review", 110),
    Story("Venös tromboembolism", KKS, HJARTA, "commissioned", 30),
    Story("Perifer artärsjukdom", KKS, HJARTA, "consultation", 121,
          channel="synpunktsinhamtning", deadline_in=6, responses=4),
    # Withdrawn since (see _Builder.beyond_the_path).
    Story("Hjärtrehabilitering", VRL, HJARTA, "published", 640,
          regional=(
              R("stockholm", "closed", 410, 25, locals={
                  "stockholm-sos-hjartkliniken": "closed", "stockholm-hlm-sodermalm": "waived"}),
              R("vgr", "implementing", 400, 40, locals={
                  "vgr-su-kardiologi": "acknowledged", "vgr-vc-majorna": "implementing"}),
              R("skane", "adapting", 380, 40))),
    # --- NPO Endokrina sjukdomar
    Story("Typ 2-diabetes", KKS, ENDOKRIN, "published", 620, responses=2,
          description="Diagnostik, behandling och uppföljning av typ 2-diabetes hos vuxna.",
          regional=(
              R("vgr", "following_up", 390, 25, locals={
                  "vgr-vc-majorna": "following_up", "vgr-vc-kungshojd": "waived"}),
              R("skane", "implementing", 380, 40, locals={
                  "skane-vc-mollevangen": "acknowledged", "skane-sus-hjarta": "implementing"}),
              R("ostergotland", "on_hold", 350, 40),
              R("stockholm", "not_adopted", 360, 35))),
    Story("Diabetes med hög risk för fotsår", PSVF, ENDOKRIN, "published", 330,
          regional=(
              R("vgr", "adopted", 100, 15),
              R("skane", "adapting", 105, 20),
              R("stockholm", "awaiting_decision", 90, 25),
              R("ostergotland", "implementing", 82, 18, locals={
                  "ostergotland-vc-karna": "assigned"}))),
    Story("Hypotyreos", KKS, ENDOKRIN, "drafting", 45),
    Story("Graviditetsdiabetes", KKS, ENDOKRIN, "awaiting_approval", 240, responses=3),
    Story("Binjurebarksvikt", KKS, ENDOKRIN, "consultation", 170,  # then cancelled
          deadline_in=40, responses=4),
    # --- NPO Levnadsvanor
    Story("Prevention och behandling vid ohälsosamma levnadsvanor", VP, LEVNADSVANOR,
          "published", 620, responses=1,
          description="Tobak, alkohol, fysisk aktivitet och matvanor: samtal, rådgivning "
          "och uppföljning.",
          regional=(
              R("vgr", "implementing", 380, 30, locals={"vgr-vc-majorna": "implementing"}),
              R("ostergotland", "closed", 390, 25, locals={
                  "ostergotland-us-hjartcentrum": "closed"}))),
    # Left open with the deadline the consultation calendar gives.
    Story("Tobaksavvänjning inför operation", KKS, LEVNADSVANOR, "consultation", 112,
          responses=4),
    Story("Fysisk aktivitet på recept (FaR)", KKS, LEVNADSVANOR, "commissioned", 20),
    Story("Alkohol – tidig upptäckt och rådgivning", KKS, LEVNADSVANOR, "need_identified", 5),
    # --- NPO Nervsystemets sjukdomar
    Story("Stroke och TIA", PSVF, NERV, "published", 480, responses=3,
          regional=(
              R("ostergotland", "implementing", 250, 30, assign="ostergotland-lpo-nervsystemet",
                locals={
                    "ostergotland-us-neurologi": "deviation",
                    # No local lead in the demo: the admin acknowledges, as an override.
                    "ostergotland-vc-karna": "acknowledged"}),
              R("stockholm", "following_up", 255, 25, locals={
                  "stockholm-sos-stroke": "following_up"}),
              R("vgr", "awaiting_decision", 240, 40))),
    # Sent back from approval since (see _Builder.beyond_the_path).
    Story("Parkinsons sjukdom", PSVF, NERV, "awaiting_approval", 300, responses=2),
    Story("Multipel skleros", KKS, NERV, "review", 100),
    Story("Demenssjukdom", PSVF, NERV, "commissioned", 25),
    # --- NSG Patientsäkerhet
    Story("Vårdrelaterade infektioner – nationell lägesbild", RAPPORT, PATSAK, "published", 280,
          regional=(R("vgr", "assessing", 30, 10),)),
    Story("Trycksår – förebyggande arbete", RAPPORT, PATSAK, "drafting", 50),
]
# fmt: on


# ---------------------------------------------------------------------------------------------


def load_demo(
    session: Session,
    settings: Settings,
    password: str = DEFAULT_PASSWORD,
    *,
    now: dt.datetime | None = None,
) -> DemoResult:
    """Seed the reference data, then load the demo data set unless a demo user exists.

    :param now: the moment the stories are counted back from (default: the current time).
    """
    seed(session, settings.organisation_path)
    if _demo_user_exists(session):
        return DemoResult(True, _count_cases(session), logins(session))
    if len(password) < 8:
        raise ValidationError("Lösenordet måste ha minst 8 tecken.")
    builder = _Builder(session, settings, now or utcnow())
    builder.organisation(password)
    builder.stories()
    session.flush()
    return DemoResult(False, _count_cases(session), logins(session))


def _demo_user_exists(session: Session) -> bool:
    found = session.scalar(select(User.id).where(User.email.like(f"%@{DOMAIN}")).limit(1))
    return found is not None


def _count_cases(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Case)) or 0


def _unit_label(unit: Unit) -> str:
    if unit.kind == UnitKind.NPO:
        return f"NPO {unit.name}"
    if unit.kind == UnitKind.NSG:
        return f"NSG {unit.name}"
    return unit.name


def logins(session: Session) -> list[tuple[str, str, str]]:
    """The demo users with their roles as text, in the order of USERS (others after)."""
    order = {f"{login}@{DOMAIN}": i for i, (login, _, _) in enumerate(USERS)}
    rows = session.execute(
        select(User.email, User.name, Membership.role, Unit)
        .outerjoin(Membership, Membership.user_id == User.id)
        .outerjoin(Unit, Unit.id == Membership.unit_id)
        .where(User.email.like(f"%@{DOMAIN}"))
        .order_by(User.email, Membership.id)
    ).all()
    roles: dict[tuple[str, str], list[str]] = {}
    for email, name, role, unit in rows:
        texts = roles.setdefault((email, name), [])
        if role is not None and unit is not None:
            texts.append(f"{ROLE_LABELS[Role(role)]}, {_unit_label(unit)}")
    users = [(email, name, "; ".join(texts)) for (email, name), texts in roles.items()]
    return sorted(users, key=lambda u: (order.get(u[0], len(order)), u[0]))


class _Builder:
    def __init__(self, session: Session, settings: Settings, now: dt.datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        self.session = session
        self.settings = settings
        self.now = now
        self.today = local_date(now)
        self.units: dict[str, Unit] = {}
        self.users: dict[str, User] = {}
        self._authorities: dict[str, Authority] = {}
        self._numbers: Iterator[int] = itertools.count(101)
        self._texts: Iterator[int] = itertools.count()

    # --- organisation ----------------------------------------------------------------------
    def organisation(self, password: str) -> None:
        session = self.session
        self.units = {u.code: u for u in session.scalars(select(Unit))}
        for code, name, kind, parent in UNITS:
            if code not in self.units:
                self.units[code] = org_units.create_unit(
                    session, code, name, kind, self.units[parent]
                )
        # One hash for the shared password: scrypt is slow by design, and 38 hashes of the
        # same password would take seconds. Every user can still log in with it.
        password_hash: str | None = None
        for login, name, _ in USERS:
            user = org_users.create_user(session, f"{login}@{DOMAIN}", name)
            if password_hash is None:
                org_users.set_password(user, password)
                password_hash = user.password_hash
            else:
                user.password_hash = password_hash
            self.users[login] = user
        session.flush()  # user ids for the memberships
        for login, _, grants in USERS:
            for role, unit_code in grants:
                org_users.grant(session, self.users[login], role, self.units[unit_code])
        session.flush()  # make the memberships visible to Authority

    def authority(self, who: str) -> Authority:
        if who not in self._authorities:
            actor = SYSTEM if who == "system" else Actor(self.users[who])
            self._authorities[who] = Authority(self.session, actor)
        return self._authorities[who]

    # --- time ------------------------------------------------------------------------------
    def day(self, days_ago: int) -> dt.date:
        """The working day on or before ``days_ago`` days before today."""
        assert days_ago >= 1, "demo events lie in the past"
        return previous_working_day(self.today - dt.timedelta(days=days_ago))

    def days_ago(self, day: dt.date) -> int:
        return (self.today - day).days

    def at(self, days_ago: int, case: Case | None = None) -> dt.datetime:
        """09:00 Stockholm time on that day, and after the case's last change."""
        moment = dt.datetime.combine(self.day(days_ago), dt.time(9), STOCKHOLM).astimezone(dt.UTC)
        if case is not None and case.updated_at >= moment:
            moment = case.updated_at + dt.timedelta(minutes=7)
        assert moment < self.now, (days_ago, case)
        return moment

    def number(self) -> int:
        return next(self._numbers)

    def text(self, choices: Sequence[str]) -> str:
        return choices[next(self._texts) % len(choices)]

    # --- firing ----------------------------------------------------------------------------
    def fire(
        self,
        case: Case,
        trigger: str,
        who: str,
        days_ago: int,
        comment: str | None = None,
        override: bool = False,
        **params: Any,
    ) -> Fired:
        return fire(
            self.session,
            self.authority(who),
            case,
            trigger,
            settings=self.settings,
            comment=comment,
            params=params or None,
            override=override,
            now=self.at(days_ago, case),
        )

    def child(self, case_type: str, ks: Case, owner: str, parent: Case | None = None) -> Case:
        stmt = select(Case).where(
            Case.type == case_type,
            Case.knowledge_support_id == ks.id,
            Case.owner_id == self.units[owner].id,
        )
        if parent is not None:
            stmt = stmt.where(Case.parent_id == parent.id)
        found = self.session.scalars(stmt.order_by(Case.id.desc())).first()
        assert found is not None, (case_type, ks.id, owner)
        return found

    # --- stories ---------------------------------------------------------------------------
    def stories(self) -> None:
        made = {story.title: self.story(story) for story in STORIES}
        self.beyond_the_path(made)

    def story(self, story: Story) -> KnowledgeSupport:
        chair, _ = OWNERS[story.owner]
        ks = create_knowledge_support(
            self.session,
            self.authority(chair),
            title=story.title,
            kind=story.kind,
            owner=story.owner,
            description=story.description,
            now=self.at(story.start),
        )
        self.advance(ks, story, story.start)
        for name, unit, target, direction in INDICATORS.get(story.title, []):
            indicators.define_indicator(
                self.session,
                self.authority(OWNERS[story.owner][1]),
                ks,
                name=name,
                unit_of_measure=unit,
                target_value=target,
                direction=direction,
            )
        for regional in story.regional:
            self.regional(ks, regional)
        return ks

    def advance(self, ks: KnowledgeSupport, story: Story, day: int) -> None:
        """Drive ``ks`` along the national path to ``story.until``, from ``day`` days ago."""
        chair, lead = OWNERS[story.owner]
        states = [state for trigger, state in NATIONAL_PATH]
        if ks.state == story.until:
            return
        first = states.index(ks.state) + 1 if ks.state in states else 0
        for trigger, state in NATIONAL_PATH[first:]:
            if trigger == "close_consultation":
                assert ks.consultation_deadline is not None
                day = self.days_ago(next_working_day(ks.consultation_deadline + dt.timedelta(1)))
                self.fire(ks, trigger, "system", day)
            elif trigger == "open_consultation":
                day -= NATIONAL_GAP[trigger]
                self.consultation(ks, story, day)
            else:
                day -= NATIONAL_GAP[trigger]
                who = chair
                params: dict[str, Any] = {}
                if trigger in ("start_drafting", "submit_for_approval"):
                    who = lead
                if trigger == "commission" and ks.kind == "vardforlopp":
                    params = {"decision_ref": self.decision_ref("SKS", day)}
                if trigger == "publish":
                    params = {"decision_ref": self.publish_ref(ks, day)}
                self.fire(ks, trigger, who, day, **params)
            if state == story.until:
                break
        assert ks.state == story.until, (story.title, ks.state)

    def consultation(self, ks: KnowledgeSupport, story: Story, day: int) -> None:
        """Open a consultation on ``day`` and let the demo regions answer."""
        chair, _ = OWNERS[story.owner]
        params: dict[str, Any] = {"channel": story.channel}
        if story.until == "consultation":
            if story.deadline_in is not None:
                params["deadline"] = (self.today + dt.timedelta(story.deadline_in)).isoformat()
        else:
            closes = previous_working_day(self.day(day) + dt.timedelta(CONSULTATION_DAYS))
            params["deadline"] = closes.isoformat()
        self.fire(ks, "open_consultation", chair, day, **params)
        assert ks.consultation_deadline is not None
        last = max(1, self.days_ago(ks.consultation_deadline) + 1)
        pattern = RESPONSE_PATTERNS[story.responses % len(RESPONSE_PATTERNS)]
        for offset, (region, answer) in enumerate(pattern.items()):
            if answer is None:
                continue
            staff = REGION_STAFF[region]
            response = self.child("consultation_response", ks, region)
            started = max(last + 1, day - 4 - 3 * offset)
            if started >= day:
                started = day - 1
            if started < 1:
                continue
            lead = staff["process_lead"] if offset % 2 else staff["coordinator"]
            if answer != "decline":
                self.fire(response, "start_response", lead, started)
            sent = max(last, started - 12)
            if answer == "drafting" or sent < 1 or sent >= started:
                continue
            name = REGION_NAMES[region]
            if answer == "decline":
                self.fire(
                    response,
                    "decline",
                    staff["coordinator"],
                    sent,
                    comment=RESPONSE_TEXT["decline"].format(region=name),
                )
            else:
                who = staff["chair"] if offset % 2 else staff["coordinator"]
                self.fire(
                    response,
                    "submit",
                    who,
                    sent,
                    comment=RESPONSE_TEXT[answer].format(region=name),
                    position=answer,
                )

    def decision_ref(self, prefix: str, days_ago: int) -> str:
        return f"{prefix} {self.day(days_ago).year}:{self.number()}"

    def publish_ref(self, ks: KnowledgeSupport, days_ago: int) -> str:
        if ks.kind == "vardforlopp":
            return self.decision_ref("SKS", days_ago)
        return f"NPO-beslut {self.day(days_ago).isoformat()} §{self.number() % 17 + 2}"

    # --- regional --------------------------------------------------------------------------
    def regional(self, ks: KnowledgeSupport, spec: Regional) -> None:
        staff = REGION_STAFF[spec.region]
        ra = self.child("regional_adaptation", ks, spec.region)
        day = spec.start
        # Who does the regional group's work when the adaptation is assigned to it.
        group_lead = "rpo.vgr" if spec.assign == "vgr-rpo-psykisk-halsa" else None
        if spec.assign:
            self.fire(ra, "assign", staff["coordinator"], day, unit=spec.assign)
            day -= 2
        if spec.until == "received":
            return
        self.fire(ra, "start_assessment", group_lead or staff["coordinator"], day)
        if spec.until == "assessing":
            return
        if spec.until == "on_hold":
            self.fire(
                ra,
                "put_on_hold",
                staff["process_lead"],
                day - spec.gap,
                comment="Vilande i väntan på regionens budgetbeslut för nästa år.",
            )
            return
        day -= spec.gap
        self.fire(
            ra,
            "submit_for_decision",
            group_lead or staff["process_lead"],
            day,
            comment=self.text(GAP_ANALYSES),
        )
        if spec.until == "awaiting_decision":
            return
        day -= spec.gap
        if spec.until == "not_adopted":
            self.fire(
                ra,
                "reject",
                staff["chair"],
                day,
                comment="Införs inte nu: befintligt regionalt vårdprogram täcker behovet "
                "och ses över nästa år.",
            )
            return
        prefix = DECISION_PREFIX[spec.region]
        ref = f"{prefix} {self.day(day).year}-{self.number():05d}"
        self.fire(ra, "adopt", staff["chair"], day, decision_ref=ref)
        if spec.until == "adopted":
            return
        day -= spec.gap
        self.fire(ra, "start_adaptation", staff["process_lead"], day)
        if spec.until == "adapting":
            return
        day -= spec.gap
        target = (self.day(day) + dt.timedelta(days=150)).isoformat()
        self.fire(ra, "hand_off", staff["coordinator"], day, units=sorted(spec.locals), due=target)
        last = day
        for index, (unit, state) in enumerate(spec.locals.items()):
            li = self.child("local_implementation", ks, unit, parent=ra)
            last = min(last, self.local(li, spec.region, unit, state, day, spec.gap, index))
        if spec.until == "implementing":
            return
        day = min(day, last) - spec.gap // 2
        self.fire(ra, "start_follow_up", staff["process_lead"], day)
        if spec.until == "following_up":
            return
        self.fire(ra, "close", staff["coordinator"], day - spec.gap)
        assert spec.until == "closed", spec

    def local(
        self, li: Case, region: str, unit: str, until: str, day: int, gap: int, index: int
    ) -> int:
        """Drive one local implementation from ``day`` to ``until``; return the last day."""
        region_lead = REGION_STAFF[region]["process_lead"]
        step = max(3, gap // 2)
        day -= 3 + index
        if until == "assigned":
            return day
        if until == "waived":
            self.fire(
                li,
                "waive",
                region_lead,
                day,
                comment="Ej aktuellt: verksamheten har inte denna patientgrupp.",
            )
            return day
        if unit in LOCAL_STAFF:
            lead, member = LOCAL_STAFF[unit]
            self.fire(li, "acknowledge", member or lead, day)
        else:
            # No local lead in the demo: the admin acknowledges on the unit's behalf.
            assert until == "acknowledged", (unit, until)
            self.fire(
                li,
                "acknowledge",
                "admin",
                day,
                override=True,
                comment="Kvitteras på uppdrag av verksamhetschefen (frånvarande).",
            )
            return day
        if until == "acknowledged":
            return day
        day -= step
        self.fire(li, "start_implementation", lead, day)
        if until == "implementing":
            return day
        if until == "deviation":
            day -= step
            self.fire(
                li,
                "report_deviation",
                lead,
                day,
                comment="Införandet har stannat: två av tre specialistsjuksköterskor "
                "har slutat och rekryteringen drar ut på tiden.",
            )
            return day
        day -= step
        self.fire(li, "report_implemented", lead, day)
        self.measure(li, lead, day)
        if until == "implemented":
            return day
        day -= step
        self.fire(li, "start_follow_up", lead, day)
        self.measure(li, lead, day)
        if until == "following_up":
            return day
        day -= step
        self.fire(li, "close", region_lead, day)
        assert until == "closed", until
        return day

    def measure(self, li: Case, who: str, days_ago: int) -> None:
        """Report the last quarter's value of each of the knowledge support's indicators."""
        assert isinstance(li, LocalImplementation)
        found = self.session.scalars(
            select(Indicator)
            .where(Indicator.knowledge_support_id == li.knowledge_support_id)
            .order_by(Indicator.id)
        ).all()
        moment = self.at(days_ago, li)
        quarter_ago = local_date(moment) - dt.timedelta(days=91)
        period = f"{quarter_ago.year}-Q{(quarter_ago.month - 1) // 3 + 1}"
        for indicator in found:
            # Somewhere between 70 % and 115 % of the way to the target, varying by report.
            share = 0.70 + 0.05 * (next(self._texts) % 10)
            target = indicator.target_value or 1.0
            value = target * share if indicator.direction == "higher" else target / share
            if indicator.unit_of_measure == "procent":
                value = min(value, 100.0)
            indicators.report_measurement(
                self.session,
                self.authority(who),
                li,
                settings=self.settings,
                indicator_id=indicator.id,
                period=period,
                value=round(value, 1),
                now=moment,
            )

    # --- the stories that go beyond the straight path --------------------------------------
    def beyond_the_path(self, made: dict[str, KnowledgeSupport]) -> None:
        """Revision, republication, withdrawal, cancellation and a send-back."""
        # A revision of a published knowledge support: version 2 in drafting, 1 still in force.
        adhd = made["Adhd hos vuxna"]
        self.fire(adhd, "start_revision", OWNERS[PSYK][1], 40)
        self.fire(
            made["Autism hos barn och vuxna"],
            "cancel",
            OWNERS[PSYK][0],
            90,
            comment="Uppdraget slås ihop med NPO Barn och ungdomars hälsas arbete "
            "om neuropsykiatriska tillstånd.",
        )
        # Version 2 published: every region's adaptation is sent back to received (reassess).
        flimmer = made["Förmaksflimmer – nyupptäckt"]
        chair, lead = OWNERS[HJARTA]
        self.fire(flimmer, "start_revision", lead, 230)
        self.fire(flimmer, "approve_for_review", chair, 160)
        self.advance(flimmer, Story(flimmer.title, PSVF, HJARTA, "published", 0, responses=3), 160)
        vgr = self.child("regional_adaptation", flimmer, "vgr")
        self.fire(vgr, "start_assessment", REGION_STAFF["vgr"]["coordinator"], 8)
        # Withdrawal cancels every open regional and local case.
        self.fire(
            made["Hjärtrehabilitering"],
            "withdraw",
            chair,
            25,
            comment="Avpubliceras: innehållet ingår nu i Kranskärlssjukdom – sekundärprevention.",
        )
        # Cancelled during its consultation: the open responses are cancelled too.
        self.fire(
            made["Binjurebarksvikt"],
            "cancel",
            OWNERS[ENDOKRIN][0],
            30,
            comment="Avbryts: Socialstyrelsen tar fram nationella riktlinjer för samma område.",
        )
        self.fire(
            made["Parkinsons sjukdom"],
            "request_changes",
            OWNERS[NERV][0],
            80,
            comment="Remissvaren om rehabilitering måste arbetas in innan fastställande.",
        )
