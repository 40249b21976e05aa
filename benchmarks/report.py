"""The targets, judged from the numbers, and docs/benchmarks.md, written from results.json."""

from __future__ import annotations

import math
from typing import Any

PEERS = ("transitions_sqlalchemy", "django_fsm", "spiffworkflow")
CONTENDERS = ("raw_sqlite", "kflow", *PEERS)
QUERY_NAMES = ("overview", "inbox", "overdue", "history")
# Shown in the table beside the targets' queries (see benchmarks/queries_bench.py).
TABLE_NAMES = ("overview", "overview_same_page", "inbox", "overdue", "history", "history_pages")
SIZES = ("3k", "31k", "312k")


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _target(
    name: str,
    measured: float | None,
    limit: float | None,
    op: str,
    detail: str,
    **key: str,
) -> dict[str, Any]:
    """``measured op limit`` (op: ">=" or "<="); missing numbers make the target N/A.

    ``key`` says which benchmark the target judges (the suite profiles that one if it fails).
    """
    if measured is None or limit is None or math.isnan(measured) or math.isnan(limit):
        status = "N/A"
    elif op == ">=":
        status = "PASS" if measured >= limit else "FAIL"
    else:
        status = "PASS" if measured <= limit else "FAIL"
    return {
        "target": name,
        "measured": None if measured is None else round(measured, 4),
        "limit": None if limit is None else round(limit, 4),
        "op": op,
        "detail": detail,
        "status": status,
        "key": key,
    }


def _ratio(a: Any, b: Any) -> float | None:
    if a is None or b in (None, 0):
        return None
    return float(a) / float(b)


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    t = results.get("transitions", {})
    out = []
    for mode, factor in (("relaxed", 0.15), ("durable", 0.5)):
        kflow, raw = _get(t, mode, "kflow"), _get(t, mode, "raw_sqlite")
        out.append(
            _target(
                f"{mode}: kflow ≥ {factor} × raw_sqlite",
                _ratio(kflow, raw),
                factor,
                ">=",
                f"kflow {kflow} ops/s, raw_sqlite {raw} ops/s (ratio shown)",
                kind="transitions",
                mode=mode,
            )
        )
    kflow, raw = _get(t, "postgresql", "kflow"), _get(t, "postgresql", "raw_postgresql")
    out.append(
        _target(
            "PostgreSQL: kflow ≥ 0.6 × raw_postgresql",
            _ratio(kflow, raw),
            0.6,
            ">=",
            f"kflow {kflow} ops/s, raw_postgresql {raw} ops/s (ratio shown)",
            kind="transitions",
            mode="postgresql",
        )
    )
    for mode in ("durable", "relaxed"):
        for peer in PEERS:
            kflow, other = _get(t, mode, "kflow"), _get(t, mode, peer)
            out.append(
                _target(
                    f"{mode}: kflow ≥ 0.95 × {peer}",
                    _ratio(kflow, other),
                    0.95,
                    ">=",
                    f"kflow {kflow} ops/s, {peer} {other} ops/s (ratio shown)",
                    kind="transitions",
                    mode=mode,
                )
            )
    kflow_s, raw_s = _get(results, "fanout", "kflow_s"), _get(results, "fanout", "raw_s")
    out.append(
        _target(
            "fan-out: kflow ≤ 2 × raw",
            _ratio(kflow_s, raw_s),
            2.0,
            "<=",
            f"kflow {kflow_s} s, raw {raw_s} s (ratio shown)",
            kind="fanout",
        )
    )
    q = results.get("queries", {})
    for name in QUERY_NAMES:
        k, s = _get(q, "312k", name, "kflow_p95_ms"), _get(q, "312k", name, "sql_p95_ms")
        out.append(
            _target(
                f"312k: {name} p95 ≤ 3 × its SQL twin",
                _ratio(k, s),
                3.0,
                "<=",
                f"kflow p95 {k} ms, SQL p95 {s} ms (ratio shown)",
                kind="query",
                query=name,
            )
        )
    # The overview's page at 3k holds every knowledge support the set has (9), so the sizes are
    # compared on a page of that many, which every set fills.
    for name, measured in (
        ("inbox", "inbox"),
        ("overdue", "overdue"),
        ("overview", "overview_same_page"),
    ):
        big = _get(q, "312k", measured, "kflow_p95_ms")
        small = _get(q, "3k", measured, "kflow_p95_ms")
        page = _get(q, "3k", measured, "answer", "ids")
        same = f", on a page of {page} knowledge supports at both" if measured != name else ""
        out.append(
            _target(
                f"{name} p95 at 312k ≤ 3 × at 3k{same}",
                _ratio(big, small),
                3.0,
                "<=",
                f"kflow p95 {big} ms at 312k, {small} ms at 3k (ratio shown)",
                kind="query",
                query=name,
            )
        )
    s = results.get("sweep", {})
    # The sweep holds one batch of rungs (reminders.BATCH, 500) at a time: its memory is bounded
    # by the batch, which the 31k set nearly fills (about 500 cases due) and the 3k set does not
    # (15), so the bound is judged between the two sets that fill batches.
    big, small = _get(s, "312k", "peak_mb"), _get(s, "31k", "peak_mb")
    out.append(
        _target(
            "sweep peak memory at 312k ≤ 1.5 × at 31k (both fill a batch of rungs)",
            _ratio(big, small),
            1.5,
            "<=",
            f"{big} MB at 312k, {small} MB at 31k (ratio shown)",
            kind="sweep_memory",
        )
    )
    per_big = _ratio(_get(s, "312k", "seconds"), _get(s, "312k", "cases_due"))
    per_mid = _ratio(_get(s, "31k", "seconds"), _get(s, "31k", "cases_due"))
    out.append(
        _target(
            "sweep time grows with the cases due: time per due case at 312k ≤ 2 × at 31k",
            _ratio(per_big, per_mid),
            2.0,
            "<=",
            f"{_ms(per_big)} ms per due case at 312k, {_ms(per_mid)} ms at 31k (ratio shown)",
            kind="sweep",
            phase="due",
        )
    )
    idle_big, idle_small = _get(s, "312k", "idle_seconds"), _get(s, "3k", "idle_seconds")
    out.append(
        _target(
            "sweep time does not grow with all cases: a sweep with nothing due at 312k ≤ 3 × at 3k",
            _ratio(idle_big, idle_small),
            3.0,
            "<=",
            f"{idle_big} s at 312k, {idle_small} s at 3k (ratio shown)",
            kind="sweep",
            phase="idle",
        )
    )
    out += _followup_targets(results.get("followup", {}))
    return out


def _followup_targets(f: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for backend in ("sqlite", "postgresql"):
        full = _get(f, backend, "rollup", "full") or {}
        tenth = _get(f, backend, "rollup", "tenth") or {}
        k, s = full.get("kflow_p95_ms"), full.get("sql_p95_ms")
        out.append(
            _target(
                f"follow-up roll-up ({backend}): p95 ≤ 3 × its SQL twin",
                _ratio(k, s),
                3.0,
                "<=",
                f"kflow p95 {k} ms, SQL p95 {s} ms at {_fmt(full.get('measurements'))} "
                "measurements (ratio shown)",
                kind="followup",
                backend=backend,
            )
        )
        small = tenth.get("kflow_p95_ms")
        out.append(
            _target(
                f"follow-up roll-up ({backend}): p95 at full size ≤ 3 × at a tenth",
                _ratio(k, small),
                3.0,
                "<=",
                f"kflow p95 {k} ms at {_fmt(full.get('measurements'))} measurements, {small} ms "
                f"at {_fmt(tenth.get('measurements'))} (ratio shown)",
                kind="followup",
                backend=backend,
            )
        )
        imp = _get(f, backend, "import") or {}
        out.append(
            _target(
                f"CSV import ({backend}): {_fmt(imp.get('lines'))} lines ≤ 3 × raw executemany",
                _ratio(imp.get("kflow_s"), imp.get("raw_s")),
                3.0,
                "<=",
                f"kflow {imp.get('kflow_s')} s, raw {imp.get('raw_s')} s (ratio shown)",
                kind="followup_import",
                backend=backend,
            )
        )
    return out


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.3f}"


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(results: dict[str, Any]) -> str:
    suite = results["suite"]
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by the benchmark suite (`make bench`, benchmarks/suite.py) from "
        "benchmarks/results.json: do not edit it by hand, run the suite again.",
        "",
    ]
    if suite["mode"] != "full":
        lines += [
            "> **This is a `bench-quick` smoke run**: tiny counts and small stand-ins for the "
            "data-set sizes. Its numbers say nothing about speed; only `make bench` measures.",
            "",
        ]
    lines += [
        f"Run on {m['date']} ({suite['mode']} suite, {suite['elapsed_s']:.0f} s).",
        "",
        "## The machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m['cpu']} |",
        f"| cores | {m['cores']} |",
        f"| RAM | {m['ram_gib']} GiB |",
        f"| OS | {m['os']} |",
        f"| Python | {m['python']} |",
        f"| SQLite | {m['sqlite']} |",
        f"| PostgreSQL | {m['postgresql'] or 'not available'} |",
    ]
    for name, version in m["libraries"].items():
        lines.append(f"| {name} | {version or 'not installed'} |")
    git = m.get("git") or {}
    lines += [
        f"| kflow commit | {git.get('commit') or 'unknown'}"
        f"{' (with uncommitted changes to kflow)' if git.get('dirty') else ''} |",
        "",
        "## Targets",
        "",
        "Computed from the numbers below each time the suite runs.",
        "",
        "| target | measured | limit | result |",
        "|---|---:|---:|---|",
    ]
    for t in results["targets"]:
        lines.append(
            f"| {t['target']} | {_fmt(t['measured'], 3)} | {t['op']} {_fmt(t['limit'], 2)} | "
            f"**{t['status']}** |"
        )
    passed = sum(t["status"] == "PASS" for t in results["targets"])
    lines += ["", f"{passed} of {len(results['targets'])} targets pass.", ""]
    lines += _transitions(results)
    lines += _fanout(results)
    lines += _queries(results)
    lines += _sweep(results)
    lines += _followup(results)
    from benchmarks.scale import report as scale_report

    lines += scale_report.render(results)
    lines += _notes(results)
    lines += _profiles(results)
    lines += _method(results)
    return "\n".join(lines) + "\n"


def _transitions(results: dict[str, Any]) -> list[str]:
    t = results.get("transitions", {})
    d = results.get("transitions_detail", {})
    cfg = results["suite"]["config"]["transitions"]
    lines = [
        "## Persisted transitions per second",
        "",
        f"Each click is one transaction: a guarded state UPDATE and one history row. "
        f"{cfg['count']:,} timed clicks after {cfg['warmup']:,} warm-up clicks, round robin over "
        f"{d.get('cases', 'n/a')} regional adaptations (put_on_hold / resume, each by its "
        f"region's coordinator); the median of {cfg['repeats']} runs, each in a fresh process "
        "on a fresh copy of the database. Latency: p50 / p95 of one click in the median run.",
        "",
        "| contender | durable (WAL, FULL) | relaxed (WAL, NORMAL) | PostgreSQL |",
        "|---|---:|---:|---:|",
    ]
    for name in (*CONTENDERS, "raw_postgresql"):
        cells = []
        for mode in ("durable", "relaxed", "postgresql"):
            ops = _get(t, mode, name)
            lat = _get(d, mode, name, "latency")
            if ops is None:
                cells.append("")
                continue
            cell = f"{ops:,.0f}/s"
            if lat:
                cell += f" ({lat['p50_ms']:.2f} / {lat['p95_ms']:.2f} ms)"
            cells.append(cell)
        if any(cells):
            lines.append(f"| {name} | {' | '.join(cells)} |")
    lines += ["", "Relative to the floor (raw SQL on the same database):", ""]
    lines += ["| contender | durable | relaxed | PostgreSQL |", "|---|---:|---:|---:|"]
    for name in ("kflow", *PEERS):
        row = []
        for mode, floor in (
            ("durable", "raw_sqlite"),
            ("relaxed", "raw_sqlite"),
            ("postgresql", "raw_postgresql"),
        ):
            ratio = _ratio(_get(t, mode, name), _get(t, mode, floor))
            row.append("" if ratio is None else f"{ratio:.3f} ×")
        lines.append(f"| {name} | {' | '.join(row)} |")
    lines.append("")
    return lines


def _fanout(results: dict[str, Any]) -> list[str]:
    f = results.get("fanout")
    if not f:
        return []
    return [
        "## Fan-out",
        "",
        f"Publish {f['knowledge_supports']} knowledge supports to the 21 regions, then hand each "
        f"adaptation off to its region's local units ({f['implementations']:,} local "
        "implementations), each move its own transaction; SQLite, relaxed mode. Median of "
        f"{f['repeats']} runs. Both leave the same rows (cases, history, outbox mails: checked).",
        "",
        "| | kflow | raw SQL | kflow / raw |",
        "|---|---:|---:|---:|",
        f"| publish (all) | {f['kflow_publish_s']:.3f} s | {f['raw_publish_s']:.3f} s | "
        f"{_fmt(_ratio(f['kflow_publish_s'], f['raw_publish_s']), 2)} × |",
        f"| hand-off (all) | {f['kflow_handoff_s']:.3f} s | {f['raw_handoff_s']:.3f} s | "
        f"{_fmt(_ratio(f['kflow_handoff_s'], f['raw_handoff_s']), 2)} × |",
        f"| **total** | **{f['kflow_s']:.3f} s** | **{f['raw_s']:.3f} s** | "
        f"**{_fmt(_ratio(f['kflow_s'], f['raw_s']), 2)} ×** |",
        "",
    ]


def _queries(results: dict[str, Any]) -> list[str]:
    q = results.get("queries")
    if not q:
        return []
    data = results.get("datasets", {})
    lines = [
        "## Queries",
        "",
        "kflow's code path against a hand-written SQL twin that returns the same answer "
        "(checked); p50 / p95 in milliseconds over "
        f"{results['suite']['config']['queries']['runs']} runs each.",
        "",
        "| size | cases | history rows | query | kflow p50 | kflow p95 | SQL p50 | SQL p95 | "
        "p95 ratio |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size in SIZES:
        for name in TABLE_NAMES:
            r = _get(q, size, name)
            if not r:
                continue
            ds = data.get(size, {})
            lines.append(
                f"| {size} | {_fmt(ds.get('cases'))} | {_fmt(ds.get('events'))} | {name} | "
                f"{r['kflow_p50_ms']:.2f} | {r['kflow_p95_ms']:.2f} | {r['sql_p50_ms']:.2f} | "
                f"{r['sql_p95_ms']:.2f} | "
                f"{_fmt(_ratio(r['kflow_p95_ms'], r['sql_p95_ms']), 2)} × |"
            )
    lines.append("")
    return lines


def _sweep(results: dict[str, Any]) -> list[str]:
    s = results.get("sweep")
    if not s:
        return []
    lines = [
        "## Reminder sweep",
        "",
        "`reminders.sweep` on each data set, with a week of rungs to send; time and peak "
        "memory (tracemalloc) from separate runs on separate copies. 'Nothing due' is a second "
        "sweep right after the first.",
        "",
        "| size | cases | cases due | rungs | seconds | ms per due case | nothing due (s) | "
        "peak MB (tracemalloc) | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in SIZES:
        r = s.get(size)
        if not r:
            continue
        per = _ratio(r["seconds"], r["cases_due"])
        lines.append(
            f"| {size} | {_fmt(results.get('datasets', {}).get(size, {}).get('cases'))} | "
            f"{_fmt(r['cases_due'])} | {_fmt(r['rungs'])} | {r['seconds']:.3f} | {_ms(per)} | "
            f"{r['idle_seconds']:.4f} | {r['peak_mb']:.2f} | {r['peak_rss_mb']:.1f} |"
        )
    lines.append("")
    return lines


def _followup(results: dict[str, Any]) -> list[str]:
    f = results.get("followup")
    if not f:
        return []
    lines = [
        "## Follow-up",
        "",
        "The roll-up of one indicator to the 21 regions for the latest tertial, with the "
        "previous tertial for the trend (`attainment.level_results`, level `region`: what "
        "`/api/v1/indicators/{id}/results?level=region` and the Uppföljning table ask), against "
        "one hand-written SQL statement giving the same rows. *Full*: every region with its "
        "local units, 20 indicators and 12 tertials of measurements; *a tenth*: the same "
        "organisation and tertials with 2 indicators. Then the CSV import of a region's "
        "measurements (`csv_import.import_csv`, every line checked, one transaction) against a "
        "raw `executemany` of the same rows.",
        "",
    ]
    rerun = results.get("followup_rerun")
    if rerun:
        lines += [
            f"These follow-up figures are from a later run of this part alone ({rerun['date']}, "
            f"commit {rerun['commit']}): {rerun['why']}.",
            "",
        ]
    lines += [
        "| database | size | measurements | kflow p50 ms | kflow p95 ms | SQL p50 ms "
        "| SQL p95 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for backend, data in f.items():
        for size, r in data.get("rollup", {}).items():
            lines.append(
                f"| {backend} | {size} | {_fmt(r.get('measurements'))} | "
                f"{_fmt(r['kflow']['p50_ms'], 2)} | {_fmt(r['kflow']['p95_ms'], 2)} | "
                f"{_fmt(r['sql']['p50_ms'], 2)} | {_fmt(r['sql']['p95_ms'], 2)} |"
            )
    lines += ["", "| database | lines | kflow s | raw s | ratio |", "|---|---:|---:|---:|---:|"]
    for backend, data in f.items():
        imp = data.get("import") or {}
        if imp:
            ratio = _ratio(imp["kflow_s"], imp["raw_s"])
            lines.append(
                f"| {backend} | {_fmt(imp['lines'])} | {imp['kflow_s']:.3f} | "
                f"{imp['raw_s']:.3f} | {_fmt(ratio, 2)} |"
            )
    lines.append("")
    return lines


def _profiles(results: dict[str, Any]) -> list[str]:
    profiles = results.get("profiles") or {}
    if not profiles:
        return []
    lines = [
        "## Where kflow's time goes (failing targets)",
        "",
        "cProfile of kflow's side of each failing benchmark (in a run of its own): kflow's "
        "functions by cumulative time, every function by own time, then the SQL statements "
        "that took longest to execute, with SQLite's query plan. The full listings, and a "
        "pyinstrument call tree, are in the files named.",
        "",
    ]
    for name, p in profiles.items():
        lines += [
            f"### {name}",
            "",
            f"For: {', '.join(p['targets'])}. Files: {', '.join(p['files'])}.",
            "",
        ]
        lines += ["```", *p["summary"], "```", ""]
    return lines


# Why a target may not hold, from the profiles (rendered only while it fails).
NOTES = {
    "durable: kflow ≥ 0.5 × raw_sqlite": (
        "In durable mode the floor is the WAL fsync of each COMMIT, which kflow pays like raw "
        "(about 280 µs here for either). The rest of kflow's click is three statements, "
        "compiled once and run on the DBAPI connection with SQLAlchemy's type processors "
        "(kflow.statements), where raw's is two, and the unit of work: a connection from the "
        "pool, BEGIN and COMMIT and a session that the click never joins. kflow also reads "
        "the case and the user's roles on it; both append "
        "about 8 WAL pages per click (measured over 100 clicks). The ratio therefore moves with "
        "the disk: the faster the fsync, the larger kflow's share of the click."
    ),
    "fan-out: kflow ≤ 2 × raw": (
        "The raw twin's commits are cheaper on this machine than when the target was set (its "
        "hand-offs took 0.34 s in November) while kflow's work per hand-off is the same: "
        "kflow's share is its Python work, the spawn's INSERT ... SELECT, the history rows and "
        "the mail (see the profile). Measured alone on a quiet machine on 2026-12-05, the "
        "fan-out took 0.586 s against raw 0.196 s (2.99 ×), and the code before the follow-up "
        "work (6b7bc68) 0.575 s against 0.186 s (3.09 ×): not a regression of that work."
    ),
    "CSV import (sqlite)": (
        "The file is checked and written with a fixed number of statements (rights, "
        "implementations, targets and current values read for the whole file; the rows "
        "inserted from a JSON array the database unpacks), but each line is still parsed and "
        "checked in Python: its period, its values against the unit of measure, the "
        "reporter's right. Against stdlib sqlite3's executemany of rows already parsed, that "
        "per-line work is what remains (see the import's figures above)."
    ),
    "inbox p95 at 312k ≤ 3 × at 3k": (
        "The inbox's total counts every case the person can act on: 6,182 for Västra "
        "Götalandsregionen's process lead at 312k, 65 at 3k, where the page of 100 is not even "
        "full. Page and total come from one pass over the matches, each read from an index "
        "without touching table rows; that pass grows with the matches (see the profile), "
        "and its SQL twin, which counts separately, grows far faster (see the table)."
    ),
    "overdue p95 at 312k ≤ 3 × at 3k": (
        "The overdue list's total counts every overdue case the person may read: 4,237 for "
        "Västra Götalandsregionen's process lead at 312k, 39 at 3k, where the page of 50 is not "
        "full and no count is needed. The parts never meet, so the page is a sorted LIMIT and "
        "the count a plain count over index ranges with no temporary B-tree; both still visit "
        "each overdue case once, which grows with the overdue cases (see the profile), and its "
        "SQL twin grows far faster (see the table)."
    ),
    "overview p95 at 312k ≤ 3 × at 3k": (
        "Both sizes read a page of the same content, the knowledge supports, their "
        "adaptations and implementation counts read from the indexes; what is left is the "
        "page's rows travelling from a larger file (see the profile)."
    ),
    "HTTP click at 3.1m, 4 worker(s)": (
        "With 4 workers on 2 cores the click is bound by CPU, not by waiting. The twin runs "
        "the same SQL with the same round trips, so what differs is kflow's own Python per "
        "request (the token, the case and the reader's roles, the machine, the answer's "
        "JSON): at 1 worker a click took 3.9 ms in kflow and 2.1 ms in the twin. At 1 and 2 "
        "workers kflow holds 0.55 and 0.60 × the twin; at 4, with half a core per worker, "
        "0.38-0.44 (three runs on 2026-12-05; 0.53 in the previous session's run), while 4 "
        "workers still give 1.66 × the throughput of 1. Holding 0.5 here needs about a third "
        "less Python per click, what the fan-out target of make bench asks of the engine too."
    ),
    "312k: history p95 ≤ 3 × its SQL twin": (
        "The twin is one query returning raw tuples. kflow's read is one query too, after "
        "deciding which cases the reader may see; what it adds is each row made a value: its "
        "time an aware datetime, its parameters decoded from JSON (see the profile)."
    ),
}


def _notes(results: dict[str, Any]) -> list[str]:
    judged = [*results.get("targets", []), *results.get("scale_targets", [])]
    failing = [t["target"] for t in judged if t["status"] == "FAIL"]
    notes = [(t, text) for t in failing for key, text in NOTES.items() if t.startswith(key)]
    if not notes:
        return []
    lines = ["## Why these targets do not hold", ""]
    for target, text in notes:
        lines += [f"* **{target}.** {text}", ""]
    return lines


def _method(results: dict[str, Any]) -> list[str]:
    return [
        "## How it is measured",
        "",
        "* **Transitions.** Every contender makes the same change per click in its own "
        "transaction: the case's state, guarded by state and version, and one history row. "
        "*raw_sqlite*: stdlib sqlite3, BEGIN IMMEDIATE, a guarded UPDATE and an INSERT, "
        "COMMIT (the floor; no user loaded, no permission check). *kflow*: "
        "`Runtime.transaction()`, an `Authority` for the signed-in user (who they are was "
        "settled at sign-in, as the web layer does it; their roles are read in the click), "
        "`kflow.engine.fire.fire` by id with the client's `lock_version`: the case and the "
        "user's roles on it in one read, permissions, the machine, due date, the guarded "
        "UPDATE and the history row (as the API and web UI fire). *transitions_sqlalchemy*: a "
        "shared "
        "`transitions.Machine` added to the ORM-loaded case, `version_id_col`, the history row "
        "from `after_state_change`. *django_fsm*: django-fsm-2's `ConcurrentTransitionMixin` "
        "(state guard) plus the version, django-fsm-log's `StateLog` with `by` and `description`, "
        "`transaction.atomic()` (IMMEDIATE). *spiffworkflow*: a BPMN process of two user tasks "
        "(benchmarks/peers/regional_adaptation_hold.bpmn), deserialised, the task completed, "
        "serialised to JSON into its row, on stdlib sqlite3. The peers load the user for "
        "their history row's author. Peers check no permissions. Every run checks its effect: "
        "each case at the predicted state and version, one history row per click.",
        "* **Warm processes.** After its warm-up each worker process calls "
        "`kflow.runtime.settle_heap()` (`gc.freeze()`), as `kflow serve` and `kflow scheduler` "
        "do after start-up; every contender in that process, raw SQL included, runs with it.",
        "* **Modes.** SQLite *durable*: WAL with `synchronous=FULL`; *relaxed*: WAL with "
        "`synchronous=NORMAL` (kflow's default). Each run records the pragmas its connection "
        "really used. PostgreSQL: a database created for the run and dropped after it.",
        "* **Data sets** (queries, sweep): generated with bulk INSERTs in kflow's schema: per "
        "knowledge support 21 consultation responses, 21 adaptations and 290 local "
        "implementations (333 cases, about 4 history rows each), spread over three years and "
        "every state, then `ANALYZE` as after any bulk load. 'overdue' is `queries.overdue`. "
        "'history' reads one knowledge support's history across all tiers as the case "
        "page's download does (`queries.all_chain_history`, /arenden/<id>/historik.csv); "
        "'history_pages' reads the same rows as a client of the API's chain-history endpoint "
        "does (`queries.chain_history`, pages of 500, each with its total), shown for "
        "comparison. 'overview_same_page' is the overview with a page of as many knowledge "
        "supports as the smallest set holds, so that the sizes compare pages of equal "
        "content; the growth target uses it.",
        "* **Fan-out.** Each contender first rehearses a publish (and kflow a hand-off) in a "
        "transaction it rolls back, as a running server has done its first requests; then the "
        "10 publishes and 210 hand-offs are timed, each its own transaction.",
        "",
    ]
