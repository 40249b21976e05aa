"""Follow-up at national scale (lifecycle.md §6.4): the roll-up of an indicator to the regions,
and the CSV import, each against a hand-written twin.

The data set (``build``): the benchmark organisation (21 regions) with ``units`` local units
under each region, ``indicators`` indicators of one knowledge support (every third a ratio,
the rest means) and a measurement for every unit, indicator and tertial of ``periods`` tertials.
At full size that is 21 × 300 × 20 × 12 = 1,512,000 measurements. The rows go in with the
driver's bulk path (executemany on SQLite, COPY on PostgreSQL): this is a fixture, not timed.

* ``rollup``: ``attainment.level_results`` for one indicator, the latest tertial, level
  ``region``: the value of each of the 21 regions by the indicator's aggregation over the
  current measurements of every unit below it, with the previous tertial's value for the trend
  and the status against the national target. What the API's
  ``/indicators/{id}/results?level=region`` and the Uppföljning table of one indicator ask. The
  twin is one hand-written SQL statement on the driver's own connection giving the same rows.
  Compared at full size and at a tenth of it: the same organisation and tertials with 2
  indicators, so the ratio shows whether the query's cost grows with data it does not read.
* ``import``: ``csv_import.import_csv`` of ``lines`` CSV lines (a region's coordinator reporting
  for the region's units) in one transaction, against a raw ``executemany`` of the same rows
  into ``measurements``.

``python -m benchmarks.followup_bench '{json}'`` (the suite calls it).
"""

from __future__ import annotations

import datetime as dt
import io
import time
from typing import Any

from benchmarks.common import kflow_runtime, summarize_ms, worker_main

KS_TITLE = "Benchmark: uppföljning"


def tertials(count: int, last_year: int = 2026) -> list[str]:
    """``count`` tertial codes, oldest first, ending with the first tertial of ``last_year``."""
    codes: list[str] = []
    year, t = last_year, 1
    for _ in range(count):
        codes.insert(0, f"{year}-T{t}")
        year, t = (year, t - 1) if t > 1 else (year - 1, 3)
    return codes


def raw(url: str) -> Any:
    """A DBAPI connection to the data set (sqlite3 or psycopg)."""
    if url.startswith("sqlite"):
        import sqlite3

        return sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


def mark(url: str) -> str:
    return "?" if url.startswith("sqlite") else "%s"


# --- the data set -------------------------------------------------------------------------------


def build(args: dict[str, Any]) -> dict[str, Any]:
    url = args["url"]
    sqlite = url.startswith("sqlite")
    q = mark(url)
    conn = raw(url)
    cur = conn.cursor()
    if sqlite:
        cur.execute("BEGIN")
    now = dt.datetime(2026, 5, 10, 8, 0)
    cur.execute("SELECT id, code FROM units WHERE kind = 'region' ORDER BY code")
    regions = cur.fetchall()
    cur.execute("SELECT id FROM units WHERE code = 'npo-hjart-och-karlsjukdomar'")
    npo = cur.fetchone()[0]
    # ``knowledge_supports`` (default 1) knowledge supports share the indicators evenly, so that
    # a larger data set holds more knowledge supports with as many indicators each.
    supports = [
        _knowledge_support(cur, q, KS_TITLE if k == 0 else f"{KS_TITLE} {k + 1}", npo, now)
        for k in range(args.get("knowledge_supports", 1))
    ]
    indicators = []
    for i in range(args["indicators"]):
        ratio = i % 3 == 0
        ks = supports[i * len(supports) // args["indicators"]]
        cur.execute(
            f"INSERT INTO indicators (knowledge_support_id, code, name, unit_of_measure, "
            f"target_value, direction, source, aggregation) VALUES ({q}, {q}, {q}, {q}, {q}, "
            f"'higher_is_better', 'kvalitetsregister', {q})",
            (ks, f"BENCH-{i:02d}", f"Indikator {i}", "procent" if ratio else "dagar",
             86.0 if ratio else 33.0, "ratio" if ratio else "mean"),
        )  # fmt: skip
        cur.execute("SELECT id FROM indicators WHERE code = " + q, (f"BENCH-{i:02d}",))
        indicators.append((cur.fetchone()[0], ratio))
    units = _units(cur, q, regions, args["units"], now)
    periods = tertials(args["periods"])
    rows = (
        (ind, unit, period, *_value(ind, unit, n, ratio), now)
        for ind, ratio in indicators
        for unit in units
        for n, period in enumerate(periods)
    )
    columns = "indicator_id, unit_id, period, value, numerator, denominator, reported_at"
    count = len(indicators) * len(units) * len(periods)
    if sqlite:
        cur.executemany(f"INSERT INTO measurements ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        cur.execute("COMMIT")
        cur.execute("ANALYZE")
    else:
        with cur.copy(f"COPY measurements ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE")
    conn.close()
    return {
        "measurements": count,
        "units": len(units),
        "indicators": [ind for ind, _ in indicators],
        "periods": periods,
        "knowledge_support": supports[0],
        "knowledge_supports": supports,
        "regions": {code: rid for rid, code in regions},
    }


def _knowledge_support(cur: Any, q: str, title: str, npo: int, now: dt.datetime) -> int:
    cur.execute(
        f"INSERT INTO cases (type, state, title, owner_id, lock_version, created_at, "
        f"updated_at, kind, version) VALUES ('knowledge_support', 'published', {q}, {q}, 1, "
        f"{q}, {q}, 'vardforlopp', 1)",
        (title, npo, now, now),
    )
    cur.execute("SELECT id FROM cases WHERE title = " + q, (title,))
    return int(cur.fetchone()[0])


def _units(cur: Any, q: str, regions: list[Any], per_region: int, now: dt.datetime) -> list[int]:
    """``per_region`` local units under each region, with their closure rows (the region's own
    ancestors, the region and the unit itself)."""
    ids = []
    for region_id, code in regions:
        cur.execute(
            "SELECT ancestor_id, depth FROM unit_closure WHERE descendant_id = " + q, (region_id,)
        )
        above = cur.fetchall()
        for i in range(per_region):
            cur.execute(
                f"INSERT INTO units (code, name, kind, parent_id, created_at) "
                f"VALUES ({q}, {q}, 'local_unit', {q}, {q})",
                (f"{code}-bench-{i:03d}", f"Enhet {i}, {code}", region_id, now),
            )
            cur.execute("SELECT id FROM units WHERE code = " + q, (f"{code}-bench-{i:03d}",))
            unit = cur.fetchone()[0]
            closure = [(unit, unit, 0)] + [(a, unit, d + 1) for a, d in above]
            cur.executemany(
                f"INSERT INTO unit_closure (ancestor_id, descendant_id, depth) "
                f"VALUES ({q}, {q}, {q})",
                closure,
            )
            ids.append(unit)
    return ids


def _value(ind: int, unit: int, n: int, ratio: bool) -> tuple[float, float | None, float | None]:
    """A deterministic value that drifts upward over the tertials."""
    spread = (ind * 7919 + unit * 104729) % 97
    if ratio:
        patients = 40.0 + spread
        treated = float(min(patients, round(patients * (0.6 + 0.003 * spread + 0.01 * n))))
        return round(treated * 100 / patients, 4), treated, patients
    return 20.0 + spread / 4 + n * 0.1, None, None


# --- the roll-up --------------------------------------------------------------------------------

TWIN = """
WITH vals AS (
  SELECT uc.ancestor_id AS unit_id, m.period AS period,
         CASE WHEN i.aggregation = 'mean' THEN avg(m.value)
              WHEN i.aggregation = 'sum' THEN sum(m.value)
              ELSE sum(m.numerator) * (CASE WHEN lower(i.unit_of_measure) IN ({percent})
                                       THEN 100.0 ELSE 1.0 END) / nullif(sum(m.denominator), 0)
         END AS value,
         count(*) AS reports
  FROM measurements m
  JOIN indicators i ON i.id = m.indicator_id
  JOIN unit_closure uc ON uc.descendant_id = m.unit_id
  JOIN units u ON u.id = uc.ancestor_id AND u.kind = 'region'
  WHERE m.indicator_id = {q} AND m.period IN ({q}, {q}) AND m.superseded_at IS NULL
  GROUP BY uc.ancestor_id, m.period, i.aggregation, i.unit_of_measure
)
SELECT c.unit_id, c.value, e.value, c.reports
FROM vals c LEFT JOIN vals e ON e.unit_id = c.unit_id AND e.period = {q}
WHERE c.period = {q}
ORDER BY c.unit_id
"""


def rollup(args: dict[str, Any]) -> dict[str, Any]:
    from kflow.followup import attainment
    from kflow.followup.values import PERCENT_UNITS

    url, warmup, runs = args["url"], args["warmup"], args["runs"]
    runtime = kflow_runtime(url, "relaxed", _tmp(args))
    indicator = args["indicator"]
    now, before = args["period"], args["previous"]

    def kflow_side() -> list[tuple[Any, ...]]:
        with runtime.transaction(write=False) as session:
            results = attainment.level_results(session, indicator, now, "region")
            return [(r.unit_id, r.value, r.previous, r.reports, r.status) for r in results]

    conn = raw(url)
    percent = ", ".join(f"'{u}'" for u in sorted(PERCENT_UNITS))
    if not url.startswith("sqlite"):
        percent = percent.replace("%", "%%")  # psycopg's placeholders
    sql = TWIN.format(q=mark(url), percent=percent)
    params = (indicator, now, before, before, now)

    def twin() -> list[tuple[Any, ...]]:
        cur = conn.cursor()
        cur.execute(sql, params)
        rows: list[tuple[Any, ...]] = cur.fetchall()
        if not url.startswith("sqlite"):
            conn.rollback()
        return rows

    ours, theirs = kflow_side(), twin()
    same = len(ours) == len(theirs) and all(
        a[0] == b[0] and _close(a[1], b[1]) and _close(a[2], b[2]) and a[3] == b[3]
        for a, b in zip(ours, theirs, strict=True)
    )
    if not same:
        raise AssertionError(f"the twin answers differently: {ours[:3]} != {theirs[:3]}")
    timings: dict[str, Any] = {}
    for name, call in (("kflow", kflow_side), ("sql", twin)):
        for _ in range(warmup):
            call()
        samples = []
        for _ in range(runs):
            began = time.perf_counter()
            call()
            samples.append(time.perf_counter() - began)
        timings[name] = summarize_ms(samples)
    conn.close()
    runtime.engine.dispose()
    return {
        "kflow_p95_ms": timings["kflow"]["p95_ms"],
        "sql_p95_ms": timings["sql"]["p95_ms"],
        "kflow": timings["kflow"],
        "sql": timings["sql"],
        "answer": {"regions": len(ours), "statuses": sorted({r[4] for r in ours})},
    }


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 1e-6 * max(1.0, abs(float(a)))


def _tmp(args: dict[str, Any]) -> Any:
    from pathlib import Path

    return Path(args["tmp"])


# --- the CSV import -----------------------------------------------------------------------------


def import_lines(args: dict[str, Any]) -> dict[str, Any]:
    """Import ``lines`` CSV lines as VGR's coordinator, then (on a copy of the same data set
    made by the suite) insert the same rows with a raw executemany."""
    url, lines = args["url"], args["lines"]
    conn = raw(url)
    cur = conn.cursor()
    q = mark(url)
    cur.execute(
        f"SELECT u.code, u.id FROM units u WHERE u.parent_id = {q} AND u.code LIKE {q} "
        "ORDER BY u.code",
        (args["region"], "%-bench-%"),
    )
    units = cur.fetchall()
    cur.execute(
        f"SELECT code, id, aggregation = 'ratio' FROM indicators WHERE code LIKE {q} ORDER BY code",
        ("BENCH-%",),
    )
    indicators = cur.fetchall()
    if not url.startswith("sqlite"):
        conn.rollback()
    months = [f"{y}-{m:02d}" for y in range(2018, 2026) for m in range(1, 13)]
    rows: list[tuple[Any, ...]] = []
    for month in months:
        for code, ind, ratio in indicators:
            for unit_code, unit in units:
                if len(rows) == lines:
                    break
                rows.append((code, unit_code, month, ind, unit, bool(ratio)))
    assert len(rows) == lines, f"{len(rows)} of {lines} lines: too few units or indicators"
    if args["side"] == "raw":
        now = dt.datetime(2026, 5, 10, 8, 0)
        values = [
            (ind, unit, month, 50.0, *((25.0, 50.0) if ratio else (None, None)), now)
            for _c, _u, month, ind, unit, ratio in rows
        ]
        began = time.perf_counter()
        if url.startswith("sqlite"):
            cur.execute("BEGIN")
        cur.executemany(
            "INSERT INTO measurements (indicator_id, unit_id, period, value, numerator, "
            f"denominator, reported_at) VALUES ({q}, {q}, {q}, {q}, {q}, {q}, {q})",
            values,
        )
        cur.execute("COMMIT") if url.startswith("sqlite") else conn.commit()
        elapsed = time.perf_counter() - began
        conn.close()
        return {"seconds": round(elapsed, 3), "lines": lines}
    conn.close()
    text = io.StringIO()
    text.write("indikator;enhet;period;värde;täljare;nämnare\n")
    for code, unit_code, month, _ind, _unit, ratio in rows:
        text.write(
            f"{code};{unit_code};{month};50;25;50\n"
            if ratio
            else f"{code};{unit_code};{month};50;;\n"
        )
    data = text.getvalue().encode()
    from kflow.engine.authority import Actor, Authority
    from kflow.followup import csv_import
    from kflow.org.models import User

    runtime = kflow_runtime(url, "relaxed", _tmp(args))
    began = time.perf_counter()
    with runtime.transaction() as session:
        user = session.get(User, args["coordinator"])
        written = csv_import.import_csv(
            session, Authority(session, Actor(user)), data, settings=runtime.settings
        )
    elapsed = time.perf_counter() - began
    runtime.engine.dispose()
    if written != lines:
        raise AssertionError(f"{written} of {lines} lines written")
    return {"seconds": round(elapsed, 3), "lines": lines, "written": written}


TASKS = {"build": build, "rollup": rollup, "import": import_lines}


if __name__ == "__main__":
    worker_main(lambda args: TASKS[args["task"]](args))
