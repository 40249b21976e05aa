"""Persisted transitions per second: one contender, one mode, in a worker process of its own.

``python -m benchmarks.transitions_bench '{json}'`` (the suite calls it). The worker opens the
contender on its own copy of the fixture database, clicks ``warmup`` times, then times
``count`` clicks with time.perf_counter (each one its own transaction), and finally checks the
effect: every case at the state and version the clicks predicted, and exactly one history row
per click.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.common import peak_rss_mb, summarize_ms, worker_main
from benchmarks.peers.base import move
from kflow.runtime import settle_heap

CONTENDERS = ("raw_sqlite", "kflow", "transitions_sqlalchemy", "django_fsm", "spiffworkflow")
PG_CONTENDERS = ("raw_postgresql", "kflow")


def open_contender(name: str, args: dict[str, Any], cases: list[dict[str, Any]]) -> Any:
    mode, url, tmp = args["mode"], args["url"], Path(args["tmp"])
    path = Path(url.removeprefix("sqlite:///"))
    if name == "raw_sqlite":
        from benchmarks.peers.raw import RawSqlite

        return RawSqlite(path, mode)
    if name == "raw_postgresql":
        from benchmarks.peers.raw import RawPostgres

        return RawPostgres(url.replace("postgresql+psycopg://", "postgresql://"))
    if name == "kflow":
        from benchmarks.peers.kflow_click import KflowClick

        return KflowClick(url, mode, tmp)
    if name == "transitions_sqlalchemy":
        from benchmarks.peers.transitions_sa import TransitionsSqlAlchemy

        return TransitionsSqlAlchemy(url, mode, tmp)
    if name == "django_fsm":
        from benchmarks.peers.django_fsm_peer import DjangoFsm

        return DjangoFsm(path, mode, cases)
    if name == "spiffworkflow":
        from benchmarks.peers.spiff import Spiff

        return Spiff(path, mode, cases)
    raise ValueError(name)


def clicks(contender: Any, cases: list[dict[str, Any]], n: int, start: int) -> list[float]:
    """``n`` clicks round robin over ``cases`` from position ``start``; per-click seconds."""
    times = []
    clock = time.perf_counter
    for i in range(start, start + n):
        case = cases[i % len(cases)]
        began = clock()
        version = contender.click(case)
        times.append(clock() - began)
        _trigger, dest, _comment = move(case["state"])
        case["state"], case["lock_version"] = dest, version
    return times


def run(args: dict[str, Any]) -> dict[str, Any]:
    cases = [dict(c) for c in args["cases"]]
    contender = open_contender(args["contender"], args, cases)
    warmup, count = int(args["warmup"]), int(args["count"])
    try:
        clicks(contender, cases, warmup, 0)
        settle_heap()  # as `kflow serve` and the scheduler do after start-up
        began = time.perf_counter()
        samples = clicks(contender, cases, count, warmup)
        elapsed = time.perf_counter() - began
        pragmas = contender.pragmas()
        observed = contender.observed([c["id"] for c in cases])
    finally:
        contender.close()
    expected = {str(c["id"]): [c["state"], c["lock_version"]] for c in cases}
    wrong = [k for k, v in expected.items() if observed["cases"].get(k) != v]
    if wrong or observed["history_rows"] != warmup + count:
        raise AssertionError(
            f"{args['contender']}: effect differs: {len(wrong)} cases off, "
            f"{observed['history_rows']} history rows for {warmup + count} clicks"
        )
    return {
        "ops_per_s": round(count / elapsed, 1),
        "elapsed_s": round(elapsed, 3),
        "clicks": count,
        "warmup": warmup,
        "cases": len(cases),
        "latency": summarize_ms(samples),
        "pragmas": pragmas,
        "peak_rss_mb": peak_rss_mb(),
        **({k: v for k, v in observed.items() if k not in ("cases", "history_rows")}),
    }


if __name__ == "__main__":
    worker_main(run)
