"""Fixtures: every database test runs on SQLite and on PostgreSQL.

Each test run gets databases of its own (a temporary SQLite file and a freshly created
PostgreSQL database, dropped at the end), built by running the real migrations and loading the
reference organisation. Each test runs inside a transaction that is rolled back afterwards;
code under test may commit (it commits a savepoint). Tests that need real commits across
processes use the ``committed_runtime`` fixture instead.

PostgreSQL is found at KFLOW_TEST_POSTGRES_URL (default: postgres@127.0.0.1:5432, trust auth).
If it cannot be reached the PostgreSQL half is skipped, with the reason shown in the summary.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kflow.config import Settings, load_settings
from kflow.db import make_engine
from kflow.runtime import Runtime
from kflow.tools.migrate import upgrade
from kflow.tools.seed import seed
from tests.support.api_support import Api
from tests.support.ui_support import Ui
from tests.support.world import World

PG_ADMIN_URL = os.environ.get(
    "KFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgresql"]
TEST_ATTACHMENTS = Path(tempfile.gettempdir()) / f"kflow-test-attachments-{os.getpid()}"
_pg_problem: str | None = None


def make_settings(**overrides: Any) -> Settings:
    """Settings that ignore the developer's own KFLOW_* environment."""
    base: dict[str, Any] = {"environment": "development", "secret_key": "test"}
    # Attachments never land in the working tree's instance/ folder.
    base["attachments"] = {"dir": str(TEST_ATTACHMENTS)}
    base.update(overrides)
    return load_settings(environ={}, overrides=base)


def _pg_admin_engine() -> Engine | None:
    global _pg_problem
    if _pg_problem is not None:
        return None
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        _pg_problem = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc.orig).strip()[:200]}"
        engine.dispose()
        return None
    return engine


class Database:
    """A migrated, seeded database of one backend, created for this test run."""

    def __init__(self, backend: str, tmp: Path) -> None:
        self.backend = backend
        self._admin: Engine | None = None
        if backend == "sqlite":
            self.url = f"sqlite:///{tmp / 'kflow-test.db'}"
        else:
            self._admin = _pg_admin_engine()
            if self._admin is None:
                pytest.skip(_pg_problem or "PostgreSQL unavailable")
            self.name = f"kflow_test_{uuid.uuid4().hex[:12]}"
            with self._admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
            self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.name}"
        self.engine = make_engine(self.url)
        upgrade(self.engine)
        settings = make_settings(database_url=self.url)
        with Session(self.engine) as session, session.begin():
            seed(session, settings.organisation_path)

    def new_database(self, label: str) -> str:
        """Another empty database of this backend (for tests that need their own)."""
        if self.backend == "sqlite":
            path = (
                Path(self.url.removeprefix("sqlite:///")).parent
                / f"{label}-{uuid.uuid4().hex[:8]}.db"
            )
            return f"sqlite:///{path}"
        assert self._admin is not None
        name = f"{self.name}_{label}_{uuid.uuid4().hex[:6]}"
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop(self) -> None:
        self.engine.dispose()
        if self._admin is not None:
            with self._admin.connect() as conn:
                names = conn.execute(
                    sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                    {"p": f"{self.name}%"},
                ).scalars()
                for name in list(names):
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._admin.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``only_on("postgresql")`` (a PostgreSQL trigger, say) runs on that engine
    only: its run on the other engine is deselected, not reported as a skip."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("only_on")
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database") if callspec else None
        if marker is not None and backend is not None and backend != marker.args[0]:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    db = Database(request.param, tmp_path_factory.mktemp(request.param))
    yield db
    db.drop()


@pytest.fixture
def connection(database: Database) -> Iterator[sa.Connection]:
    with database.engine.connect() as conn:
        outer = conn.begin()
        yield conn
        if outer.is_active:
            outer.rollback()


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def runtime(connection: sa.Connection, database: Database, settings: Settings) -> Runtime:
    """A Runtime whose sessions all join the test's rolled-back transaction."""
    sessions = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    return Runtime(settings.replace(database_url=database.url), database.engine, sessions)


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    with runtime.sessions() as s:
        yield s


@pytest.fixture
def committed_runtime(database: Database, settings: Settings) -> Iterator[Runtime]:
    """A Runtime on a fresh, migrated and seeded database of its own that really commits."""
    url = database.new_database("own")
    rt = Runtime.create(settings.replace(database_url=url))
    upgrade(rt.engine)
    with rt.transaction() as s:
        seed(s, rt.settings.organisation_path)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def world(session: Session, settings: Settings) -> World:
    """A small organisation with a user for every role (see tests/support/world.py)."""
    return World.build(session, settings)


@pytest.fixture
def ui(runtime: Runtime, world: World) -> Ui:
    """The web UI through Flask's test client, as the users of the world."""
    return Ui(runtime, world)


@pytest.fixture
def api(runtime: Runtime, world: World) -> Api:
    """The JSON API over HTTP, as the users of the world (each gets a token on first use)."""
    return Api(runtime, world)
