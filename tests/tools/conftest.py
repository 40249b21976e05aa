"""Fixtures of the tools tests: empty databases for `kflow export` / `kflow import` to fill."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

import tests.conftest as conftest
from kflow.db import make_engine
from kflow.tools.migrate import upgrade


class Databases:
    """Empty databases of either engine, made for this module and dropped afterwards."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.engines: list[Engine] = []
        self.pg_names: list[str] = []

    def url(self, backend: str, label: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self.tmp / f'{label}-{uuid.uuid4().hex[:8]}.db'}"
        admin = conftest._pg_admin_engine()
        if admin is None:
            pytest.skip(conftest._pg_problem or "PostgreSQL unavailable")
        name = f"kflow_backup_{label}_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        self.pg_names.append(name)
        return conftest.PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def migrated(self, backend: str, label: str) -> Engine:
        """A database that `kflow db upgrade` has just created: the schema, no rows."""
        engine = make_engine(self.url(backend, label))
        self.engines.append(engine)
        upgrade(engine)
        return engine

    def drop(self) -> None:
        for engine in self.engines:
            engine.dispose()
        if self.pg_names:
            admin = conftest._pg_admin_engine()
            assert admin is not None
            with admin.connect() as conn:
                for name in self.pg_names:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


@pytest.fixture(scope="module")
def databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Databases]:
    """Empty databases for one test module (a folder of its own, named after the module)."""
    found = Databases(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    yield found
    found.drop()
