"""Read queries at one data-set size: kflow's own code path against a hand-written SQL twin.

Each measured call is one request's worth of work: kflow's side opens a session
(``Runtime.transaction(write=False)``), loads the user, builds their ``Authority`` and calls the
service; the twin runs its SQL on a stdlib sqlite3 connection (prepared statements) in one read
transaction. Before timing, every pair is run once and their answers compared (the same ids in
the same order and the same totals), so the twin answers exactly kflow's question.

* overview: ``overview_data.overview`` first page (50 knowledge supports, their adaptations and
  implementation counts per region and state), as Översikt shows it.
* overview_same_page: the same with the page every data set fills (as many knowledge supports
  as the smallest set holds: 9), so that the sizes compare one page of equal content.
* inbox: ``inbox_list.inbox`` first page (100) with its total, for the process lead of VGR (the
  busiest inbox: every adaptation and many local implementations in the region).
* overdue: the cases the same person may see whose due date has passed, earliest first (50) with
  the total: ``overdue_list.overdue``.
* history: one knowledge support's whole history across the tiers (about 1,200 rows), read by
  its NPO's chair as the case page's download does (/arenden/<id>/historik.csv):
  ``readable_case``, then ``case_history.all_chain_history``. The twin is one query.
* history_pages (shown, not a target): the same rows as a client of the API's chain-history
  endpoint reads them, ``case_history.chain_history`` page by page (500 rows a page, each with the
  total), against the same twin.

``python -m benchmarks.queries_bench '{json}'`` (the suite calls it).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import kflow_runtime, summarize_ms, worker_main
from benchmarks.org import OrgInfo
from kflow.runtime import settle_heap

QUERIES = ("overview", "overview_same_page", "inbox", "overdue", "history", "history_pages")
OVERVIEW_LIMIT = 50
INBOX_LIMIT = 100
OVERDUE_LIMIT = 50
PAGE = 500
# A twin that takes seconds a call (the naive overdue query at 3.1 million cases) is timed
# only until it has run TWIN_MIN_RUNS times and TWIN_BUDGET_S in all.
TWIN_MIN_RUNS = 5
TWIN_BUDGET_S = 15.0


# --- kflow --------------------------------------------------------------------------------------


class KflowQueries:
    def __init__(self, url: str, tmp: Path) -> None:
        self.runtime = kflow_runtime(url, "relaxed", tmp)

    def _authority(self, session: Any, user_id: int) -> Any:
        from kflow.engine.authority import Actor, Authority
        from kflow.org.models import User

        return Authority(session, Actor(session.get(User, user_id)))

    def overview(self, user_id: int, limit: int = OVERVIEW_LIMIT) -> Any:
        from kflow.queries import overview as overview_data

        with self.runtime.transaction(write=False) as session:
            self._authority(session, user_id)
            page = overview_data.overview(session, limit=limit)
            return {
                "ids": [row.knowledge_support.id for row in page.items],
                "total": page.total,
                "adaptations": sum(len(row.adaptations) for row in page.items),
                "implementations": sum(
                    n
                    for row in page.items
                    for s in row.implementations.values()
                    for n in s.values()
                ),
            }

    def inbox(self, user_id: int) -> Any:
        from kflow.queries import inbox as inbox_list

        with self.runtime.transaction(write=False) as session:
            page = inbox_list.inbox(session, self._authority(session, user_id), limit=INBOX_LIMIT)
            return {"ids": [c.id for c in page.items], "total": page.total}

    def overdue(self, user_id: int, today: str) -> Any:
        import datetime as dt

        from kflow.queries import overdue as overdue_list

        with self.runtime.transaction(write=False) as session:
            authority = self._authority(session, user_id)
            page = overdue_list.overdue(
                session, authority, dt.date.fromisoformat(today), limit=OVERDUE_LIMIT
            )
            return {"ids": [c.id for c in page.items], "total": page.total}

    @contextlib.contextmanager
    def _chain(self, user_id: int, ks_id: int) -> Iterator[tuple[Any, Any, Any]]:
        """A read transaction with the user's authority and the knowledge support they read."""
        from kflow.engine.read import readable_case

        with self.runtime.transaction(write=False) as session:
            authority = self._authority(session, user_id)
            yield session, authority, readable_case(session, authority, ks_id, "knowledge_support")

    def history(self, user_id: int, ks_id: int) -> Any:
        from kflow.queries import history as case_history

        with self._chain(user_id, ks_id) as (session, authority, ks):
            events = case_history.all_chain_history(session, authority, ks)
            return {"events": len(events), "ids_sum": sum(e.id for e in events)}

    def history_pages(self, user_id: int, ks_id: int) -> Any:
        from kflow.queries import history as case_history

        with self._chain(user_id, ks_id) as (session, authority, ks):
            events: list[Any] = []
            offset = 0
            while True:  # the API's chain-history pages, as a client reads them all
                page = case_history.chain_history(session, authority, ks, limit=PAGE, offset=offset)
                events += page.items
                offset += PAGE
                if offset >= page.total:
                    break
            return {"events": len(events), "ids_sum": sum(e.id for e in events)}

    def close(self) -> None:
        self.runtime.engine.dispose()


# --- the twins ----------------------------------------------------------------------------------


def wait_states(roles: set[str]) -> list[tuple[str, str, str, bool, list[str]]]:
    """(case type, role, scope, near_due, states) where a case waits for a role (Min inkorg's
    rule, from the machines' ``waits`` declarations, once, before timing; the SQL itself is
    written out below)."""
    from kflow.states import MACHINES

    found: dict[tuple[str, str, str, bool], set[str]] = {}
    for case_type, machine in MACHINES.items():
        for state, wait in machine.waits.items():
            for grants in machine.waited_grants(state).values():
                for grant in grants:
                    if grant.role in roles:
                        key = (case_type, grant.role, str(grant.scope), wait.near_due)
                        found.setdefault(key, set()).add(state)
    return [(t, r, s, n, sorted(states)) for (t, r, s, n), states in sorted(found.items())]


def near_day() -> str:
    """The last due date that counts as near today (the inbox's default)."""
    from kflow.calendar import local_date
    from kflow.db import utcnow
    from kflow.queries.inbox import near_until

    return near_until(local_date(utcnow())).isoformat()


USER = object()  # stands for the user id in a parameter list


class PgConnection:
    """A psycopg connection that takes the twins' SQL as written for sqlite3 (``?`` marks),
    in autocommit mode so their own BEGIN and COMMIT frame each call; statements are prepared
    on first use, as sqlite3's statement cache does."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=0)

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s"), params)

    def close(self) -> None:
        self.conn.close()


class SqlQueries:
    def __init__(self, path: Path | PgConnection, inbox_user: int) -> None:
        self.conn: Any = (
            path
            if isinstance(path, PgConnection)
            else sqlite3.connect(path, isolation_level=None, cached_statements=64)
        )
        roles = {
            r
            for (r,) in self.conn.execute(
                "SELECT role FROM memberships WHERE user_id = ?", (inbox_user,)
            )
        }
        reach = (
            "(SELECT uc.descendant_id FROM unit_closure uc JOIN memberships m "
            "ON m.unit_id = uc.ancestor_id WHERE m.user_id = ? AND m.role = ?)"
        )
        clauses: list[str] = []
        params: list[Any] = []
        near = near_day()
        for case_type, role, scope, near_due, states in wait_states(roles):
            marks = ", ".join("?" * len(states))
            if scope == "case":
                place = f"(c.owner_id IN {reach} OR c.assignee_id IN {reach})"
                params += [case_type, *states, USER, role, USER, role]
            else:
                column = {"region": "c.region_id", "recipient": "c.recipient_id"}[scope]
                place = f"{column} IN {reach}"
                params += [case_type, *states, USER, role]
            if near_due:
                place += " AND c.due <= ?"
                params.append(near)
            clauses.append(f"(c.type = ? AND c.state IN ({marks}) AND {place})")
        self.inbox_where = " OR ".join(clauses) or "1 = 0"
        self.inbox_params = params

    def _q(self, sql: str, params: Any = ()) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()

    def overview(self, user_id: int, limit: int = OVERVIEW_LIMIT) -> Any:
        conn = self.conn
        conn.execute("BEGIN")
        try:
            total = conn.execute(
                "SELECT count(*) FROM cases WHERE type = 'knowledge_support'"
            ).fetchone()[0]
            supports = conn.execute(
                "SELECT id, state, title, kind, owner_id, version, published_version, due "
                "FROM cases WHERE type = 'knowledge_support' ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
            ids = [row[0] for row in supports]
            marks = ", ".join("?" * len(ids))
            adaptations = conn.execute(
                f"SELECT id, knowledge_support_id, region_id, state, due, lock_version "
                f"FROM cases WHERE type = 'regional_adaptation' "
                f"AND knowledge_support_id IN ({marks})",
                ids,
            ).fetchall()
            counts = conn.execute(
                f"SELECT knowledge_support_id, region_id, state, count(*) FROM cases "
                f"WHERE type = 'local_implementation' AND knowledge_support_id IN ({marks}) "
                f"GROUP BY knowledge_support_id, region_id, state",
                ids,
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        return {
            "ids": ids,
            "total": total,
            "adaptations": len(adaptations),
            "implementations": sum(row[3] for row in counts),
        }

    def inbox(self, user_id: int) -> Any:
        sql = self.inbox_where
        params = [user_id if p is USER else p for p in self.inbox_params]
        conn = self.conn
        conn.execute("BEGIN")
        try:
            total = conn.execute(f"SELECT count(*) FROM cases c WHERE {sql}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT c.id, c.type, c.state, c.due, c.owner_id, c.region_id FROM cases c "
                f"WHERE {sql} ORDER BY c.due IS NULL, c.due, c.id LIMIT {INBOX_LIMIT}",
                params,
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        return {"ids": [r[0] for r in rows], "total": total}

    OVERDUE_WHERE = """
        c.due < ? AND (
            c.type = 'knowledge_support'
            OR (c.type IN ('consultation_response', 'regional_adaptation')
                AND c.region_id IN (SELECT uc.ancestor_id FROM unit_closure uc
                    WHERE uc.descendant_id IN (SELECT unit_id FROM memberships WHERE user_id = ?)))
            OR c.owner_id IN (SELECT uc.descendant_id FROM unit_closure uc
                WHERE uc.ancestor_id IN (SELECT unit_id FROM memberships WHERE user_id = ?))
            OR c.assignee_id IN (SELECT uc.descendant_id FROM unit_closure uc
                WHERE uc.ancestor_id IN (SELECT unit_id FROM memberships WHERE user_id = ?))
            OR c.region_id IN (SELECT uc.descendant_id FROM unit_closure uc
                WHERE uc.ancestor_id IN (SELECT unit_id FROM memberships WHERE user_id = ?))
            OR (SELECT ks.owner_id FROM cases ks WHERE ks.id = c.knowledge_support_id) IN
                (SELECT uc.descendant_id FROM unit_closure uc
                WHERE uc.ancestor_id IN (SELECT unit_id FROM memberships WHERE user_id = ?)))
    """

    def overdue(self, user_id: int, today: str) -> Any:
        params = [today, user_id, user_id, user_id, user_id, user_id]
        conn = self.conn
        conn.execute("BEGIN")
        try:
            total = conn.execute(
                f"SELECT count(*) FROM cases c WHERE {self.OVERDUE_WHERE}", params
            ).fetchone()[0]
            rows = conn.execute(
                f"SELECT c.id, c.type, c.state, c.due, c.owner_id FROM cases c "
                f"WHERE {self.OVERDUE_WHERE} ORDER BY c.due, c.id LIMIT {OVERDUE_LIMIT}",
                params,
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        return {"ids": [r[0] for r in rows], "total": total}

    def history(self, user_id: int, ks_id: int) -> Any:
        rows = self._q(
            "SELECT e.id, e.case_id, e.trigger, e.from_state, e.to_state, e.actor, e.role, e.at, "
            "e.comment, e.params FROM case_events e "
            "WHERE e.case_id IN (SELECT id FROM cases WHERE id = ? OR knowledge_support_id = ?) "
            "ORDER BY e.id",
            (ks_id, ks_id),
        )
        return {"events": len(rows), "ids_sum": sum(r[0] for r in rows)}

    def close(self) -> None:
        self.conn.close()


# --- the worker ---------------------------------------------------------------------------------


def run(args: dict[str, Any]) -> dict[str, Any]:
    from kflow.calendar import local_date
    from kflow.db import utcnow

    url, tmp = args["url"], Path(args["tmp"])
    info = OrgInfo.from_json(args["org"])
    vgr = info.region("vgr")
    today = local_date(utcnow()).isoformat()
    kflow_q = KflowQueries(url, tmp)
    sql_q = SqlQueries(
        Path(url.removeprefix("sqlite:///"))
        if url.startswith("sqlite")
        else PgConnection(url.replace("postgresql+psycopg://", "postgresql://")),
        vgr["lead"],
    )
    ks_id, ks_chair = args["ks_id"], args["ks_chair"]
    calls: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "overview": (lambda: kflow_q.overview(vgr["lead"]), lambda: sql_q.overview(vgr["lead"])),
        "overview_same_page": (
            lambda: kflow_q.overview(vgr["lead"], args["same_page"]),
            lambda: sql_q.overview(vgr["lead"], args["same_page"]),
        ),
        "inbox": (lambda: kflow_q.inbox(vgr["lead"]), lambda: sql_q.inbox(vgr["lead"])),
        "overdue": (
            lambda: kflow_q.overdue(vgr["lead"], today),
            lambda: sql_q.overdue(vgr["lead"], today),
        ),
        "history": (
            lambda: kflow_q.history(ks_chair, ks_id),
            lambda: sql_q.history(ks_chair, ks_id),
        ),
        "history_pages": (
            lambda: kflow_q.history_pages(ks_chair, ks_id),
            lambda: sql_q.history(ks_chair, ks_id),
        ),
    }
    results: dict[str, Any] = {}
    try:
        for name, (kflow_call, sql_call) in calls.items():
            answer = kflow_call()
            began = time.perf_counter()
            twin = sql_call()
            slow_twin = time.perf_counter() - began > TWIN_BUDGET_S / TWIN_MIN_RUNS
            if answer != twin:
                raise AssertionError(f"{name}: kflow and SQL differ: {answer} != {twin}")
            for _ in range(args["warmup"]):
                kflow_call()
                if not slow_twin:  # a twin of seconds a call is warm after its first
                    sql_call()
            settle_heap()  # as `kflow serve` and the scheduler do after start-up
            kflow_s, sql_s = [], []
            for _ in range(args["runs"]):
                began = time.perf_counter()
                kflow_call()
                kflow_s.append(time.perf_counter() - began)
                if len(sql_s) >= TWIN_MIN_RUNS and sum(sql_s) > TWIN_BUDGET_S:
                    continue  # a twin of seconds a call: its first runs tell enough
                began = time.perf_counter()
                sql_call()
                sql_s.append(time.perf_counter() - began)
            k, s = summarize_ms(kflow_s), summarize_ms(sql_s)
            results[name] = {
                "kflow_p50_ms": k["p50_ms"],
                "kflow_p95_ms": k["p95_ms"],
                "sql_p50_ms": s["p50_ms"],
                "sql_p95_ms": s["p95_ms"],
                "runs": args["runs"],
                "twin_runs": len(sql_s),
                "answer": {
                    key: (len(value) if isinstance(value, list) else value)
                    for key, value in answer.items()
                },
            }
    finally:
        kflow_q.close()
        sql_q.close()
    return results


if __name__ == "__main__":
    worker_main(run)
