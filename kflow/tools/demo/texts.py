"""What the demo's people write and measure: consultation answers, gap analyses and follow-up
indicators."""

from __future__ import annotations

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
