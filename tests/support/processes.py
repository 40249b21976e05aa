"""Run the real `kflow` command against a committed test database, as a separate process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from kflow.runtime import Runtime
from tests.support.world import World

KFLOW = str(Path(sys.executable).parent / "kflow")


def cli_env(runtime: Runtime, **extra: str) -> dict[str, str]:
    """The environment of a kflow process on ``runtime``'s database (no KFLOW_* leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFLOW_")}
    env.update(
        KFLOW_DATABASE_URL=runtime.settings.resolved_database_url,
        KFLOW_ENVIRONMENT="development",
        KFLOW_SECRET_KEY="test",
        KFLOW_BASE_URL=runtime.settings.base_url,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def kflow(
    env: dict[str, str], *args: str, ok: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``kflow ARGS`` to completion; by default it must succeed."""
    done = subprocess.run(
        [KFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if ok:
        assert done.returncode == 0, f"kflow {' '.join(args)}: {done.stderr}"
    return done


def start_kflow(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [KFLOW, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@contextlib.contextmanager
def committed_world(runtime: Runtime) -> Iterator[World]:
    """A World built in, and committed to, ``runtime``'s own database; the block drives it."""
    session = runtime.sessions()
    try:
        world = World.build(session, runtime.settings)
        yield world
        session.commit()
    finally:
        session.close()
