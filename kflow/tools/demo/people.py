"""The demo's people: a user for every role, all under @demo.kflow.se with one password, and
who acts for each owner, region and local unit in the stories."""

from __future__ import annotations

DOMAIN = "demo.kflow.se"
DEFAULT_PASSWORD = "kflow-demo"  # noqa: S105 (the documented demo password)

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

# Someone who has left: (log-in, name, name after a change, role held, unit). Her account is
# deactivated, so she is not among the log-ins (kflow.tools.demo.accounts).
FORMER = ("tidigare.majorna", "Gunilla Ström", "Gunilla Ström Berg", "member", "vgr-vc-majorna")

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
