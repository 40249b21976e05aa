"""CSV import of measurements (lifecycle.md §6.2): all lines or none, every refused line named."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from kflow.followup.csv_import import ImportRefused, import_csv
from kflow.followup.indicators import define_indicator
from kflow.followup.models import Measurement

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
HEADER = "indikator;enhet;period;värde;täljare;nämnare;kommentar\n"


@pytest.fixture
def world_with_indicators(world):
    ks = world.ks_in("published")
    for code, aggregation in (("VP-1", "mean"), ("UP-1", "ratio")):
        define_indicator(
            world.session,
            world.authority("npo-lead"),
            ks,
            name=code,
            unit_of_measure="procent",
            code=code,
            aggregation=aggregation,
        )
    world.implementation_in("implemented", world.adaptation_in("implementing", ks))
    return world


def run(world, text, who="vgr-coordinator", raw=None):
    data = raw if raw is not None else text.encode("utf-8")
    return import_csv(world.session, world.authority(who), data, settings=world.settings, now=NOW)


def count(world):
    return world.session.scalar(select(func.count()).select_from(Measurement))


def test_imports_every_line_semicolon_with_bom(world_with_indicators):
    world = world_with_indicators
    text = HEADER + "VP-1;vgr-psyk-1;2026-Q3;71,5;;;Från journalen\nUP-1;vgr-psyk-2;2026-T2;;3;4;\n"
    assert run(world, "", raw=b"\xef\xbb\xbf" + text.encode()) == 2
    rows = world.session.scalars(select(Measurement).order_by(Measurement.id)).all()
    assert [(r.period, r.value, r.comment) for r in rows] == [
        ("2026-Q3", 71.5, "Från journalen"),
        ("2026-T2", 75.0, None),
    ]


def test_imports_comma_separated_and_local_lead_for_own_unit(world_with_indicators):
    world = world_with_indicators
    text = 'indikator,enhet,period,värde\nVP-1,vgr-psyk-1,2026,"80,5"\n'
    assert run(world, text, who="local-lead") == 1


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("indikator;enhet;värde\nVP-1;vgr-psyk-1;5\n", 1, "Rubrikraden"),
        ("", 1, "tom"),
        (HEADER, 1, "inga rader"),
        (HEADER + "XX-9;vgr-psyk-1;2026;5;;;\n", 2, "ingen indikator med koden 'XX-9'"),
        (HEADER + "VP-1;ingen-enhet;2026;5;;;\n", 2, "ingen enhet med koden 'ingen-enhet'"),
        (HEADER + "VP-1;vgr-psyk-1;2027-Q1;5;;;\n", 2, "har inte börjat"),
        (HEADER + "VP-1;vgr-psyk-1;2026;100,1;;;\n", 2, "mellan 0 och 100"),
        (HEADER + "UP-1;vgr-psyk-1;2026;;5;4;\n", 2, "Täljare (5) får inte vara större än nämnare"),
        (HEADER + "VP-1;vgr-psyk-1;2026;5;;\n", 2, "fält"),
        (HEADER + "VP-1;skane-psyk-1;2026;5;;;\n", 2, "inte rapportera"),
    ],
)
def test_refused_files_write_nothing(world_with_indicators, body, line, reason):
    world = world_with_indicators
    with pytest.raises(ImportRefused) as refused:
        run(world, body)
    assert refused.value.code == "validation_error"
    assert any(n == line and reason in text for n, text in refused.value.lines), refused.value.lines
    assert count(world) == 0


def test_broken_encoding_is_named_by_line(world_with_indicators):
    world = world_with_indicators
    data = (HEADER + "VP-1;vgr-psyk-1;2026;5;;;ok\n").encode() + b"VP-1;vgr-psyk-2;2026;5;;;\xff\n"
    with pytest.raises(ImportRefused) as refused:
        run(world, "", raw=data)
    assert refused.value.lines[0][0] == 3 and "UTF-8" in refused.value.lines[0][1]
    assert count(world) == 0


def test_duplicates_and_every_bad_line_are_named_together(world_with_indicators):
    world = world_with_indicators
    text = (
        HEADER
        + "VP-1;vgr-psyk-1;2026-Q3;70;;;\n"
        + "VP-1;vgr-psyk-2;2026-Q3;70;;;\n"
        + "VP-1;vgr-psyk-1;2026-Q3;71;;;\n"
        + "VP-1;vgr-psyk-1;2026-13;71;;;\n"
    )
    with pytest.raises(ImportRefused) as refused:
        run(world, text)
    lines = dict(refused.value.lines)
    assert sorted(lines) == [4, 5]
    assert "samma indikator, enhet och period som rad 2" in lines[4].lower()
    assert "Period måste vara" in lines[5]
    assert count(world) == 0
    assert refused.value.to_dict()["error"]["lines"][0] == {"line": 4, "reason": lines[4]}


def test_imported_rows_hold_what_a_single_report_would(world_with_indicators):
    """Every column of the rows an import writes: values, ratio parts, comment, the local
    implementation it belongs to, who and when, and a correction's link to the row it
    supersedes (which keeps its value and gets superseded_at)."""
    world = world_with_indicators
    run(world, HEADER + "VP-1;vgr-psyk-1;2026-Q3;70;;;\n")
    (old,) = world.session.scalars(select(Measurement)).all()
    body = (
        "VP-1;vgr-psyk-1;2026-Q3;71,25;;;Rättat: fel i registret\n"
        "UP-1;vgr-psyk-2;2026-T2;;3;7;\n"
        'VP-1;vgr-psyk-2;2026;0,5;;;"Citat ""och"" semikolon; åäö"\n'
    )
    assert run(world, HEADER + body) == 3
    world.session.expire_all()
    rows = world.session.scalars(select(Measurement).order_by(Measurement.id)).all()
    coordinator = world.users["vgr-coordinator"].id
    got = [
        (r.unit_id, r.period, r.value, r.numerator, r.denominator, r.comment, r.supersedes_id,
         r.reported_by_id, r.reported_at, r.superseded_at)
        for r in rows
    ]  # fmt: skip
    psyk1, psyk2 = world.units["vgr-psyk-1"].id, world.units["vgr-psyk-2"].id
    assert got == [
        (psyk1, "2026-Q3", 70.0, None, None, None, None, coordinator, NOW, NOW),
        (psyk1, "2026-Q3", 71.25, None, None, "Rättat: fel i registret", old.id, coordinator,
         NOW, None),
        (psyk2, "2026-T2", pytest.approx(300 / 7), 3.0, 7.0, None, None, coordinator, NOW, None),
        (psyk2, "2026", 0.5, None, None, 'Citat "och" semikolon; åäö', None, coordinator, NOW,
         None),
    ]  # fmt: skip
    # The report on the implemented unit is linked to its local implementation's timeline.
    assert rows[1].case_id is not None and rows[1].case_id == rows[0].case_id
