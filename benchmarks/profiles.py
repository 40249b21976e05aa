"""Profiles of kflow's side of a benchmark, for the targets it fails.

Each profile runs in a worker process of its own on a fresh copy of the benchmark's database,
twice: once under cProfile (the top functions by own and by cumulative time) and once under
pyinstrument (a call tree), so neither profiler distorts the other. The suite writes both to
files and puts the cProfile summary into docs/benchmarks.md.

``python -m benchmarks.profiles '{json}'`` (the suite calls it).
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import worker_main


class StatementLog:
    """Execute time per SQL statement, on every engine, while ``active`` (cProfile runs only).

    The time is the DBAPI execute call (for SQLite: until the first row is ready, which for a
    count, a sort or a grouping is nearly all of it); fetching the rows is not included.
    """

    def __init__(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        self.active = False
        self.stats: dict[str, list[Any]] = {}  # statement -> [calls, seconds, params, engine]
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)

    def _before(
        self, conn: Any, _cursor: Any, _sql: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        started = conn.info["bench_started"].pop()
        if not self.active:
            return
        entry = self.stats.setdefault(sql, [0, 0.0, None, None])
        entry[0] += 1
        entry[1] += time.perf_counter() - started
        entry[2] = None if many else params
        entry[3] = conn.engine

    def report(self, top: int = 6) -> list[str]:
        total = sum(e[1] for e in self.stats.values())
        calls = sum(e[0] for e in self.stats.values())
        lines = [f"SQL: {calls} statements executed, {total:.3f} s in execute; the slowest:"]
        ranked = sorted(self.stats.items(), key=lambda item: -item[1][1])[:top]
        for sql, (n, seconds, params, engine) in ranked:
            text = " ".join(sql.split())
            if len(text) > 400:
                text = text[:400] + " ..."
            lines.append(f"{seconds:8.3f} s {n:6d} x  {text}")
            plan = self._plan(engine, sql, params)
            if len(plan) > 12:
                plan = [*plan[:11], f"... ({len(plan) - 11} more steps)"]
            lines += [f"{'':19}plan: {step}" for step in plan]
        return lines

    @staticmethod
    def _plan(engine: Any, sql: str, params: Any) -> list[str]:
        if engine is None or engine.dialect.name != "sqlite" or params is None:
            return []
        if not sql.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE", "DELETE")):
            return []
        try:
            with engine.connect() as conn:
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
        except Exception as exc:  # a plan is a bonus: never fail a profile for it
            return [f"(no plan: {exc.__class__.__name__})"]
        return [str(row[-1]) for row in rows]


class Profiling:
    """Profile only inside ``section()``, with cProfile or pyinstrument."""

    def __init__(self, tool: str) -> None:
        self.tool = tool
        self.cprofile = cProfile.Profile() if tool == "cprofile" else None
        self.statements = StatementLog() if tool == "cprofile" else None
        self.pyinstrument: Any = None
        if tool == "pyinstrument":
            from pyinstrument import Profiler

            self.pyinstrument = Profiler(interval=0.0005)

    @contextlib.contextmanager
    def section(self) -> Iterator[None]:
        if self.cprofile is not None:
            assert self.statements is not None
            self.statements.active = True
            self.cprofile.enable()
        else:
            self.pyinstrument.start()
        try:
            yield
        finally:
            if self.cprofile is not None:
                assert self.statements is not None
                self.cprofile.disable()
                self.statements.active = False
            else:
                self.pyinstrument.stop()

    def write(self, path: Path) -> dict[str, Any]:
        if self.cprofile is not None:
            assert self.statements is not None
            stats = pstats.Stats(self.cprofile)
            text = io.StringIO()
            sql = self.statements.report()
            text.write("\n".join(sql) + "\n\n")
            stats.stream = text  # type: ignore[attr-defined]
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
            path.write_text(text.getvalue())
            return {"summary": [*summary(stats), "", *sql]}
        path.write_text(self.pyinstrument.output_text(unicode=True, color=False, show_all=False))
        return {}


def _short(filename: str) -> str:
    for marker in ("/site-packages/", "/work/main/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    if "/lib/python" in filename:
        return "stdlib/" + filename.rsplit("/", 1)[-1]
    return filename


def summary(stats: pstats.Stats, top: int = 12) -> list[str]:
    """Two short tables: kflow's own functions by cumulative time, every function by own time."""
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in raw.values()) or 1.0
    rows = [
        (key, nc, tt, ct) for key, (_cc, nc, tt, ct, _callers) in raw.items()
    ]  # key: (file, line, function)
    lines = [f"total {total:.3f} s profiled", "", "kflow functions by cumulative time:"]
    lines.append(f"{'cum s':>8} {'share':>6} {'calls':>8}  function")
    ours = [r for r in rows if "/kflow/" in r[0][0]]
    for (file, line, func), nc, _tt, ct in sorted(ours, key=lambda r: -r[3])[:top]:
        lines.append(f"{ct:8.3f} {ct / total:6.1%} {nc:8d}  {_short(file)}:{line} {func}")
    lines += ["", "all functions by own time:"]
    lines.append(f"{'own s':>8} {'share':>6} {'calls':>8}  function")
    for (file, line, func), nc, tt, _ct in sorted(rows, key=lambda r: -r[2])[:top]:
        lines.append(f"{tt:8.3f} {tt / total:6.1%} {nc:8d}  {_short(file)}:{line} {func}")
    return lines


# --- what is profiled ---------------------------------------------------------------------------


def profile_clicks(args: dict[str, Any], prof: Profiling) -> None:
    from benchmarks.peers.kflow_click import KflowClick
    from benchmarks.transitions_bench import clicks

    cases = [dict(c) for c in args["cases"]]
    contender = KflowClick(args["url"], args["mode"], Path(args["tmp"]))
    try:
        clicks(contender, cases, args["warmup"], 0)
        with prof.section():
            clicks(contender, cases, args["count"], args["warmup"])
    finally:
        contender.close()


def profile_fanout(args: dict[str, Any], prof: Profiling) -> None:
    from benchmarks.fanout import run_kflow

    run_kflow(args, prof.section)


def profile_query(args: dict[str, Any], prof: Profiling) -> None:
    from benchmarks.org import OrgInfo
    from benchmarks.queries_bench import KflowQueries
    from kflow.calendar import local_date
    from kflow.db import utcnow

    info = OrgInfo.from_json(args["org"])
    lead = info.region("vgr")["lead"]
    today = local_date(utcnow()).isoformat()
    q = KflowQueries(args["url"], Path(args["tmp"]))
    calls: dict[str, Callable[[], Any]] = {
        "overview": lambda: q.overview(lead),
        "inbox": lambda: q.inbox(lead),
        "overdue": lambda: q.overdue(lead, today),
        "history": lambda: q.history(args["ks_chair"], args["ks_id"]),
    }
    call = calls[args["query"]]
    try:
        for _ in range(2):
            call()
        with prof.section():
            for _ in range(args["runs"]):
                call()
    finally:
        q.close()


def profile_sweep(args: dict[str, Any], prof: Profiling) -> None:
    import datetime as dt

    from benchmarks.common import kflow_runtime
    from kflow.db import utcnow
    from kflow.jobs.sweep import sweep

    runtime = kflow_runtime(args["url"], "relaxed", Path(args["tmp"]))
    now = utcnow()
    sweep(runtime, now - dt.timedelta(days=30))
    if args.get("idle"):
        sweep(runtime, now)  # sends what is due; the sweeps profiled below find nothing to do
        with prof.section():
            for _ in range(10):
                sweep(runtime, now)
    else:
        with prof.section():
            sweep(runtime, now)
    runtime.engine.dispose()


def memory_sweep(args: dict[str, Any], path: Path) -> dict[str, Any]:
    """tracemalloc's top allocation sites at the sweep's peak."""
    import datetime as dt
    import tracemalloc

    from benchmarks.common import kflow_runtime
    from kflow.db import utcnow
    from kflow.jobs.sweep import sweep

    runtime = kflow_runtime(args["url"], "relaxed", Path(args["tmp"]))
    now = utcnow()
    sweep(runtime, now - dt.timedelta(days=30))
    tracemalloc.start(25)
    sweep(runtime, now)
    snapshot = tracemalloc.take_snapshot()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    runtime.engine.dispose()
    top = snapshot.statistics("filename")[:25]
    lines = [f"peak {peak / 1024 / 1024:.2f} MB; still allocated after the sweep, by file:"]
    lines += [
        f"{s.size / 1024:10.1f} KiB {s.count:8d} blocks  {_short(str(s.traceback[0].filename))}"
        for s in top
    ]
    path.write_text("\n".join(lines) + "\n")
    return {"summary": lines[:14]}


TASKS: dict[str, Callable[[dict[str, Any], Profiling], None]] = {
    "click": profile_clicks,
    "fanout": profile_fanout,
    "query": profile_query,
    "sweep": profile_sweep,
}


def run(args: dict[str, Any]) -> dict[str, Any]:
    path = Path(args["output"])
    if args["task"] == "sweep_memory":
        return memory_sweep(args, path)
    prof = Profiling(args["tool"])
    TASKS[args["task"]](args, prof)
    return prof.write(path)


if __name__ == "__main__":
    worker_main(run)
