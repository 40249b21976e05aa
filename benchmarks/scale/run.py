"""The three parts of ``make bench-scale``, each on the kept data sets (benchmarks.scale.data)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import log, pg_url, run_worker
from benchmarks.scale import data, http
from benchmarks.scale import memory as mem


def queries(sets: dict[str, Any], cfg: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """Every list and page query at every size, each against its SQL twin (queries_bench), and
    the follow-up roll-up against its twin (followup_bench.rollup)."""
    out: dict[str, Any] = {}
    smallest = min(sets.values(), key=lambda s: s["cases"])
    for size, facts in sets.items():
        log(f"queries at {size} ({facts['cases']:,} cases, {facts['events']:,} history rows)")
        found = run_worker(
            "benchmarks.queries_bench",
            {
                "url": pg_url(facts["db"]),
                "org": facts["org"],
                "ks_id": facts["history_ks"],
                "ks_chair": facts["history_chair"],
                "same_page": smallest["knowledge_supports"],
                "warmup": cfg["queries"]["warmup"],
                "runs": cfg["queries"]["runs"],
                "tmp": str(tmp),
            },
            tmp,
        )
        fu = facts["followup"]
        found["rollup"] = run_worker(
            "benchmarks.followup_bench",
            {
                "task": "rollup",
                "url": pg_url(facts["db"]),
                "indicator": fu["indicators"][0],
                "period": fu["periods"][-1],
                "previous": fu["periods"][-2],
                "warmup": cfg["queries"]["warmup"],
                "runs": cfg["queries"]["runs"],
                "tmp": str(tmp),
            },
            tmp,
        )
        found["rollup"]["measurements"] = fu["measurements"]
        out[size] = found
    return out


def http_runs(sets: dict[str, Any], cfg: dict[str, Any], tmp: Path) -> dict[str, Any]:
    h = cfg["http"]
    out: dict[str, Any] = {"config": h}
    clickers = max(*h["click_workers"], *h["page_workers"])
    for size in h["sizes"]:
        facts = sets[size]
        log(f"HTTP at {size}: a writable copy of the data set")
        db = data.copy(facts["db"], "http")
        try:
            prepared = http.prepare(db, facts["org"], facts, tmp, clickers)
            script = tmp / f"twin-{size}.json"
            script.write_text(json.dumps(prepared["script"]))
            environment = http.env(db, tmp)
            result: dict[str, Any] = {"statements": prepared["statements"]}
            for side in ("kflow", "twin"):
                # The twin's pages are the floor beside kflow's at one worker count.
                pages_at = h["page_workers"] if side == "kflow" else h["twin_page_workers"]
                for workers in sorted({*h["click_workers"], *pages_at}):
                    command = (
                        http.kflow_command(workers)
                        if side == "kflow"
                        else http.twin_command(script, db, workers)
                    )
                    log(f"HTTP at {size}: {side}, {workers} worker(s)")
                    with http.serving(command, environment, tmp / f"{side}.log") as port:
                        runs = result.setdefault(side, {}).setdefault(str(workers), {})
                        if workers in h["click_workers"]:
                            lua = http.lua_click(
                                prepared["click_ids"][:workers], prepared["token"], side == "twin"
                            )
                            runs["click"] = _measure(port, lua, workers, h, tmp)
                        if workers in pages_at:
                            for page, path in prepared["paths"].items():
                                lua = http.lua_page(path, prepared["cookies"][page])
                                runs[page] = _measure(port, lua, workers, h, tmp)
            out[size] = result
        finally:
            data.drop(db)
    return out


def _measure(port: int, lua: str, workers: int, h: dict[str, Any], tmp: Path) -> dict[str, Any]:
    http.wrk(port, lua, workers, h["warmup_s"], tmp)  # warm every worker up first
    return http.wrk(port, lua, workers, h["seconds"], tmp)


MEMORY_PARTS = ("worker", "sweep", "backup")


def memory(
    sets: dict[str, Any], cfg: dict[str, Any], tmp: Path, which: tuple[str, ...] = MEMORY_PARTS
) -> dict[str, Any]:
    """A worker's RSS over many requests, the scheduler's across its start-up sweep, and the
    export and import (``which`` of them)."""
    m = cfg["memory"]
    out: dict[str, Any] = {}
    # Memory parts bear load (they measure bytes, not seconds): the worker's run goes side by
    # side with the sweep's, which mostly waits for its copy of the data set.
    with ThreadPoolExecutor(max_workers=2) as pool:
        worker = pool.submit(_worker_rss, sets[m["size"]], m, tmp) if "worker" in which else None
        if "sweep" in which:
            out["sweep"] = _scheduler_peaks(sets, m, tmp)
        if worker is not None:
            out["worker"] = worker.result()
    if "backup" in which:
        out["export"], out["import"] = _backup_peaks(sets, m, tmp)
    return out


def _scheduler_peaks(sets: dict[str, Any], m: dict[str, Any], tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kflow = str(Path(sys.executable).parent / "kflow")
    for size in m["sweep_sizes"]:
        db = data.copy(sets[size]["db"], "sweep")
        log(f"kflow scheduler at {size}: its start-up sweep (peak memory)")
        try:
            out[size] = mem.process_until(
                [kflow, "scheduler"], http.env(db, tmp), tmp / "scheduler.log", "Start-up sweep:"
            )
        finally:
            data.drop(db)
    return out


def _backup_peaks(
    sets: dict[str, Any], m: dict[str, Any], tmp: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    exports: dict[str, Any] = {}
    imports: dict[str, Any] = {}
    kflow = str(Path(sys.executable).parent / "kflow")
    key = tmp / "backup.key"
    key.write_text("bench-scale-backup-key-0123456789abcdef0123456789abcdef\n")
    for size in m["backup_sizes"]:
        facts = sets[size]
        empty = data.empty(f"{facts['db']}_import")
        try:
            target = http.env(empty, tmp)
            subprocess.run([kflow, "db", "upgrade"], env=target, check=True,  # noqa: S603
                           capture_output=True)  # fmt: skip
            log(f"kflow export - | kflow import - at {size}")
            exports[size], imports[size] = mem.pipeline_peaks(
                [kflow, "export", "-", "--key-file", str(key)],
                [kflow, "import", "-", "--key-file", str(key)],
                (http.env(facts["db"], tmp), target),
                tmp / "backup.log",
            )
        finally:
            data.drop(empty)
    return exports, imports


def _worker_rss(facts: dict[str, Any], m: dict[str, Any], tmp: Path) -> dict[str, Any]:
    db = data.copy(facts["db"], "rss")
    try:
        prepared = http.prepare(db, facts["org"], facts, tmp, 1)
        environment = {**http.env(db, tmp), "PYTHONUNBUFFERED": "1"}
        hold, resume = mem.click_bodies()
        click = f"/api/v1/regional-adaptations/{prepared['click_ids'][0]}/transitions"
        api = {
            "Authorization": f"Bearer {prepared['token']}",
            "Content-Type": "application/json",
            "User-Agent": http.USER_AGENT,
        }
        page = {"Cookie": prepared["cookie"], "User-Agent": http.USER_AGENT}
        # Every kind of request in each round of twelve, the cheap ones (the click, a case's
        # page) most often, as in a working day: the heavier list pages once a round each.
        case = ("GET", prepared["paths"]["case"], page, None)
        requests = []
        for heavy in ("inbox", "overview", "history_csv"):
            requests += [("POST", click, api, hold), case, ("POST", click, api, resume)]
            requests.append(("GET", prepared["paths"][heavy], page, None))
        log(f"one worker's memory over {m['requests']:,} requests")
        command = http.kflow_command(1)
        with http.serving(command, environment, tmp / "rss.log") as port:
            pid = mem.worker_pid(port.pid)
            return mem.drive(int(port), requests, m["requests"], pid, tuple(m["marks"]))
    finally:
        data.drop(db)


__all__ = ["http_runs", "memory", "queries"]
