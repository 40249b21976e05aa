"""The floors: the same effect in hand-written SQL with prepared statements.

raw_sqlite: stdlib sqlite3 (its statement cache prepares each statement once), BEGIN IMMEDIATE,
one guarded UPDATE and one INSERT, COMMIT. raw_postgresql: psycopg 3 with server-side prepared
statements, the same two statements, COMMIT. Neither loads the user or checks permissions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from benchmarks.common import SQLITE_MODES, connection_pragmas
from benchmarks.peers.base import CASE_TYPE, Conflict, history_time, move, sqlite_time

UPDATE = (
    "UPDATE cases SET state = {p}, lock_version = lock_version + 1, updated_at = {p} "
    "WHERE id = {p} AND type = {p} AND state = {p} AND lock_version = {p}"
)
INSERT = (
    "INSERT INTO case_events (case_id, trigger, from_state, to_state, actor_id, actor, role, "
    "override, at, comment, params) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {false}, {p}, {p}, "
    "NULL)"
)


def event_args(
    case: dict[str, Any], trigger: str, dest: str, at: Any, comment: str
) -> tuple[Any, ...]:
    """The history row's parameters for INSERT, in its column order."""
    return (
        case["id"], trigger, case["state"], dest, case["user_id"], case["email"], "coordinator",
        at, comment,
    )  # fmt: skip


def observed_rows(rows: list[tuple[int, str, int]], history: int) -> dict[str, Any]:
    return {"cases": {str(i): [s, v] for i, s, v in rows}, "history_rows": history}


class RawSqlite:
    def __init__(self, path: Path, mode: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, cached_statements=64, timeout=30)
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={SQLITE_MODES[mode]}")
        self.update = UPDATE.format(p="?")
        self.insert = INSERT.format(p="?", false="0")

    def click(self, case: dict[str, Any]) -> int:
        trigger, dest, comment = move(case["state"])
        at = sqlite_time(history_time())
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                self.update,
                (dest, at, case["id"], CASE_TYPE, case["state"], case["lock_version"]),
            )
            if cur.rowcount != 1:
                raise Conflict(case["id"])
            conn.execute(self.insert, event_args(case, trigger, dest, at, comment))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(case["lock_version"]) + 1

    def pragmas(self) -> dict[str, str]:
        return connection_pragmas(self.conn)

    def observed(self, case_ids: list[int]) -> dict[str, Any]:
        marks = ",".join("?" * len(case_ids))
        rows = self.conn.execute(
            f"SELECT id, state, lock_version FROM cases WHERE id IN ({marks})", case_ids
        ).fetchall()
        history = self.conn.execute(
            f"SELECT count(*) FROM case_events WHERE trigger IN ('put_on_hold', 'resume') "
            f"AND case_id IN ({marks})",
            case_ids,
        ).fetchone()[0]
        return observed_rows(rows, history)

    def close(self) -> None:
        self.conn.close()


class RawPostgres:
    def __init__(self, dsn: str) -> None:
        import psycopg

        self.conn = psycopg.connect(dsn, autocommit=False, prepare_threshold=0)
        self.update = UPDATE.format(p="%s")
        self.insert = INSERT.format(p="%s", false="false")

    def click(self, case: dict[str, Any]) -> int:
        trigger, dest, comment = move(case["state"])
        at = history_time()
        conn = self.conn
        try:
            cur = conn.execute(
                self.update,
                (dest, at, case["id"], CASE_TYPE, case["state"], case["lock_version"]),
                prepare=True,
            )
            if cur.rowcount != 1:
                raise Conflict(case["id"])
            conn.execute(self.insert, event_args(case, trigger, dest, at, comment), prepare=True)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return int(case["lock_version"]) + 1

    def pragmas(self) -> dict[str, str]:
        return {}

    def observed(self, case_ids: list[int]) -> dict[str, Any]:
        rows = self.conn.execute(
            "SELECT id, state, lock_version FROM cases WHERE id = ANY(%s)", (case_ids,)
        ).fetchall()
        history = self.conn.execute(
            "SELECT count(*) FROM case_events WHERE trigger IN ('put_on_hold', 'resume') "
            "AND case_id = ANY(%s)",
            (case_ids,),
        ).fetchone()
        self.conn.rollback()
        return observed_rows(rows, history[0] if history else 0)

    def close(self) -> None:
        self.conn.close()
