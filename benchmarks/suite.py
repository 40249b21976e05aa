"""The benchmark suite: builds the fixtures, runs every benchmark in worker processes, judges
the targets, profiles kflow where it misses one, and writes results.json and the Markdown page.

    python -m benchmarks                 # the full suite (make bench)
    python -m benchmarks --quick --out DIR/results.json --md DIR/benchmarks.md   # make bench-quick

Everything it creates (SQLite files, PostgreSQL databases) lives in a temporary directory or
is dropped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.common import (
    BENCH_DIR,
    ROOT,
    PgDatabases,
    copy_sqlite,
    log,
    machine_info,
    pg_url,
    run_worker,
    sqlite_url,
)
from benchmarks.datagen import ks_count
from benchmarks.org import OrgInfo, build_template, build_transition_cases
from benchmarks.transitions_bench import CONTENDERS, PG_CONTENDERS

FULL: dict[str, Any] = {
    "transitions": {"ks": 10, "warmup": 300, "count": 3000, "repeats": 3},
    "fanout": {"ks": 10, "repeats": 3},
    "queries": {"sizes": {"3k": 3_120, "31k": 31_200, "312k": 312_000}, "warmup": 3, "runs": 40},
    "profiles": {"clicks": 1500, "query_runs": 10},
    "followup": {
        "units": 300,
        "indicators": 20,
        "tenth_indicators": 2,
        "periods": 12,
        "warmup": 3,
        "runs": 30,
        "import_lines": 100_000,
        "import_repeats": 3,
    },
}
QUICK: dict[str, Any] = {
    "transitions": {"ks": 2, "warmup": 10, "count": 60, "repeats": 1},
    "fanout": {"ks": 2, "repeats": 1},
    "queries": {"sizes": {"3k": 3_120, "31k": 6_660, "312k": 9_990}, "warmup": 1, "runs": 3},
    "profiles": {"clicks": 50, "query_runs": 2},
    "followup": {
        "units": 4,
        "indicators": 3,
        "tenth_indicators": 1,
        "periods": 3,
        "warmup": 1,
        "runs": 3,
        "import_lines": 300,
        "import_repeats": 1,
    },
}
EXPECTED_SYNC = {"durable": "FULL", "relaxed": "NORMAL"}


class Suite:
    def __init__(
        self,
        quick: bool,
        tmp: Path,
        profiles_dir: Path,
        profile: bool,
        only: list[str] | None = None,
        contenders: list[str] | None = None,
        keep: bool = False,
    ) -> None:
        self.quick = quick
        self.keep = keep
        self.only = only
        self.contenders = contenders
        self.cfg = QUICK if quick else FULL
        self.tmp = tmp
        self.profiles_dir = profiles_dir
        self.profile = profile
        self.pg = PgDatabases()
        self.pg_problem = self.pg.available()
        self.results: dict[str, Any] = {}
        self.org_db = tmp / "org.db"
        self.info: OrgInfo | None = None
        # Fixtures kept for the profiles.
        self.fixtures: dict[str, Any] = {}

    # --- fixtures ---------------------------------------------------------------------------

    def build_org(self) -> OrgInfo:
        log("organisation: migrating and loading the reference data, units and people")
        self.info = build_template(sqlite_url(self.org_db), self.tmp)
        return self.info

    def fresh_copy(self, source: Path, name: str) -> Path:
        target = self.tmp / f"{name}.db"
        copy_sqlite(source, target)
        return target

    @staticmethod
    def remove(path: Path) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    # --- transitions ------------------------------------------------------------------------

    def transitions(self) -> None:
        assert self.info is not None
        cfg = self.cfg["transitions"]
        fixture = self.fresh_copy(self.org_db, "transitions-fixture")
        cases = build_transition_cases(sqlite_url(fixture), self.tmp, self.info, cfg["ks"])
        self.fixtures["transitions"] = {"path": fixture, "cases": cases}
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
        order = [c for c in CONTENDERS if not self.contenders or c in self.contenders]
        for rep in range(cfg["repeats"]):
            for mode in ("durable", "relaxed"):
                for name in order:
                    db = self.fresh_copy(fixture, f"t-{mode}-{name}")
                    log(f"transitions {mode} {name} (run {rep + 1}/{cfg['repeats']})")
                    result = run_worker(
                        "benchmarks.transitions_bench",
                        {
                            "contender": name,
                            "mode": mode,
                            "url": sqlite_url(db),
                            "cases": cases,
                            "warmup": cfg["warmup"],
                            "count": cfg["count"],
                            "tmp": str(self.tmp),
                        },
                        self.tmp,
                    )
                    sync = result["pragmas"].get("synchronous")
                    if (
                        result["pragmas"].get("journal_mode") != "wal"
                        or sync != EXPECTED_SYNC[mode]
                    ):
                        raise AssertionError(f"{name} ran {mode} with {result['pragmas']}")
                    runs.setdefault(mode, {}).setdefault(name, []).append(result)
                    self.remove(db)
            order = order[1:] + order[:1]  # a different contender goes first each round
        if self.pg_problem is None:
            runs["postgresql"] = self.transitions_postgresql(cfg)
        else:
            log(f"transitions on PostgreSQL skipped: {self.pg_problem}")
        summary: dict[str, dict[str, float]] = {}
        detail: dict[str, Any] = {"cases": len(cases)}
        for mode, by_name in runs.items():
            for name, results in by_name.items():
                ordered = sorted(results, key=lambda r: r["ops_per_s"])
                median = ordered[len(ordered) // 2]
                summary.setdefault(mode, {})[name] = round(
                    statistics.median(r["ops_per_s"] for r in results), 1
                )
                detail.setdefault(mode, {})[name] = {
                    "runs_ops_per_s": [r["ops_per_s"] for r in results],
                    **{k: v for k, v in median.items() if k != "ops_per_s"},
                }
        self.results["transitions"] = summary
        self.results["transitions_detail"] = detail

    def transitions_postgresql(self, cfg: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        assert self.info is not None
        log("transitions on PostgreSQL: building the template database")
        template = self.pg.create("tmpl")
        info = build_template(pg_url(template), self.tmp)
        cases = build_transition_cases(pg_url(template), self.tmp, info, cfg["ks"])
        self.fixtures["postgresql"] = {"template": template, "cases": cases}
        runs: dict[str, list[dict[str, Any]]] = {}
        order = [c for c in PG_CONTENDERS if not self.contenders or c in self.contenders]
        for rep in range(cfg["repeats"]):
            for name in order:
                db = self.pg.create(f"run_{name}", template=template)
                log(f"transitions postgresql {name} (run {rep + 1}/{cfg['repeats']})")
                try:
                    result = run_worker(
                        "benchmarks.transitions_bench",
                        {
                            "contender": name,
                            "mode": "postgresql",
                            "url": pg_url(db),
                            "cases": cases,
                            "warmup": cfg["warmup"],
                            "count": cfg["count"],
                            "tmp": str(self.tmp),
                        },
                        self.tmp,
                    )
                finally:
                    self.pg.drop(db)
                runs.setdefault(name, []).append(result)
            order = order[1:] + order[:1]
        return runs

    # --- fan-out ----------------------------------------------------------------------------

    def fanout(self) -> None:
        from benchmarks.fanout import build_fixture

        assert self.info is not None
        cfg = self.cfg["fanout"]
        fixture = self.fresh_copy(self.org_db, "fanout-fixture")
        supports = build_fixture(sqlite_url(fixture), self.tmp, self.info, cfg["ks"])
        self.fixtures["fanout"] = {"path": fixture, "supports": supports}
        runs: dict[str, list[dict[str, Any]]] = {"kflow": [], "raw": []}
        for rep in range(cfg["repeats"]):
            for name in ("kflow", "raw") if rep % 2 == 0 else ("raw", "kflow"):
                db = self.fresh_copy(fixture, f"fanout-{name}")
                log(f"fan-out {name} (run {rep + 1}/{cfg['repeats']})")
                runs[name].append(
                    run_worker(
                        "benchmarks.fanout",
                        {
                            "contender": name,
                            "mode": "relaxed",
                            "url": sqlite_url(db),
                            "org": self.info.to_json(),
                            "supports": supports,
                            "tmp": str(self.tmp),
                        },
                        self.tmp,
                    )
                )
                self.remove(db)
        effects = {json.dumps(r["effect"], sort_keys=True) for r in runs["kflow"] + runs["raw"]}
        if len(effects) != 1:
            raise AssertionError("fan-out: kflow and raw SQL left different rows")

        def median(name: str, key: str) -> float:
            return round(statistics.median(r[key] for r in runs[name]), 4)

        effect = runs["kflow"][0]["effect"]
        self.results["fanout"] = {
            "kflow_s": median("kflow", "total_s"),
            "raw_s": median("raw", "total_s"),
            "kflow_publish_s": median("kflow", "publish_s"),
            "raw_publish_s": median("raw", "publish_s"),
            "kflow_handoff_s": median("kflow", "handoff_s"),
            "raw_handoff_s": median("raw", "handoff_s"),
            "knowledge_supports": len(supports),
            "adaptations": effect["cases"].get("regional_adaptation:implementing", 0),
            "implementations": effect["cases"].get("local_implementation:assigned", 0),
            "outbox_mails": effect["outbox"],
            "repeats": cfg["repeats"],
            "runs": {name: [r["total_s"] for r in rs] for name, rs in runs.items()},
        }

    # --- queries and the sweep --------------------------------------------------------------

    def datasets(self) -> None:
        assert self.info is not None
        cfg = self.cfg["queries"]
        self.results["datasets"] = {}
        self.results["queries"] = {}
        self.results["sweep"] = {}
        now = dt.datetime.now(dt.UTC)
        for size, target in cfg["sizes"].items():
            db = self.fresh_copy(self.org_db, f"data-{size}")
            log(f"data set {size}: generating about {target:,} cases")
            began = time.perf_counter()
            stats = run_worker(
                "benchmarks.datagen",
                {
                    "path": str(db),
                    "org": self.info.to_json(),
                    "target": target,
                    "now": now.isoformat(),
                    "tmp": str(self.tmp),
                },
                self.tmp,
            )
            stats["generated_s"] = round(time.perf_counter() - began, 2)
            self.results["datasets"][size] = stats
            ks_id, ks_chair = self.history_subject(db)
            self.fixtures.setdefault("datasets", {})[size] = {
                "path": db,
                "ks_id": ks_id,
                "ks_chair": ks_chair,
            }
            log(f"queries at {size} ({stats['cases']:,} cases, {stats['events']:,} history rows)")
            self.results["queries"][size] = run_worker(
                "benchmarks.queries_bench",
                {
                    "url": sqlite_url(db),
                    "org": self.info.to_json(),
                    "ks_id": ks_id,
                    "ks_chair": ks_chair,
                    "same_page": ks_count(min(cfg["sizes"].values())),
                    "warmup": cfg["warmup"],
                    "runs": cfg["runs"],
                    "tmp": str(self.tmp),
                },
                self.tmp,
            )
            sweep: dict[str, Any] = {}
            for measure in ("time", "memory"):
                copy = self.fresh_copy(db, f"sweep-{size}-{measure}")
                log(f"reminder sweep at {size} ({measure})")
                result = run_worker(
                    "benchmarks.sweep_bench",
                    {"url": sqlite_url(copy), "measure": measure, "tmp": str(self.tmp)},
                    self.tmp,
                )
                self.remove(copy)
                if measure == "memory":
                    sweep["peak_mb"] = result["peak_mb"]
                    sweep["peak_rss_mb_memory_run"] = result["peak_rss_mb"]
                else:
                    sweep.update(result)
            self.results["sweep"][size] = sweep
            if not (self.profile or self.keep):
                self.remove(db)

    def history_subject(self, db: Path) -> tuple[int, int]:
        """The knowledge support in the middle of the data set, and its NPO's chair."""
        assert self.info is not None
        conn = sqlite3.connect(db)
        try:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM cases WHERE type = 'knowledge_support' ORDER BY id"
                )
            ]
            ks_id = ids[len(ids) // 2]
            owner = conn.execute("SELECT owner_id FROM cases WHERE id = ?", (ks_id,)).fetchone()[0]
        finally:
            conn.close()
        chair = next(n["chair"] for n in self.info.npos if n["id"] == owner)
        return ks_id, chair

    # --- follow-up -----------------------------------------------------------------------------

    def followup(self) -> None:
        """The roll-up at full size and a tenth, and the CSV import, on SQLite and PostgreSQL."""
        assert self.info is not None
        cfg = self.cfg["followup"]
        out: dict[str, Any] = {}
        backends = ["sqlite"] + ([] if self.pg_problem else ["postgresql"])
        for backend in backends:
            out[backend] = {"rollup": {}, "import": {}}
            for size, indicators in (
                ("full", cfg["indicators"]),
                ("tenth", cfg["tenth_indicators"]),
            ):
                url = self.followup_db(backend, f"fu_{size}")
                log(f"follow-up {backend} {size}: {indicators} indicators × {cfg['units']} units")
                built = run_worker(
                    "benchmarks.followup_bench",
                    {"task": "build", "url": url, "units": cfg["units"], "indicators": indicators,
                     "periods": cfg["periods"]},
                    self.tmp,
                    timeout=3600,
                )  # fmt: skip
                periods = built["periods"]
                measured = run_worker(
                    "benchmarks.followup_bench",
                    {"task": "rollup", "url": url, "indicator": built["indicators"][0],
                     "period": periods[-1], "previous": periods[-2] if len(periods) > 1 else "",
                     "warmup": cfg["warmup"], "runs": cfg["runs"], "tmp": str(self.tmp)},
                    self.tmp,
                )  # fmt: skip
                measured["measurements"] = built["measurements"]
                out[backend]["rollup"][size] = measured
                self.drop_followup_db(url)
            runs: dict[str, list[float]] = {"kflow": [], "raw": []}
            for rep in range(cfg["import_repeats"]):
                for side in ("kflow", "raw"):
                    url = self.followup_db(backend, f"fu_import_{side}")
                    run_worker(
                        "benchmarks.followup_bench",
                        {"task": "build", "url": url, "units": cfg["units"],
                         "indicators": cfg["indicators"], "periods": 0},
                        self.tmp,
                    )  # fmt: skip
                    log(f"follow-up {backend} import ({side}, run {rep + 1})")
                    vgr = self.followup_info(backend).region("vgr")
                    result = run_worker(
                        "benchmarks.followup_bench",
                        {"task": "import", "side": side, "url": url,
                         "lines": cfg["import_lines"], "region": vgr["id"],
                         "coordinator": vgr["coordinator"], "tmp": str(self.tmp)},
                        self.tmp,
                    )  # fmt: skip
                    runs[side].append(result["seconds"])
                    self.drop_followup_db(url)
            out[backend]["import"] = {
                "lines": cfg["import_lines"],
                "kflow_s": statistics.median(runs["kflow"]),
                "raw_s": statistics.median(runs["raw"]),
                "runs": runs,
            }
        self.results["followup"] = out

    def followup_db(self, backend: str, name: str) -> str:
        """A fresh database with the benchmark organisation."""
        if backend == "sqlite":
            return sqlite_url(self.fresh_copy(self.org_db, name))
        template = self.fixtures.get("followup_template")
        if template is None:
            template = self.pg.create("futmpl")
            self.fixtures["followup_info"] = build_template(pg_url(template), self.tmp)
            self.fixtures["followup_template"] = template
        return pg_url(self.pg.create(name, template=template))

    def followup_info(self, backend: str) -> OrgInfo:
        assert self.info is not None
        return self.info if backend == "sqlite" else self.fixtures["followup_info"]

    def drop_followup_db(self, url: str) -> None:
        if url.startswith("sqlite"):
            self.remove(Path(url.removeprefix("sqlite:///")))
        else:
            self.pg.drop(url.rsplit("/", 1)[1])

    # --- profiles for the targets kflow misses ----------------------------------------------

    def profiles(self, targets: list[dict[str, Any]]) -> None:
        failing = [t for t in targets if t["status"] == "FAIL"]
        if not self.profile:
            return
        self.profiles_dir.mkdir(parents=True, exist_ok=True)
        for old in self.profiles_dir.glob("*.txt"):  # an earlier run's, of targets now met
            old.unlink()
        if not failing:
            return
        plan = self.profile_plan(failing)
        if self.quick:  # a smoke run only checks that profiling works
            plan = dict(list(plan.items())[:2])
        out: dict[str, Any] = {}
        for name, (targets_hit, task) in plan.items():
            log(f"profiling kflow: {name}")
            files = []
            summary: list[str] = []
            for tool in ("cprofile", "pyinstrument") if task["task"] != "sweep_memory" else ("",):
                suffix = f".{tool}" if tool else ""
                path = self.profiles_dir / f"{name}{suffix}.txt"
                args = dict(task, tool=tool, output=str(path), tmp=str(self.tmp))
                args["url"] = self.profile_db(task)
                try:
                    result = run_worker("benchmarks.profiles", args, self.tmp)
                finally:
                    self.drop_profile_db(args["url"])
                shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                files.append(str(shown))
                summary = result.get("summary") or summary
            out[name] = {"targets": targets_hit, "files": files, "summary": summary}
        self.results["profiles"] = out

    def profile_plan(
        self, failing: list[dict[str, Any]]
    ) -> dict[str, tuple[list[str], dict[str, Any]]]:
        """One profile per benchmark behind a failing target (several targets may share one)."""
        assert self.info is not None
        plan: dict[str, tuple[list[str], dict[str, Any]]] = {}
        pcfg = self.cfg["profiles"]
        for target in failing:
            key = target["key"]
            kind = key.get("kind")
            task: dict[str, Any] | None = None
            if kind == "transitions" and key["mode"] == "postgresql":
                if "postgresql" in self.fixtures:
                    pg = self.fixtures["postgresql"]
                    name = "click-postgresql"
                    task = {
                        "task": "click",
                        "mode": "postgresql",
                        "pg_template": pg["template"],
                        "cases": pg["cases"],
                        "warmup": 100,
                        "count": pcfg["clicks"],
                    }
            elif kind == "transitions":
                tr = self.fixtures["transitions"]
                name = f"click-{key['mode']}"
                task = {
                    "task": "click",
                    "mode": key["mode"],
                    "source": str(tr["path"]),
                    "cases": tr["cases"],
                    "warmup": 100,
                    "count": pcfg["clicks"],
                }
            elif kind == "fanout":
                fx = self.fixtures["fanout"]
                name = "fanout"
                task = {
                    "task": "fanout",
                    "mode": "relaxed",
                    "source": str(fx["path"]),
                    "org": self.info.to_json(),
                    "supports": fx["supports"],
                }
            elif kind == "query":
                ds = self.fixtures["datasets"]["312k"]
                name = f"query-{key['query']}-312k"
                task = {
                    "task": "query",
                    "query": key["query"],
                    "source": str(ds["path"]),
                    "org": self.info.to_json(),
                    "ks_id": ds["ks_id"],
                    "ks_chair": ds["ks_chair"],
                    "runs": pcfg["query_runs"],
                }
            elif kind == "sweep_memory":
                name = "sweep-memory-312k"
                task = {
                    "task": "sweep_memory",
                    "source": str(self.fixtures["datasets"]["312k"]["path"]),
                }
            elif kind == "sweep":
                idle = key.get("phase") == "idle"
                name = "sweep-idle-312k" if idle else "sweep-312k"
                task = {
                    "task": "sweep",
                    "idle": idle,
                    "source": str(self.fixtures["datasets"]["312k"]["path"]),
                }
            if task is not None:
                plan.setdefault(name, ([], task))[0].append(target["target"])
        return plan

    def profile_db(self, task: dict[str, Any]) -> str:
        if "pg_template" in task:
            return pg_url(self.pg.create("profile", template=task["pg_template"]))
        copy = self.fresh_copy(Path(task["source"]), "profile")
        return sqlite_url(copy)

    def drop_profile_db(self, url: str) -> None:
        if url.startswith("sqlite"):
            self.remove(Path(url.removeprefix("sqlite:///")))
        else:
            self.pg.drop(url.rsplit("/", 1)[1])

    # --- all of it --------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        began = time.perf_counter()
        pg_version = None if self.pg_problem else self.pg.server_version()
        self.results["machine"] = machine_info(pg_version)
        try:
            self.build_org()
            if self.only is not None:
                # A developer's partial run: the parts asked for, no targets, no profiles.
                for part in self.only:
                    getattr(self, part)()
                return self.results
            self.transitions()
            self.fanout()
            self.datasets()
            self.followup()
            targets = report.evaluate(self.results)
            self.profiles(targets)
        finally:
            if self.pg_problem is None:
                self.pg.drop_all()
        self.results["targets"] = targets
        self.results["suite"] = {
            "mode": "quick" if self.quick else "full",
            "config": self.cfg,
            "elapsed_s": round(time.perf_counter() - began, 1),
            "postgresql_skipped": self.pg_problem,
        }
        return self.results


def partial_run(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="kflow-bench-"))
    suite = Suite(
        args.quick,
        tmp,
        tmp / "profiles",
        profile=False,
        only=args.only.split(","),
        contenders=args.contenders.split(",") if args.contenders else None,
        keep=args.keep,
    )
    if args.repeats:
        suite.cfg = {k: {**v, "repeats": args.repeats} for k, v in suite.cfg.items()}
    try:
        results = suite.run()
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run for CI")
    parser.add_argument(
        "--out",
        type=Path,
        help="results.json to write (default: benchmarks/results.json; with --quick, a "
        "temporary folder, so a smoke run never overwrites the real results)",
    )
    parser.add_argument(
        "--md",
        type=Path,
        help="Markdown page (default: docs/benchmarks.md; --quick: next to --out)",
    )
    parser.add_argument(
        "--profiles-dir", type=Path, help="where profiles go (default: next to --out)"
    )
    parser.add_argument(
        "--no-profiles", action="store_true", help="do not profile the failing targets"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases")
    parser.add_argument(
        "--only",
        help="comma-separated parts to run (transitions, fanout, datasets, followup); prints "
        "the numbers "
        "and writes nothing",
    )
    parser.add_argument("--contenders", help="comma-separated contenders for --only transitions")
    parser.add_argument("--repeats", type=int, help="with --only: repeats per measurement")
    args = parser.parse_args(argv)
    if args.only:
        return partial_run(args)
    if args.out is None:
        if args.quick:
            args.out = Path(tempfile.mkdtemp(prefix="kflow-bench-quick-")) / "results.json"
        else:
            args.out = BENCH_DIR / "results.json"
    if args.md is None:
        args.md = (
            args.out.parent / "benchmarks.md" if args.quick else ROOT / "docs" / "benchmarks.md"
        )
    tmp = Path(tempfile.mkdtemp(prefix="kflow-bench-"))
    profiles_dir = args.profiles_dir or args.out.parent / "profiles"
    log(f"kflow benchmarks ({'quick' if args.quick else 'full'}); working in {tmp}")
    suite = Suite(args.quick, tmp, profiles_dir, profile=not args.no_profiles, keep=args.keep)
    try:
        results = suite.run()
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text(report.render(results))
    failing = [t["target"] for t in results["targets"] if t["status"] == "FAIL"]
    log(
        f"wrote {args.out} and {args.md}: {len(results['targets']) - len(failing)} of "
        f"{len(results['targets'])} targets pass"
    )
    for target in failing:
        log(f"  FAIL {target}")
    return 0
