"""Nightly maintenance: refresh the query planner's statistics (SQLite keeps none by itself)."""

from __future__ import annotations

from kflow.db import analyze
from kflow.runtime import Runtime


def refresh_statistics(runtime: Runtime) -> None:
    """ANALYZE the database, on a connection and in a transaction of its own."""
    analyze(runtime.engine)
