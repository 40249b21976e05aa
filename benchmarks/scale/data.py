"""The scale data sets on PostgreSQL, kept between runs.

Each size is one database, ``kflow_scale_<size>_<key>``: kflow's schema migrated, the
benchmark organisation (benchmarks.org), about ``target`` cases with their history exactly as
benchmarks.datagen makes them for SQLite (333 cases a knowledge support, about 3.6 history rows
a case), and the follow-up data at the same scale (benchmarks.followup_bench's organisation of
300 local units a region with 20 tertials of every indicator): knowledge supports of 10
indicators each, one per 260,000 cases and at least one, so every size shows the Uppföljning
page the same ten indicators of 126,000 measurements each, and 3.1M holds 12 such knowledge
supports (120 indicators, 15 million measurements). The rows go in with COPY, then ANALYZE and
a checkpoint.

``key`` is a hash of the schema's head revision and of the generators' source, so a changed
schema or generator builds afresh and a rerun reuses what it built. A data set is built under a
temporary name and renamed only when complete: an interrupted build never leaves a set that
looks whole. The benchmarks read these databases directly (reads change nothing); anything that
writes (the sweep, the import, the HTTP click) works on a copy made with ``CREATE DATABASE ...
TEMPLATE``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.common import BENCH_DIR, log, pg_dsn, pg_url
from benchmarks.datagen import CASE_COLUMNS, Generator, ks_count
from benchmarks.org import OrgInfo, build_template
from kflow.engine.history import EVENT_COLUMNS

SIZES = {"3k": 3_120, "31k": 31_200, "312k": 312_000, "3.1m": 3_120_000}
QUICK_SIZES = {"3k": 3_120, "10k": 9_990}
CASES_PER_FOLLOWUP_KS = 260_000
INDICATORS_PER_KS = 10  # the Uppföljning page's page size: a page of equal content at every size
FOLLOWUP_UNITS = 300
FOLLOWUP_PERIODS = 20
META = "bench_scale_meta"
# Raise when this module's way of building changes (its other code may change freely).
BUILD_VERSION = 2


def key() -> str:
    """What the data sets depend on: the generators' code. (A newer schema does not build them
    afresh: ``ensure`` migrates a kept set forward, as a deployment is.)"""
    digest = hashlib.sha256()
    for name in ("datagen.py", "org.py", "followup_bench.py"):
        digest.update((BENCH_DIR / name).read_bytes())
    digest.update(str(BUILD_VERSION).encode())
    return digest.hexdigest()[:10]


def name(size: str) -> str:
    return f"kflow_scale_{size.replace('.', '_')}_{key()}"


def followup_supports(target: int) -> int:
    return max(1, round(target / CASES_PER_FOLLOWUP_KS))


class PgGenerator(Generator):
    """benchmarks.datagen's generator writing with COPY to PostgreSQL."""

    def flush(self) -> None:
        cur = self.conn.cursor()
        with cur.copy(f"COPY cases ({', '.join(CASE_COLUMNS)}) FROM STDIN") as copy:
            for row in self.cases:
                copy.write_row(row)
        columns = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
        with cur.copy(f"COPY case_events ({columns}) FROM STDIN") as copy:
            for row in self.events:
                copy.write_row(row)
        self.cases.clear()
        self.events.clear()


def _admin() -> Any:
    import psycopg

    return psycopg.connect(pg_dsn("postgres"), autocommit=True)


def exists(db: str) -> bool:
    with _admin() as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
            is not None
        )


def meta(db: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(pg_dsn(db)) as conn:
        row = conn.execute(f"SELECT data FROM {META}").fetchone()
        return dict(json.loads(row[0]))


def ensure(size: str, target: int, tmp: Path) -> dict[str, Any]:
    """The data set of ``size`` (built now if no complete one is kept): its name and facts."""
    db = name(size)
    if exists(db):
        log(f"scale data {size}: kept in {db}")
        _migrate(db, tmp)
        return {"db": db, **meta(db), "reused": True}
    building = f"{db}_building"
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{building}"')
    began = time.perf_counter()
    log(f"scale data {size}: building about {target:,} cases in {building}")
    info = build_template(pg_url(building), tmp)
    facts = _cases(building, info, target, tmp)
    facts["followup"] = _followup(building, followup_supports(target), tmp)
    facts["generated_s"] = round(time.perf_counter() - began, 1)
    facts["org"] = info.to_json()
    _finish(building, facts)
    with _admin() as conn:
        conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{db}"')
    log(f"scale data {size}: built in {facts['generated_s']} s")
    return {"db": db, **facts, "reused": False}


def _migrate(db: str, tmp: Path) -> None:
    """Bring a kept data set to the newest schema (``kflow db upgrade``), then ANALYZE."""
    import psycopg

    from benchmarks.common import kflow_runtime
    from kflow.tools.migrate import upgrade

    with psycopg.connect(pg_dsn(db)) as conn:
        before = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    runtime = kflow_runtime(pg_url(db), "relaxed", tmp)
    upgrade(runtime.engine)
    runtime.engine.dispose()
    with psycopg.connect(pg_dsn(db), autocommit=True) as conn:
        after = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if after != before:
            log(f"migrated {db} from {before[0]} to {after[0]}")
            conn.execute("VACUUM (ANALYZE)")


def _cases(db: str, info: OrgInfo, target: int, tmp: Path) -> dict[str, Any]:
    import psycopg

    from benchmarks.common import kflow_settings

    settings = kflow_settings("sqlite://", tmp)
    now = dt.datetime.now(dt.UTC)
    count = ks_count(target)
    with psycopg.connect(pg_dsn(db)) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET synchronous_commit = off")
        generator = PgGenerator(conn, info, settings, now)  # type: ignore[arg-type]
        for number in range(count):
            generator.knowledge_support(number, count)
            if len(generator.events) > 200_000:
                generator.flush()
        generator.flush()
        # The ids were given by the generator: move the sequences past them.
        for table in ("cases", "case_events"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        conn.commit()
        cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM case_events").fetchone()[0]
        due = conn.execute(
            "SELECT count(*) FROM cases WHERE next_reminder_on <= %s", (generator.today,)
        ).fetchone()[0]
        middle = conn.execute(
            "SELECT c.id, u.id FROM cases c JOIN memberships m ON m.unit_id = c.owner_id "
            "AND m.role = 'chair' JOIN users u ON u.id = m.user_id "
            "WHERE c.type = 'knowledge_support' AND c.title LIKE 'Kunskapsstöd %%' "
            "ORDER BY c.id LIMIT 1 OFFSET %s",
            (count // 2,),
        ).fetchone()
    return {
        "knowledge_supports": count,
        "cases": cases,
        "events": events,
        "due_today": due,
        "history_ks": middle[0],
        "history_chair": middle[1],
        "now": now.isoformat(),
    }


def _followup(db: str, supports: int, tmp: Path) -> dict[str, Any]:
    from benchmarks.followup_bench import build

    return dict(
        build(
            {
                "url": pg_url(db),
                "knowledge_supports": supports,
                "indicators": supports * INDICATORS_PER_KS,
                "units": FOLLOWUP_UNITS,
                "periods": FOLLOWUP_PERIODS,
                "tmp": str(tmp),
            }
        )
    )


def _finish(db: str, facts: dict[str, Any]) -> None:
    import psycopg

    with psycopg.connect(pg_dsn(db), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute(f"CREATE TABLE {META} (data text NOT NULL)")
        conn.execute(f"INSERT INTO {META} VALUES (%s)", (json.dumps(facts),))
        conn.execute("CHECKPOINT")


def copy(source: str, label: str) -> str:
    """A writable copy of a data set (dropped by ``drop``)."""
    target = f"{source}_{label}"
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        # FILE_COPY copies the files after a checkpoint; PostgreSQL 15's default (WAL_LOG)
        # writes every block of a 6 GB set through the WAL, several times slower.
        strategy = " STRATEGY = FILE_COPY" if conn.info.server_version >= 150000 else ""
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"{strategy}')
    return target


def empty(db: str) -> str:
    """A new, empty database (for an import)."""
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    return db


def drop(db: str) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def stale() -> list[str]:
    """Kept data sets of an older schema or generator (``--prune`` drops them)."""
    current = key()
    with _admin() as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'kflow_scale_%%'"
            )
        ]
    return [n for n in names if not n.split("_building")[0].endswith(current)]


__all__ = ["QUICK_SIZES", "SIZES", "Path", "copy", "drop", "ensure", "name", "stale"]
