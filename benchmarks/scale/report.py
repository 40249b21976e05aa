"""The scale targets (issue 19), judged from results.json, and their part of docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

from benchmarks.report import _fmt, _get, _ratio, _target

QUERIES = ("overview", "inbox", "overdue", "history", "rollup")
SHOWN = ("overview", "overview_same_page", "inbox", "overdue", "history", "history_pages", "rollup")
PAGES = ("inbox", "overview", "followup", "case", "consultation")
BUDGET_MIN = 25
LABELS = {"sweep": "`kflow scheduler` (its start-up sweep)"}


NOTES = [
    "How to read them:",
    "",
    "- Each data set holds the follow-up knowledge supports' ten indicators (126,000 "
    "measurements each) at every size, so Uppföljning shows the same ten indicators at 3k and "
    "at 3.1m. Other pages show what the size holds: Översikt's page of 50 knowledge supports "
    "has 9 at 3k; VGR's process lead has 7 cases waiting at 3k and about 6,000 at 3.1m (Min "
    "inkorg shows 100 of them); Försenade holds 39 and about 42,000.",
    "- A page's WSGI twin replays the SQL kflow ran for that request and answers kflow's "
    "bytes: the floor through HTTP on the same gunicorn settings (the click at 1, 2 and 4 "
    "workers, the pages at 2). Each wrk run is 5 seconds after 1 of warm-up.",
    "- A query twin that takes seconds a call is timed five times (TWIN_MIN_RUNS), kflow's "
    "side every run.",
    "- Memory: the sweep is `kflow scheduler` itself until its start-up sweep is done; the "
    "export and import run as `kflow export - | kflow import -` side by side (their seconds "
    "overlap). The worker's 20,000 requests (rounds of twelve: the click and a case's page "
    "three times each, Min inkorg, Översikt and the history CSV once) run beside the sweep: "
    "memory parts measure bytes, not seconds, so they share the two cores.",
]


def _sizes(results: dict[str, Any]) -> tuple[str | None, str | None]:
    sizes = list(_get(results, "scale", "queries") or {})
    return (sizes[0], sizes[-1]) if sizes else (None, None)


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    small, large = _sizes(results)
    q = _get(results, "scale", "queries") or {}
    for name in QUERIES:
        big = _get(q, large or "", name) or {}
        # Översikt compares a page of equal content at both sizes (as make bench does).
        base = _get(q, small or "", "overview_same_page" if name == "overview" else name) or {}
        at_large = _get(q, large or "", "overview_same_page") if name == "overview" else big
        k, s = big.get("kflow_p95_ms"), big.get("sql_p95_ms")
        out.append(
            _target(
                f"PostgreSQL {large}: {name} p95 ≤ 3 × its SQL twin",
                _ratio(k, s),
                3.0,
                "<=",
                f"kflow {k} ms, twin {s} ms",
                kind="scale_query",
            )
        )
        kl, ks = (at_large or {}).get("kflow_p95_ms"), base.get("kflow_p95_ms")
        out.append(
            _target(
                f"PostgreSQL: {name} p95 at {large} ≤ 3 × at {small}",
                _ratio(kl, ks),
                3.0,
                "<=",
                f"{kl} ms at {large}, {ks} ms at {small}",
                kind="scale_query",
            )
        )
    h = results.get("http") or {}
    sizes = list((h.get("config") or {}).get("sizes") or [])
    if sizes:
        hs, hl = sizes[0], sizes[-1]
        kflow, twin = _get(h, hl, "kflow") or {}, _get(h, hl, "twin") or {}
        for workers in sorted(kflow, key=int):
            a, b = _get(kflow, workers, "click", "rps"), _get(twin, workers, "click", "rps")
            if a is None:
                continue
            out.append(
                _target(
                    f"HTTP click at {hl}, {workers} worker(s): ≥ 0.5 × the WSGI twin's requests/s",
                    _ratio(a, b),
                    0.5,
                    ">=",
                    f"kflow {a}/s, twin {b}/s",
                    kind="http",
                )
            )
        one, four = _get(kflow, "1", "click", "rps"), _get(kflow, "4", "click", "rps")
        out.append(
            _target(
                f"HTTP click at {hl}: 4 workers ≥ 1.6 × 1 worker",
                _ratio(four, one),
                1.6,
                ">=",
                f"{four}/s with 4, {one}/s with 1",
                kind="http",
            )
        )
        workers = min((w for w in kflow if "inbox" in kflow[w]), key=int, default=None)
        for page in PAGES:
            a = _get(h, hl, "kflow", workers or "", page, "p95_ms")
            b = _get(h, hs, "kflow", workers or "", page, "p95_ms")
            out.append(
                _target(
                    f"HTTP {page} page p95 at {hl} ≤ 3 × at {hs} ({workers} workers)",
                    _ratio(a, b),
                    3.0,
                    "<=",
                    f"{a} ms at {hl}, {b} ms at {hs}",
                    kind="http",
                )
            )
    m = _get(results, "scale", "memory") or {}
    rss = _get(m, "worker", "rss_mb") or {}
    if rss:
        first, last = next(iter(rss)), list(rss)[-1]
        out.append(
            _target(
                f"worker RSS after {int(last):,} requests ≤ 1.1 × after {int(first):,}",
                _ratio(rss[last], rss[first]),
                1.1,
                "<=",
                f"{rss[last]} MB, {rss[first]} MB",
                kind="memory",
            )
        )
    for part, key in (
        ("sweep", "peak_rss_mb"),
        ("export", "peak_rss_mb"),
        ("import", "peak_rss_mb"),
    ):
        runs = m.get(part) or {}
        if len(runs) >= 2:
            lo, hi = next(iter(runs)), list(runs)[-1]
            a, b = runs[hi].get(key), runs[lo].get(key)
            out.append(
                _target(
                    f"{LABELS.get(part, part)} peak memory at {hi} ≤ 1.5 × at {lo}",
                    _ratio(a, b),
                    1.5,
                    "<=",
                    f"{a} MB at {hi}, {b} MB at {lo} (peak RSS)",
                    kind="memory",
                )
            )
    scale = results.get("scale") or {}
    if scale.get("mode") == "full":
        minutes = round(scale.get("elapsed_s", 0) / 60, 1)
        out.append(
            _target(
                f"make bench-scale with its data sets kept: ≤ {BUDGET_MIN} minutes",
                minutes,
                BUDGET_MIN,
                "<=",
                f"{minutes} min on {_get(scale, 'machine', 'cores')} cores",
                kind="scale_time",
            )
        )
    return out


def render(results: dict[str, Any]) -> list[str]:
    s = results.get("scale")
    if not s:
        return []
    m = s.get("machine") or {}
    lines = [
        "## At scale on PostgreSQL, and through HTTP (`make bench-scale`)",
        "",
        f"Run on {m.get('date')} ({s['mode']}, {s['elapsed_s']:.0f} s"
        + "".join(
            f"; {', '.join(r['parts'])} again in {r['elapsed_s']:.0f} s"
            for r in s.get("reruns") or []
        )
        + f"), PostgreSQL "
        f"{m.get('postgresql')}, kflow commit {(m.get('git') or {}).get('commit')}. Data sets "
        "kept between runs as PostgreSQL databases (benchmarks/scale/data.py).",
        "",
        "| target | measured | limit | result |",
        "|---|---:|---:|---|",
    ]
    for t in results.get("scale_targets") or []:
        lines.append(
            f"| {t['target']} | {_fmt(t['measured'], 3)} | {t['op']} {_fmt(t['limit'], 2)} | "
            f"**{t['status']}** |"
        )
    targets = results.get("scale_targets") or []
    passed = sum(t["status"] == "PASS" for t in targets)
    lines += ["", f"{passed} of {len(targets)} scale targets pass.", "", *NOTES, ""]
    lines += _datasets(s) + _queries(s) + _http(results.get("http") or {}) + _memory(s)
    return lines


def _datasets(s: dict[str, Any]) -> list[str]:
    lines = ["### The data sets", "", "| size | knowledge supports | cases | history rows | "
             "measurements | built in |", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for size, d in (s.get("datasets") or {}).items():
        lines.append(
            f"| {size} | {_fmt(d.get('knowledge_supports'))} | {_fmt(d.get('cases'))} | "
            f"{_fmt(d.get('events'))} | {_fmt(_get(d, 'followup', 'measurements'))} | "
            f"{_fmt(d.get('generated_s'))} s{' (kept)' if d.get('reused') else ''} |"
        )
    return [*lines, ""]


def _queries(s: dict[str, Any]) -> list[str]:
    q = s.get("queries") or {}
    if not q:
        return []
    sizes = list(q)
    lines = ["### Queries: p95 in ms, kflow / its SQL twin", "",
             "| query | " + " | ".join(sizes) + " |", "|---|" + "---:|" * len(sizes)]  # fmt: skip
    for name in SHOWN:
        cells = [
            f"{_fmt(_get(q, z, name, 'kflow_p95_ms'), 2)} / {_fmt(_get(q, z, name, 'sql_p95_ms'), 2)}"  # noqa: E501
            for z in sizes
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _http(h: dict[str, Any]) -> list[str]:
    sizes = list((h.get("config") or {}).get("sizes") or [])
    if not sizes:
        return []
    lines = [
        "### Through HTTP: gunicorn, wrk on 127.0.0.1, one connection per worker",
        "",
        "| size | request | workers | kflow req/s | p50 | p95 | p99 ms | twin req/s | p50 | "
        "p95 | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        for workers, runs in sorted(
            (_get(h, size, "kflow") or {}).items(), key=lambda x: int(x[0])
        ):
            for request, k in runs.items():
                t = _get(h, size, "twin", workers, request) or {}
                lines.append(
                    f"| {size} | {request} | {workers} | {_fmt(k['rps'])} | {_fmt(k['p50_ms'])} | "
                    f"{_fmt(k['p95_ms'])} | {_fmt(k['p99_ms'])} | {_fmt(t.get('rps'))} | "
                    f"{_fmt(t.get('p50_ms'))} | {_fmt(t.get('p95_ms'))} | {_fmt(t.get('p99_ms'))} |"
                )
    return [*lines, ""]


def _memory(s: dict[str, Any]) -> list[str]:
    m = s.get("memory") or {}
    if not m:
        return []
    w = m.get("worker") or {}
    lines = ["### Memory", "",
             f"One worker over {_fmt(w.get('requests'))} requests ({_fmt(w.get('failures'))} "
             f"failed, {_fmt(w.get('seconds'))} s): RSS "
             + ", ".join(f"{v} MB after {int(k):,}" for k, v in (w.get("rss_mb") or {}).items())
             + ".", "", "| | size | peak RSS MB | seconds |", "|---|---|---:|---:|"]  # fmt: skip
    for part in ("sweep", "export", "import"):
        for size, r in (m.get(part) or {}).items():
            lines.append(
                f"| {LABELS.get(part, part)} | {size} | {_fmt(r.get('peak_rss_mb'))} | "
                f"{_fmt(r.get('seconds', r.get('elapsed_s')))} |"
            )
    return [*lines, ""]
