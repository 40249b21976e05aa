"""``python -m benchmarks.scale`` (``make bench-scale``): see benchmarks/scale/__init__.py.

Writes ``scale`` and ``http`` (and their targets, ``scale_targets``) into benchmarks/results.json,
keeping what ``make bench`` wrote there, and docs/benchmarks.md from the whole file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.common import BENCH_DIR, PgDatabases, log, machine_info, pg_url, run_worker
from benchmarks.scale import data, run
from benchmarks.scale import report as scale_report

FULL: dict[str, Any] = {
    "sizes": data.SIZES,
    "queries": {"warmup": 3, "runs": 30},
    "http": {"sizes": ("3k", "3.1m"), "seconds": 5, "warmup_s": 1, "click_workers": (1, 2, 4),
             "page_workers": (2, 4), "twin_page_workers": (2,)},
    "memory": {"size": "3k", "requests": 20_000, "marks": (1_000, 20_000),
               "sweep_sizes": ("31k", "3.1m"), "backup_sizes": ("31k", "3.1m")},
}  # fmt: skip
QUICK: dict[str, Any] = {
    "sizes": data.QUICK_SIZES,
    "queries": {"warmup": 1, "runs": 3},
    "http": {"sizes": ("3k", "10k"), "seconds": 2, "warmup_s": 1, "click_workers": (1, 2),
             "page_workers": (2,), "twin_page_workers": (2,)},
    "memory": {"size": "3k", "requests": 1_000, "marks": (100, 1_000),
               "sweep_sizes": ("3k", "10k"), "backup_sizes": ("3k", "10k")},
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs")
    parser.add_argument("--out", type=Path, help="results.json (default benchmarks/results.json)")
    parser.add_argument("--md", type=Path, help="Markdown page (default docs/benchmarks.md)")
    parser.add_argument(
        "--only",
        help="comma-separated parts: queries, http, memory (or of it: worker, sweep, backup)",
    )
    parser.add_argument("--prune", action="store_true", help="drop kept data sets of old builds")
    args = parser.parse_args(argv)
    if args.prune:
        for name in data.stale():
            log(f"dropping {name}")
            data.drop(name)
    problem = PgDatabases().available()
    if problem:
        log(f"bench-scale needs PostgreSQL: {problem}")
        return 1
    if shutil.which("wrk") is None:
        log("bench-scale needs wrk (Debian: apt-get install wrk)")
        return 1
    cfg = QUICK if args.quick else FULL
    out = args.out or (
        Path(tempfile.mkdtemp(prefix="kflow-scale-quick-")) / "results.json"
        if args.quick
        else BENCH_DIR / "results.json"
    )
    md = args.md or (
        out.parent / "benchmarks.md" if args.quick else BENCH_DIR.parent / "docs" / "benchmarks.md"
    )
    parts = args.only.split(",") if args.only else ["queries", "http", "memory"]
    tmp = Path(tempfile.mkdtemp(prefix="kflow-scale-"))
    began = time.perf_counter()
    try:
        sets = {size: data.ensure(size, target, tmp) for size, target in cfg["sizes"].items()}
        results: dict[str, Any] = {}
        if "queries" in parts:
            results["queries"] = run.queries(sets, cfg, tmp)
        if "http" in parts:
            results["http"] = run.http_runs(sets, cfg, tmp)
        which = (
            run.MEMORY_PARTS
            if "memory" in parts
            else tuple(part for part in run.MEMORY_PARTS if part in parts)
        )
        if which:
            results["memory"] = run.memory(sets, cfg, tmp, which)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    whole = json.loads(out.read_text()) if out.exists() else {}
    kept = whole.get("scale", {}) if args.only else {}  # a partial run keeps the other parts
    elapsed = round(time.perf_counter() - began, 1)
    whole["scale"] = {
        **kept,
        "mode": "quick" if args.quick else "full",
        # The whole run's time stays that of the last full run; a partial one is listed.
        "elapsed_s": kept.get("elapsed_s", elapsed) if args.only else elapsed,
        "reruns": [*kept.get("reruns", []), {"parts": parts, "elapsed_s": elapsed}]
        if args.only
        else [],
        "config": cfg,
        "datasets": {s: {k: v for k, v in d.items() if k not in ("org",)} for s, d in sets.items()},
        **{k: v for k, v in results.items() if k not in ("http", "memory")},
        # a partial run replaces only the memory parts it ran
        "memory": {**(kept.get("memory") or {}), **(results.get("memory") or {})},
        "machine": machine_info(PgDatabases().server_version()),
    }
    if "http" in results:
        whole["http"] = results["http"]
    whole["scale_targets"] = scale_report.evaluate(whole)
    out.write_text(json.dumps(whole, indent=1, ensure_ascii=False) + "\n")
    if "suite" in whole:
        md.write_text(report.render(whole))
    else:
        md.write_text("\n".join(scale_report.render(whole)) + "\n")
    passed = sum(t["status"] == "PASS" for t in whole["scale_targets"])
    log(f"wrote {out} and {md}: {passed} of {len(whole['scale_targets'])} scale targets pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["pg_url", "run_worker"]
