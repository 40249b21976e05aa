"""The reminder sweep at one data-set size: its time, or its peak memory.

``kflow.jobs.sweep.sweep(runtime, now)`` as the scheduler calls it, on a copy of the
generated data set, which has a week of reminder rungs to send (see datagen.py). Two runs, each
in a fresh process on a fresh copy, because a sweep changes the data:

* ``time``: the sweep with nothing watching it, then a second sweep right after (nothing left to
  send: what a sweep costs when no case is due);
* ``memory``: the same sweep under tracemalloc; its peak is the most Python memory the sweep
  held at once (the process's peak RSS is reported too).

Both first run an idle sweep dated a month back (no case is due then), so imports and SQL
compilation are out of the way before measuring.

``python -m benchmarks.sweep_bench '{json}'`` (the suite calls it).
"""

from __future__ import annotations

import datetime as dt
import gc
import sqlite3
import time
import tracemalloc
from pathlib import Path
from typing import Any

from benchmarks.common import kflow_runtime, peak_rss_mb, worker_main


def due_count(url: str, today: dt.date) -> int:
    if url.startswith("postgresql"):
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as pg:
            found = pg.execute(
                "SELECT count(*) FROM cases WHERE next_reminder_on <= %s", (today,)
            ).fetchone()
            return int(found[0]) if found else 0
    conn = sqlite3.connect(Path(url.removeprefix("sqlite:///")))
    try:
        return int(
            conn.execute(
                "SELECT count(*) FROM cases WHERE next_reminder_on <= ?", (today.isoformat(),)
            ).fetchone()[0]
        )
    finally:
        conn.close()


def run(args: dict[str, Any]) -> dict[str, Any]:
    from kflow.calendar import local_date
    from kflow.db import utcnow
    from kflow.jobs.sweep import sweep

    url = args["url"]
    runtime = kflow_runtime(url, args.get("mode", "relaxed"), Path(args["tmp"]))
    now = utcnow()
    due = due_count(url, local_date(now))
    sweep(runtime, now - dt.timedelta(days=30))  # warm-up: nothing is due a month ago
    gc.collect()
    out: dict[str, Any] = {"cases_due": due}
    if args["measure"] == "memory":
        tracemalloc.start()
        result = sweep(runtime, now)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["peak_mb"] = round(peak / 1024 / 1024, 2)
    else:
        began = time.perf_counter()
        result = sweep(runtime, now)
        out["seconds"] = round(time.perf_counter() - began, 4)
        began = time.perf_counter()
        idle = sweep(runtime, now)
        out["idle_seconds"] = round(time.perf_counter() - began, 4)
        if idle.rungs:
            raise AssertionError(f"a second sweep fired {idle.rungs} rungs again")
    out.update(
        rungs=result.rungs,
        notifications=result.notifications,
        mails=result.mails,
        closed_consultations=result.closed_consultations,
        peak_rss_mb=peak_rss_mb(),
    )
    runtime.engine.dispose()
    return out


if __name__ == "__main__":
    worker_main(run)
