"""The demo's organisation: regional groups and local units in four regions, beside the
reference units (config/), and how each region names its decisions."""

from __future__ import annotations

from kflow.org.roles import UnitKind

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

DECISION_PREFIX = {"vgr": "RS", "skane": "Dnr", "stockholm": "HSN", "ostergotland": "RS"}
REGION_NAMES = {
    "vgr": "Västra Götalandsregionen",
    "skane": "Region Skåne",
    "stockholm": "Region Stockholm",
    "ostergotland": "Region Östergötland",
}
