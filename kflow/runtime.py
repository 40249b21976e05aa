"""The pieces every entry point (web, CLI, scheduler) shares: settings, engine, sessions."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kflow.config import Settings, load_settings
from kflow.db import begin_write, make_engine, make_sessionmaker


@dataclasses.dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def create(cls, settings: Settings | None = None) -> Runtime:
        settings = settings or load_settings()
        url = settings.resolved_database_url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
        return cls(settings, engine, make_sessionmaker(engine))

    @contextlib.contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        session = self.sessions()
        try:
            if write:
                begin_write(session)
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
