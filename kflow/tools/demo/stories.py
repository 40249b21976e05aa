"""The demo's stories, as data: 30 knowledge supports and where each region and local unit
stands with them (kflow.tools.demo.story says what each field means)."""

from __future__ import annotations

from kflow.tools.demo.story import Regional, Story

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
    # Published, then a revision started (see kflow.tools.demo.detours).
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
    # Version 2 published since (see kflow.tools.demo.detours).
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
    # Withdrawn since (see kflow.tools.demo.detours).
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
    # Sent back from approval since (see kflow.tools.demo.detours).
    Story("Parkinsons sjukdom", PSVF, NERV, "awaiting_approval", 300, responses=2),
    Story("Multipel skleros", KKS, NERV, "review", 100),
    Story("Demenssjukdom", PSVF, NERV, "commissioned", 25),
    # --- NSG Patientsäkerhet
    Story("Vårdrelaterade infektioner – nationell lägesbild", RAPPORT, PATSAK, "published", 280,
          regional=(R("vgr", "assessing", 30, 10),)),
    Story("Trycksår – förebyggande arbete", RAPPORT, PATSAK, "drafting", 50),
]
# fmt: on
