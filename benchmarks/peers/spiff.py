"""SpiffWorkflow 3: a BPMN process of user tasks, serialised to JSON and stored in a row.

Each adaptation has a workflow (regional_adaptation_hold.bpmn: put_on_hold and resume in a
loop) stored as Spiff's JSON serialisation in ``spiff_workflows``, next to its state and
version. A click, in one transaction (stdlib sqlite3, BEGIN IMMEDIATE, prepared statements, the
same as the floor): read the row and the user, deserialise, complete the ready user task the
trigger names with the form data, run the engine steps, serialise, UPDATE the row guarded by
state and version, INSERT the history row into ``case_events``, COMMIT.

Spiff keeps every completed task of a loop in the tree, so a workflow's JSON grows with each
round; the clicks go round robin over all the adaptations, so each one sees only a few rounds in
a run (as a real case would).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from benchmarks.common import SQLITE_MODES, connection_pragmas
from benchmarks.peers.base import Conflict, history_time, move, sqlite_time

BPMN = Path(__file__).with_name("regional_adaptation_hold.bpmn")
PROCESS = "regional_adaptation_hold"
# The state a case is in, named by the user task that is ready in its workflow.
STATE_OF_READY = {"put_on_hold": "assessing", "resume": "on_hold"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS spiff_workflows (
    case_id INTEGER PRIMARY KEY REFERENCES cases (id),
    state VARCHAR(32) NOT NULL,
    lock_version INTEGER NOT NULL,
    workflow TEXT NOT NULL,
    updated_at DATETIME NOT NULL
)
"""
SELECT = "SELECT state, lock_version, workflow FROM spiff_workflows WHERE case_id = ?"
USER = "SELECT email FROM users WHERE id = ?"
UPDATE = (
    "UPDATE spiff_workflows SET state = ?, lock_version = lock_version + 1, workflow = ?, "
    "updated_at = ? WHERE case_id = ? AND state = ? AND lock_version = ?"
)
INSERT = (
    "INSERT INTO case_events (case_id, trigger, from_state, to_state, actor_id, actor, role, "
    "override, at, comment, params) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, NULL)"
)


class Spiff:
    def __init__(self, path: Path, mode: str, cases: list[dict[str, Any]]) -> None:
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.bpmn.parser import BpmnParser
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from SpiffWorkflow.util.task import TaskState

        self.conn = sqlite3.connect(path, isolation_level=None, cached_statements=64, timeout=30)
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={SQLITE_MODES[mode]}")
        parser = BpmnParser()
        parser.add_bpmn_file(str(BPMN))
        self.spec = parser.get_spec(PROCESS)
        self.serializer = BpmnWorkflowSerializer()
        self.workflow_class, self.ready = BpmnWorkflow, TaskState.READY
        # One workflow per adaptation, advanced to the state the case is in (before the clock).
        self.conn.execute(SCHEMA)
        self.conn.execute("BEGIN")
        for case in cases:
            workflow = BpmnWorkflow(self.spec)
            workflow.do_engine_steps()
            if case["state"] == "on_hold":
                self._complete(workflow, "put_on_hold", {"closed": False})
            self.conn.execute(
                "INSERT OR REPLACE INTO spiff_workflows VALUES (?, ?, ?, ?, ?)",
                (
                    case["id"],
                    case["state"],
                    case["lock_version"],
                    self.serializer.serialize_json(workflow),
                    sqlite_time(history_time()),
                ),
            )
        self.conn.execute("COMMIT")

    def _complete(self, workflow: Any, task_name: str, data: dict[str, Any]) -> str:
        """Complete the ready user task ``task_name``; return the state the workflow is now in."""
        ready = workflow.get_tasks(state=self.ready, manual=True)
        task = next((t for t in ready if t.task_spec.name == task_name), None)
        if task is None:
            raise Conflict(f"{task_name} is not ready")
        task.data.update(data)
        task.run()
        workflow.do_engine_steps()
        now_ready = workflow.get_tasks(state=self.ready, manual=True)
        return STATE_OF_READY[now_ready[0].task_spec.name]

    def click(self, case: dict[str, Any]) -> int:
        trigger, _dest, comment = move(case["state"])
        at = sqlite_time(history_time())
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(SELECT, (case["id"],)).fetchone()
            if row is None:
                raise LookupError(case["id"])
            state, version, blob = row
            if version != case["lock_version"]:
                raise Conflict(case["id"])
            (email,) = conn.execute(USER, (case["user_id"],)).fetchone()
            workflow = self.serializer.deserialize_json(blob)
            dest = self._complete(
                workflow, trigger, {"closed": False, "actor": email, "comment": comment}
            )
            cur = conn.execute(
                UPDATE,
                (dest, self.serializer.serialize_json(workflow), at, case["id"], state, version),
            )
            if cur.rowcount != 1:
                raise Conflict(case["id"])
            conn.execute(
                INSERT,
                (
                    case["id"],
                    trigger,
                    state,
                    dest,
                    case["user_id"],
                    email,
                    "coordinator",
                    at,
                    comment,
                ),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(version) + 1

    def pragmas(self) -> dict[str, str]:
        return connection_pragmas(self.conn)

    def observed(self, case_ids: list[int]) -> dict[str, Any]:
        marks = ",".join("?" * len(case_ids))
        rows = self.conn.execute(
            f"SELECT case_id, state, lock_version FROM spiff_workflows WHERE case_id IN ({marks})",
            case_ids,
        ).fetchall()
        history = self.conn.execute(
            f"SELECT count(*) FROM case_events WHERE trigger IN ('put_on_hold', 'resume') "
            f"AND case_id IN ({marks})",
            case_ids,
        ).fetchone()[0]
        sizes = self.conn.execute(
            f"SELECT avg(length(workflow)), max(length(workflow)) FROM spiff_workflows "
            f"WHERE case_id IN ({marks})",
            case_ids,
        ).fetchone()
        return {
            "cases": {str(i): [s, v] for i, s, v in rows},
            "history_rows": history,
            "workflow_json_bytes": {"mean": round(sizes[0] or 0), "max": sizes[1]},
        }

    def close(self) -> None:
        self.conn.close()
