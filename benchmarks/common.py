"""Shared helpers: kflow settings and runtimes for a benchmark database, SQLite modes, PostgreSQL
databases of our own, timing, percentiles, worker subprocesses and the machine description."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
PG_ADMIN_URL = os.environ.get(
    "KFLOW_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

# The two SQLite modes every SQLite contender runs in. Both use WAL; they differ in when a commit
# is on disk: FULL syncs the WAL on every commit, NORMAL only at checkpoints.
SQLITE_MODES = {"durable": "FULL", "relaxed": "NORMAL"}
SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


# --- kflow --------------------------------------------------------------------------------------


def kflow_settings(url: str, tmp: Path) -> Any:
    from kflow.config import load_settings

    return load_settings(
        environ={},
        overrides={
            "environment": "development",
            "database_url": url,
            "mail": {"backend": "file", "dir": str(tmp / "mail")},
        },
    )


def sqlite_pragmas(mode: str) -> Callable[[Any, Any], None]:
    """A `connect` listener that sets the mode's synchronous level (runs after kflow's own)."""
    level = SQLITE_MODES[mode]

    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={level}")
        cursor.close()

    return _on_connect


def kflow_runtime(url: str, mode: str, tmp: Path) -> Any:
    """kflow's Runtime for ``url``; on SQLite with the mode's PRAGMA synchronous."""
    from sqlalchemy import event

    from kflow.runtime import Runtime

    runtime = Runtime.create(kflow_settings(url, tmp))
    if url.startswith("sqlite"):
        event.listen(runtime.engine, "connect", sqlite_pragmas(mode))
        runtime.engine.dispose()  # no connection opened before the listener was added
    return runtime


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def engine_pragmas(engine: Any) -> dict[str, str]:
    """journal_mode and synchronous as one pooled connection of ``engine`` sees them."""
    with engine.connect() as conn:
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    return {"journal_mode": str(journal).lower(), "synchronous": SYNCHRONOUS_NAMES[int(sync)]}


def connection_pragmas(conn: sqlite3.Connection) -> dict[str, str]:
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    sync = conn.execute("PRAGMA synchronous").fetchone()[0]
    return {"journal_mode": str(journal).lower(), "synchronous": SYNCHRONOUS_NAMES[int(sync)]}


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (WAL included), through the backup API."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
    finally:
        dst.close()
        src.close()


# --- PostgreSQL ---------------------------------------------------------------------------------


def pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def pg_dsn(name: str) -> str:
    """The libpq form of pg_url (for psycopg without SQLAlchemy)."""
    return pg_url(name).replace("postgresql+psycopg://", "postgresql://")


class PgDatabases:
    """PostgreSQL databases created for this run, all dropped by ``drop_all``."""

    def __init__(self) -> None:
        import sqlalchemy as sa

        self.prefix = f"kflow_bench_{uuid.uuid4().hex[:10]}"
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def available(self) -> str | None:
        """None if PostgreSQL answers, else why not."""
        try:
            with self.admin.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception as exc:  # any driver or network error: skip PostgreSQL, say why
            return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc).strip()[:200]}"
        return None

    def create(self, label: str, template: str | None = None) -> str:
        name = f"{self.prefix}_{label}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            extra = f' TEMPLATE "{template}"' if template else ""
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{extra}')
        self.names.append(name)
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.names:
            self.names.remove(name)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT datname FROM pg_database WHERE datname LIKE %(p)s",
                {"p": f"{self.prefix}%"},
            ).scalars()
            for name in list(rows):
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.clear()
        self.admin.dispose()

    def server_version(self) -> str:
        with self.admin.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar())


# --- timing -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50, p95 and mean of samples in seconds, as milliseconds."""
    return {
        "p50_ms": round(percentile(samples, 50) * 1000, 3),
        "p95_ms": round(percentile(samples, 95) * 1000, 3),
        "mean_ms": round(statistics.fmean(samples) * 1000, 3) if samples else float("nan"),
        "n": len(samples),
    }


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def log(message: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


# --- workers ------------------------------------------------------------------------------------


def run_worker(module: str, args: dict[str, Any], tmp: Path, timeout: float = 1800) -> Any:
    """Run ``python -m module`` with ``args`` (JSON) in a fresh process; return its JSON result.

    Each contender runs alone in its own interpreter: no shared caches, settings (Django) or
    garbage between contenders, and its peak RSS is its own.
    """
    out = tmp / f"result-{uuid.uuid4().hex[:8]}.json"
    payload = json.dumps({**args, "result_path": str(out)})
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("KFLOW_CONFIG", None)
    completed = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", module, payload],
        cwd=ROOT,
        env=env,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        shown = {k: v for k, v in args.items() if not isinstance(v, list | dict)}
        raise RuntimeError(f"worker {module} failed (exit {completed.returncode}) with {shown}")
    return json.loads(out.read_text())


def worker_main(handler: Callable[[dict[str, Any]], Any]) -> None:
    """Entry point of a worker module: read the JSON argument, write the JSON result."""
    args = json.loads(sys.argv[1])
    result = handler(args)
    Path(args["result_path"]).write_text(json.dumps(result))


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    VmHWM, not getrusage's ru_maxrss: Linux carries the parent's high-water mark into a child's
    ru_maxrss across fork and exec, so a worker started by a big parent would report the
    parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --- the machine --------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(  # noqa: S603 (read-only git queries)
            ["git", *args],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    # Dirty: uncommitted changes to what is measured (not to the benchmarks themselves).
    changed = git("status", "--porcelain", "--", "kflow", "migrations", "config")
    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(changed)}


def machine_info(pg_version: str | None) -> dict[str, Any]:
    dists = (
        "kflow",
        "SQLAlchemy",
        "transitions",
        "psycopg",
        "Django",
        "django-fsm-2",
        "django-fsm-log",
        "SpiffWorkflow",
        "pyinstrument",
    )
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_version,
        "libraries": {name: _version(name) for name in dists},
        "git": _git(),
    }
